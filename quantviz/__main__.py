"""``python -m quantviz``: the same as the ``quantviz`` command."""

import sys

from quantviz.cli import main

sys.exit(main())

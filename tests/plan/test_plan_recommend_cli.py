"""``quantviz plan recommend``: a plan file from the analysis' recommendations."""

import pytest

from quantviz.analysis.pipeline import AnalysisSettings, analyze_model
from quantviz.analysis.recommend import recommended_layer_settings
from quantviz.cli import main
from quantviz.model import load_model, save_random_model
from quantviz.plan import PrecisionPlan

SMALL = AnalysisSettings(samples=4, seq_len=16, batch_size=2, sensitivity_samples=1)


@pytest.fixture(scope="module")
def llama_folder(tmp_path_factory):
    return save_random_model("llama", tmp_path_factory.mktemp("models") / "llama", seed=4)


@pytest.fixture(scope="module")
def analysis_file(llama_folder, tmp_path_factory):
    analysis = analyze_model(load_model(str(llama_folder)), SMALL)
    return analysis, analysis.save(tmp_path_factory.mktemp("analysis") / "analysis.json")


def test_recommend_from_analysis_file(tmp_path, llama_folder, analysis_file, capsys):
    analysis, path = analysis_file
    out = tmp_path / "plan.json"
    code = main(
        ["plan", "recommend", str(llama_folder), "--analysis", str(path), "--out", str(out), "-q"]
    )
    assert code == 0
    printed = capsys.readouterr()
    settings = recommended_layer_settings(analysis)
    assert f"{len(settings)} layers set from the recommendations" in printed.out
    assert "warning" not in printed.err
    plan = PrecisionPlan.load(out)
    assert plan.model["spec"] == str(llama_folder)
    assert sorted(plan.overrides) == sorted(settings)
    labels = {"float": "float", "fp8_e4m3": "fp8_e4m3", "int8_channel": "int8_sym/ch"}
    for name, item in settings.items():
        assert plan.resolve(name).weight.label == labels[item.choice]


def test_recommend_analyses_when_no_file(tmp_path, llama_folder, capsys):
    out = tmp_path / "plan.json"
    args = ["plan", "recommend", str(llama_folder), "--out", str(out)]
    assert main([*args, "--sensitivity-samples", "0", "-q"]) == 0
    plan = PrecisionPlan.load(out)
    names = [info.name for info in load_model(str(llama_folder)).layers]
    assert sorted(plan.overrides) == sorted(names)
    assert "wrote" in capsys.readouterr().out


def test_recommend_warns_for_other_weights(tmp_path, analysis_file, capsys):
    _, path = analysis_file
    other = save_random_model("llama", tmp_path / "other", seed=9)
    out = tmp_path / "plan.json"
    assert main(["plan", "recommend", str(other), "--analysis", str(path), "--out", str(out)]) == 0
    assert "made for other weights" in capsys.readouterr().err


def test_recommend_needs_out(llama_folder, capsys):
    with pytest.raises(SystemExit) as error:
        main(["plan", "recommend", str(llama_folder)])
    assert error.value.code == 2
    assert "--out" in capsys.readouterr().err

import json

import pytest
import torch
from safetensors.torch import save_file

from quantviz.analysis.pipeline import (
    AnalysisSettings,
    ModelAnalysis,
    analyze_model,
    analyze_weights_file,
)
from quantviz.analysis.sensitivity import measure_sensitivity
from quantviz.errors import Cancelled, QuantvizError
from quantviz.model.calibration import calibrate
from quantviz.model.data import load_texts, make_batches
from quantviz.progress import CancelToken

SMALL = AnalysisSettings(samples=4, seq_len=16, batch_size=2, sensitivity_samples=1)


@pytest.fixture(scope="module")
def llama_analysis(tiny_llama):
    return analyze_model(tiny_llama, SMALL)


def test_every_layer_reported(tiny_llama, llama_analysis):
    assert [r.name for r in llama_analysis.layers] == [i.name for i in tiny_llama.layers]
    for report in llama_analysis.layers:
        assert report.input is not None
        assert report.sensitivity is not None
        assert report.recommendation.choice in {"fp8_e4m3", "int8_channel", "float"}
        assert report.recommendation.reason


def test_analysis_json_round_trip(llama_analysis, tmp_path):
    path = llama_analysis.save(tmp_path / "analysis.json")
    restored = ModelAnalysis.load(path)
    assert restored.to_dict() == json.loads(path.read_text())
    first = restored.layers[0]
    assert first.weight.sqnr("int8_sym_channel") == pytest.approx(
        llama_analysis.layers[0].weight.sqnr("int8_sym_channel")
    )


def test_newer_analysis_version_rejected(llama_analysis, tmp_path):
    data = llama_analysis.to_dict()
    data["version"] = 99
    path = tmp_path / "future.json"
    path.write_text(json.dumps(data))
    with pytest.raises(QuantvizError, match="version 99 is newer"):
        ModelAnalysis.load(path)


def test_sensitivity_grows_with_coarser_format(tiny_llama):
    batches = make_batches(
        tiny_llama.tokenizer, load_texts(), seq_len=16, num_samples=2, batch_size=2
    )
    calibration = calibrate(tiny_llama, batches)
    name = tiny_llama.layers[0].name
    int8 = measure_sensitivity(tiny_llama, calibration, batches, layers=[name])[name]
    e5m2 = measure_sensitivity(
        tiny_llama, calibration, batches, layers=[name], weight_candidate="fp8_e5m2_tensor"
    )[name]
    assert int8.weights > 0
    assert e5m2.weights > int8.weights


def test_sensitivity_restores_weights(tiny_llama):
    before = {k: v.clone() for k, v in tiny_llama.module.state_dict().items()}
    analyze_model(tiny_llama, SMALL)
    after = tiny_llama.module.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_cancel_during_analysis(tiny_llama):
    token = CancelToken()

    def progress(event):
        if event.stage == "calibration":
            token.cancel()

    with pytest.raises(Cancelled):
        analyze_model(tiny_llama, SMALL, progress=progress, cancel=token)


def test_encoder_sensitivity_uses_cosine(tiny_bert):
    analysis = analyze_model(tiny_bert, SMALL)
    assert analysis.layers[0].sensitivity.metric == "cosine_loss"
    assert analysis.layers[0].sensitivity.perplexity_change is None


def test_weights_file_streaming(tmp_path):
    torch.manual_seed(0)
    tensors = {
        "a.weight": torch.randn(16, 8),
        "b.weight": torch.randn(4, 16),
        "norm.weight": torch.ones(16),
    }
    path = tmp_path / "model.safetensors"
    save_file(tensors, str(path))
    analysis = analyze_weights_file(path)
    assert [r.name for r in analysis.layers] == ["a", "b"]
    assert analysis.layers[0].input is None
    assert analysis.layers[1].weight.shape == [4, 16]

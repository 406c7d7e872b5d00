"""Loading with accelerate's device_map: disk offload, calibration and weight analysis on it.

The model is a random 4-layer Llama (hidden size 32, about 4 MB in float32, most of it the
embedding) saved as safetensors. ``max_memory`` leaves CPU room for the embedding and two
decoder layers, so accelerate offloads the other layers to disk.
"""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from quantviz.analysis.pipeline import AnalysisSettings, analyze_model
from quantviz.cli import main
from quantviz.errors import QuantvizError, QuantvizWarning
from quantviz.model import get_module, load_model, load_texts, make_batches, save_random_model
from quantviz.model.calibration import calibrate
from quantviz.model.offload import is_offloaded, offloaded_modules, read_parameter
from quantviz.plan import TensorConfig, uniform_plan
from quantviz.qat import QATConfig, QATTrainer

NUM_LAYERS = 4


@pytest.fixture(scope="module")
def llama_folder(tmp_path_factory) -> Path:
    return save_random_model(
        "llama", tmp_path_factory.mktemp("llama"), num_hidden_layers=NUM_LAYERS
    )


@pytest.fixture(scope="module")
def in_memory(llama_folder):
    return load_model(str(llama_folder))


@pytest.fixture(scope="module")
def cpu_budget(in_memory) -> int:
    """Bytes of CPU memory for the embedding and about two decoder layers."""
    model = in_memory.module.model
    embedding = model.embed_tokens.weight.numel() * 4
    layer = sum(parameter.numel() for parameter in model.layers[0].parameters()) * 4
    # accelerate keeps room for the largest layer besides the modules it places on CPU.
    return embedding + 3 * layer


@pytest.fixture(scope="module")
def offloaded(llama_folder, cpu_budget, tmp_path_factory):
    return load_model(
        str(llama_folder),
        device_map="auto",
        max_memory={"cpu": cpu_budget},
        offload_folder=tmp_path_factory.mktemp("offload"),
    )


@pytest.fixture(scope="module")
def batches(in_memory):
    return make_batches(in_memory.tokenizer, load_texts(), seq_len=32, num_samples=4, batch_size=2)


def disk_layers(loaded) -> list[str]:
    """The quantizable layers whose weights accelerate put on disk."""
    offloaded = set(offloaded_modules(loaded.module))
    return [info.name for info in loaded.layers if info.name in offloaded]


def test_offload_puts_layers_on_disk(offloaded):
    placement = offloaded.device_map
    assert placement is not None
    assert "disk" in placement.values()
    assert "cpu" in placement.values()
    on_disk = disk_layers(offloaded)
    assert on_disk, "accelerate offloaded no quantizable layer"
    assert len(on_disk) < len(offloaded.layers), "accelerate offloaded every layer"
    assert is_offloaded(offloaded.module)
    weight = get_module(offloaded.module, on_disk[0]).weight
    assert weight.device.type == "meta"


def test_offload_keeps_layer_discovery(offloaded, in_memory):
    assert [info.to_dict() for info in offloaded.layers] == [
        info.to_dict() for info in in_memory.layers
    ]


def test_offloaded_weight_reads_from_checkpoint(offloaded, llama_folder):
    name = disk_layers(offloaded)[-1]
    stored = load_file(llama_folder / "model.safetensors")[f"{name}.weight"]
    value = read_parameter(get_module(offloaded.module, name))
    assert value.device.type == "cpu"
    assert torch.equal(value, stored)


def test_offload_calibration_matches_in_memory(offloaded, in_memory, batches):
    expected = calibrate(in_memory, batches)
    actual = calibrate(offloaded, batches)
    assert actual.tokens == expected.tokens
    assert set(actual.layers) == set(expected.layers)
    on_disk = disk_layers(offloaded)
    for name in on_disk:
        got, want = actual.layers[name], expected.layers[name]
        assert got.shared_input == want.shared_input, name
        assert got.input.tokens == want.input.tokens, name
        torch.testing.assert_close(got.input.channel_absmax, want.input.channel_absmax)
        torch.testing.assert_close(got.input.histogram.hist, want.input.histogram.hist)
        assert got.input.moments.s2 == pytest.approx(want.input.moments.s2, rel=1e-6), name
        torch.testing.assert_close(
            got.input.qparams("int8_sym_tensor").scale,
            want.input.qparams("int8_sym_tensor").scale,
        )
        torch.testing.assert_close(got.output.channel_absmax, want.output.channel_absmax)


def test_offload_analysis_matches_in_memory(offloaded, in_memory):
    settings = AnalysisSettings(samples=4, seq_len=32, batch_size=2, sensitivity_samples=0)
    expected = analyze_model(in_memory, settings)
    actual = analyze_model(offloaded, settings)
    on_disk = set(disk_layers(offloaded))
    checked = 0
    for got, want in zip(actual.layers, expected.layers, strict=True):
        assert got.name == want.name
        for candidate in ("int8_sym_channel", "fp8_e4m3_tensor"):
            assert got.weight.sqnr(candidate) == pytest.approx(want.weight.sqnr(candidate))
        assert got.input.sqnr("int8_sym_tensor") == pytest.approx(
            want.input.sqnr("int8_sym_tensor")
        )
        assert got.recommendation.choice == want.recommendation.choice
        checked += got.name in on_disk
    assert checked == len(on_disk)


def test_offload_sensitivity_is_rejected(offloaded):
    settings = AnalysisSettings(samples=2, seq_len=32, batch_size=2, sensitivity_samples=1)
    with pytest.raises(QuantvizError, match=r"sensitivity_samples=0"):
        analyze_model(offloaded, settings)


def test_offload_qat_is_rejected(offloaded):
    plan = uniform_plan(TensorConfig("int8_sym", "channel"), TensorConfig("float"))
    with pytest.raises(QuantvizError, match=r"QAT changes weights in place.*without device_map"):
        QATTrainer(offloaded, plan, QATConfig(steps=1, seq_len=16), train_texts=["a b c"])


def test_offload_apply_plan_is_rejected(offloaded):
    from quantviz.apply import apply_plan

    plan = uniform_plan(TensorConfig("int8_sym", "channel"), TensorConfig("float"))
    with pytest.raises(QuantvizError, match=r"Applying a plan changes weights in place"):
        apply_plan(offloaded, plan)


def test_offloaded_nan_weight_is_warned(in_memory, cpu_budget, tmp_path):
    in_memory.module.save_pretrained(tmp_path)
    in_memory.tokenizer.save_pretrained(tmp_path)
    tensors = load_file(tmp_path / "model.safetensors")
    name = f"model.layers.{NUM_LAYERS - 1}.mlp.up_proj.weight"
    tensors[name][0, 0] = float("nan")
    save_file(tensors, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    with pytest.warns(QuantvizWarning, match=rf"{name}: 1 NaN, 0 inf"):
        loaded = load_model(str(tmp_path), device_map="auto", max_memory={"cpu": cpu_budget})
    assert get_module(loaded.module, name.removesuffix(".weight")).weight.device.type == "meta"


def test_device_map_cpu_only_records_nothing(llama_folder):
    loaded = load_model(str(llama_folder), device_map="auto", max_memory={"cpu": "1GiB"})
    assert loaded.device_map is None
    assert not is_offloaded(loaded.module)


# --- Sources and options that device_map does not apply to -------------------------------------


def test_device_map_rejects_gguf():
    with pytest.raises(QuantvizError, match=r"device_map cannot be used with the GGUF file"):
        load_model("sample:smollm2", device_map="auto")


def test_device_map_rejects_random_model():
    with pytest.raises(QuantvizError, match=r"random model 'random:llama'.*save_random_model"):
        load_model("random:llama", device_map="auto")


def test_device_map_rejects_pickle_file(in_memory, tmp_path):
    in_memory.config.save_pretrained(tmp_path)
    torch.save(in_memory.module.state_dict(), tmp_path / "weights.pt")
    with pytest.raises(QuantvizError, match=r"pickle file .*weights\.pt"):
        load_model(str(tmp_path / "weights.pt"), device_map="auto")


def test_device_map_rejects_pickle_folder(in_memory, tmp_path):
    in_memory.config.save_pretrained(tmp_path)
    torch.save(in_memory.module.state_dict(), tmp_path / "pytorch_model.bin")
    with pytest.raises(QuantvizError, match=r"pickle file pytorch_model\.bin"):
        load_model(str(tmp_path), device_map="auto")


def test_device_map_rejects_single_safetensors_file(llama_folder):
    with pytest.raises(QuantvizError, match=r"single weights file .*Open the folder"):
        load_model(str(llama_folder / "model.safetensors"), device_map="auto")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_memory": {"cpu": "1GiB"}}, r"max_memory applies only together with device_map"),
        ({"offload_folder": "off"}, r"offload_folder applies only together with device_map"),
        ({"device_map": 3}, r"device_map=3 is invalid"),
        pytest.param(
            {"device_map": "cuda"},
            r"device_map 'cuda' cannot be used",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available"),
        ),
        ({"device_map": "auto", "max_memory": {"cpu": "lots"}}, r"max_memory\['cpu'\] = 'lots'"),
        ({"device_map": "auto", "max_memory": {"cpu": -5}}, r"max_memory\['cpu'\] = -5"),
    ],
)
def test_invalid_placement_options(llama_folder, options, message):
    with pytest.raises(QuantvizError, match=message):
        load_model(str(llama_folder), **options)


# --- CLI ------------------------------------------------------------------------------------


def test_cli_analyze_with_disk_offload(llama_folder, cpu_budget, tmp_path, capsys):
    out_dir = tmp_path / "out"
    code = main(
        [
            "analyze",
            str(llama_folder),
            "--device-map",
            "auto",
            "--max-memory",
            f"cpu={cpu_budget}",
            "--offload-folder",
            str(tmp_path / "offload"),
            "--samples",
            "4",
            "--seq-len",
            "32",
            "--batch-size",
            "2",
            "--out",
            str(out_dir),
            "--no-report",
            "-q",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    data = json.loads((out_dir / "analysis.json").read_text())
    assert len(data["layers"]) == 7 * NUM_LAYERS
    assert all(layer["input"] is not None for layer in data["layers"])
    assert all(layer["sensitivity"] is None for layer in data["layers"])
    assert data["settings"]["sensitivity_samples"] == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--max-memory", "cpu"], "--max-memory 'cpu' is invalid; write DEVICE=SIZE"),
        (["--weights-only"], "do not apply with --weights-only"),
        (["--sensitivity-samples", "1"], "Pass sensitivity_samples=0"),
    ],
)
def test_cli_analyze_offload_errors(llama_folder, cpu_budget, tmp_path, capsys, extra, message):
    code = main(
        [
            "analyze",
            str(llama_folder),
            "--device-map",
            "auto",
            "--max-memory",
            f"cpu={cpu_budget}",
            *extra,
            "--out",
            str(tmp_path / "out"),
            "-q",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err

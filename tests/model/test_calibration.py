import math

import pytest
import torch

from quantviz.analysis.candidates import ACTIVATION_CANDIDATES
from quantviz.errors import Cancelled, QuantvizError
from quantviz.model.calibration import (
    ActivationRecorder,
    CalibrationSettings,
    TokenContext,
    calibrate,
)
from quantviz.model.data import load_texts, make_batches
from quantviz.model.layers import get_module
from quantviz.progress import CancelToken
from quantviz.quant import QuantSpec, qparams_from_range
from quantviz.quant.scratch import Workspace


def _batches(loaded, samples=4, seq_len=16, batch_size=2):
    return make_batches(
        loaded.tokenizer, load_texts(), seq_len=seq_len, num_samples=samples, batch_size=batch_size
    )


def test_minmax_scale_matches_recorded_inputs(tiny_llama):
    batches = _batches(tiny_llama)
    name = tiny_llama.layers[-1].name
    seen = []
    handle = get_module(tiny_llama.module, name).register_forward_hook(
        lambda module, args, output: seen.append(args[0].detach().clone())
    )
    try:
        result = calibrate(tiny_llama, batches)
    finally:
        handle.remove()
    everything = torch.cat([s.reshape(-1) for s in seen])
    expected = qparams_from_range(everything.min(), everything.max(), QuantSpec("int8"))
    assert result.input_qparams(name, "int8_sym_tensor").scale.item() == pytest.approx(
        expected.scale.item(), rel=1e-6
    )
    assert result.layers[name].input.tokens == 4 * 16


def test_query_key_value_share_one_recorder(tiny_bert):
    result = calibrate(tiny_bert, _batches(tiny_bert))
    query = result.layers["encoder.layer.0.attention.self.query"]
    key = result.layers["encoder.layer.0.attention.self.key"]
    assert key.shared_input == "encoder.layer.0.attention.self.query"
    assert key.input is query.input


def test_state_does_not_grow_with_batches(tiny_llama):
    few = calibrate(tiny_llama, _batches(tiny_llama, samples=2, batch_size=1))
    many = calibrate(tiny_llama, _batches(tiny_llama, samples=12, batch_size=1))
    assert many.batches == 6 * few.batches
    assert many.state_bytes() == few.state_bytes()


def test_padding_tokens_are_left_out(tiny_llama):
    batch = _batches(tiny_llama, samples=2, batch_size=2)[0]
    batch["attention_mask"][1, 8:] = 0
    result = calibrate(tiny_llama, [batch])
    recorder = result.layers[tiny_llama.layers[0].name].input
    assert recorder.tokens == 16 + 8


def test_mask_fill_values_do_not_poison_statistics():
    recorder = ActivationRecorder(4, ACTIVATION_CANDIDATES, sample_tokens=2)
    x = torch.randn(1, 6, 4)
    x[0, 2, 1] = torch.finfo(torch.float32).min
    x[0, 3, 0] = float("nan")
    recorder.update(x, TokenContext())
    assert recorder.fill == 1
    assert recorder.nan == 1
    scale = recorder.qparams("int8_sym_tensor").scale.item()
    finite = x[torch.isfinite(x) & (x.abs() < 1e30)]
    assert scale == pytest.approx(finite.abs().max().item() / 127, rel=1e-6)
    assert math.isfinite(recorder.moments.kurtosis)
    assert recorder.moments.count == 22


def test_top_tokens_point_at_largest_values():
    recorder = ActivationRecorder(3, ())
    x = torch.zeros(2, 5, 3)
    x[1, 4, 2] = 9.0
    ids = torch.arange(10).reshape(2, 5)
    recorder.update(x, TokenContext(input_ids=ids, first_sequence=10))
    top = recorder.top_token_records()[0]
    assert top == {"absmax": 9.0, "sequence": 11, "position": 4, "token_id": 9, "channel": 2}
    assert recorder.beyond_threshold == 1


def test_cancel_stops_and_removes_hooks(tiny_llama):
    token = CancelToken()
    events = []

    def progress(event):
        events.append(event)
        if event.step == 1:
            token.cancel()

    with pytest.raises(Cancelled):
        calibrate(
            tiny_llama,
            _batches(tiny_llama, samples=4, batch_size=1),
            progress=progress,
            cancel=token,
        )
    hooks = sum(len(m._forward_hooks) for m in tiny_llama.module.modules())
    assert hooks == 0
    assert [e.step for e in events] == [0, 1]


def test_empty_batches_rejected(tiny_llama):
    with pytest.raises(QuantvizError, match="no calibration batches"):
        calibrate(tiny_llama, [])


def test_unknown_observer_rejected():
    with pytest.raises(QuantvizError, match="unknown observer 'median'"):
        CalibrationSettings(observer="median")


@pytest.mark.parametrize("observer", ["minmax", "moving_average", "percentile", "mse", "entropy"])
def test_every_observer_calibrates(tiny_llama, observer):
    result = calibrate(
        tiny_llama, _batches(tiny_llama, samples=2), CalibrationSettings(observer=observer)
    )
    scale = result.input_qparams(tiny_llama.layers[0].name, "fp8_e4m3_tensor").scale
    assert torch.isfinite(scale).all()
    assert (scale > 0).all()


def _recorder_batches():
    generator = torch.Generator().manual_seed(0)
    batches = []
    for step in range(4):
        x = torch.randn(2, 6, 5, generator=generator) * (4.0 if step == 2 else 1.0)
        if step == 1:
            x[0, 2, 1] = float("nan")
            x[1, 3, 0] = torch.finfo(torch.float32).min
            x[1, 1, 4] = float("inf")
        if step == 3:
            x[0, 4, 2] = 7.5
        valid = torch.ones(2, 6, dtype=torch.bool)
        valid[1, 5] = step != 0
        ids = torch.arange(12).reshape(2, 6)
        batches.append((x, TokenContext(input_ids=ids, valid=valid, first_sequence=2 * step)))
    return batches


def _recorder_state(recorder):
    moments = recorder.moments
    return {
        "tokens": recorder.tokens,
        "counts": (recorder.nan, recorder.inf, recorder.fill, moments.count),
        "sums": (moments.s1, moments.s2, moments.s3, moments.s4),
        "channel_absmax": recorder.channel_absmax.tolist(),
        "beyond_threshold": recorder.beyond_threshold,
        "top_tokens": sorted(recorder.top_tokens),
        "histogram": None if recorder.light else recorder.histogram.hist.tolist(),
        "sample": None if recorder.sample is None else recorder.sample.tolist(),
    }


@pytest.mark.parametrize("light", [False, True])
def test_shared_workspace_records_same_statistics(light):
    alone = ActivationRecorder(5, ACTIVATION_CANDIDATES, sample_tokens=3, light=light)
    shared = ActivationRecorder(
        5, ACTIVATION_CANDIDATES, sample_tokens=3, light=light, workspace=Workspace()
    )
    for x, context in _recorder_batches():
        alone.update(x, context)
        shared.update(x, context)
    assert _recorder_state(shared) == _recorder_state(alone)


def test_recorded_statistics_match_direct_computation():
    recorder = ActivationRecorder(5, ACTIVATION_CANDIDATES, workspace=Workspace())
    output = ActivationRecorder(5, light=True)
    rows = []
    for x, context in _recorder_batches():
        recorder.update(x, context)
        output.update(x, context)
        rows.append(x[context.valid])
    # NaN, inf and the mask fill value are left out of every statistic.
    values = torch.cat(rows)
    valid = values.isfinite() & (values.abs() < 1e30)
    valid_values = values[valid]
    assert recorder.beyond_threshold == int((valid_values.abs() >= 6.0).sum())
    assert recorder.moments.count == valid_values.numel()
    assert output.moments.count == valid_values.numel()
    assert recorder.moments.mean == pytest.approx(valid_values.double().mean().item(), rel=1e-6)
    expected_variance = valid_values.double().var(correction=0).item()
    assert recorder.moments.variance == pytest.approx(expected_variance, rel=1e-6)
    assert (output.nan, output.inf, output.fill) == (1, 1, 1)
    channel_absmax = torch.where(valid, values, 0.0).abs().amax(dim=0)
    assert torch.equal(output.channel_absmax, channel_absmax)
    assert torch.equal(recorder.channel_absmax, channel_absmax)


def test_calibration_skips_logits_of_earlier_positions(tiny_llama):
    batches = _batches(tiny_llama)
    head = tiny_llama.module.get_output_embeddings()
    positions = []
    handle = head.register_forward_hook(
        lambda module, args, output: positions.append(args[0].shape[1])
    )
    try:
        result = calibrate(tiny_llama, batches)
    finally:
        handle.remove()
    assert positions == [1] * len(batches)

    # The statistics equal those of a plain forward that computes every position's logits.
    name = tiny_llama.layers[-1].name
    seen = []
    hook = get_module(tiny_llama.module, name).register_forward_hook(
        lambda module, args, output: seen.append(args[0].detach().clone())
    )
    try:
        with torch.inference_mode():
            for batch in batches:
                tiny_llama.module(**batch)
    finally:
        hook.remove()
    everything = torch.cat([s.reshape(-1) for s in seen])
    expected = qparams_from_range(everything.min(), everything.max(), QuantSpec("int8"))
    assert torch.equal(result.input_qparams(name, "int8_sym_tensor").scale, expected.scale)


def test_encoder_calibrates_without_logits_argument(tiny_bert):
    result = calibrate(tiny_bert, _batches(tiny_bert))
    assert result.tokens == 4 * 16

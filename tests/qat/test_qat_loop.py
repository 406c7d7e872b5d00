"""The QAT loop: losses, learned scales, cancel and resume, pause, the float teacher.

Loop mechanics run on tiny random models, each test building its own (QAT changes
weights); one slow test runs a few steps on MiniLM.
"""

from __future__ import annotations

import math
import threading
import time

import pytest
import torch

from quantviz.analysis.evaluation import model_output, token_nll
from quantviz.apply import apply_plan
from quantviz.errors import Cancelled, QuantvizError
from quantviz.model import load_model, load_texts, make_batches, random_model
from quantviz.plan import PrecisionPlan, TensorConfig, uniform_plan
from quantviz.progress import CancelToken, ProgressEvent
from quantviz.qat import PauseToken, QATConfig, QATResult, QATTrainer, run_qat
from quantviz.qat.checkpoint import latest_checkpoint_step
from quantviz.quant.modules import QuantizedLayer

CALIBRATION_TEXTS = load_texts(split="calibration")
EVALUATION_TEXTS = load_texts(split="evaluation")
# Two paragraphs give 7 windows of 32 tokens, so training revisits the same few batches.
SHORT_TEXTS = CALIBRATION_TEXTS[:2]


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    """The tiny models' matrix products are too small to gain from several threads."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def w8a8_plan() -> PrecisionPlan:
    """INT8 weights per output channel, INT8 inputs per tensor."""
    return uniform_plan(TensorConfig("int8_sym", "channel"), TensorConfig("int8_sym"))


def tiny_config(**changes) -> QATConfig:
    settings = {
        "steps": 6,
        "batch_size": 2,
        "seq_len": 32,
        "learning_rate": 1e-3,
        "scale_learning_rate": 1e-2,
        "eval_every": 0,
        "checkpoint_every": 0,
        "calibration_samples": 2,
        "eval_samples": 2,
    }
    return QATConfig(**(settings | changes))


def calibrated_plan(loaded, config: QATConfig) -> PrecisionPlan:
    """A W8A8 plan with PTQ scales stored, calibrated on the bundled text."""
    plan = w8a8_plan()
    batches = make_batches(
        loaded.tokenizer, CALIBRATION_TEXTS, seq_len=config.seq_len, num_samples=2, batch_size=2
    )
    apply_plan(loaded, plan, batches).remove()
    return plan


def stored_scales(plan: PrecisionPlan, role: str) -> dict[str, torch.Tensor]:
    return {name: roles[role].scale.clone() for name, roles in plan.scales.items() if role in roles}


def wrapped_layers(loaded) -> list[str]:
    return [name for name, m in loaded.module.named_modules() if isinstance(m, QuantizedLayer)]


def first_weight(loaded) -> torch.Tensor:
    name = loaded.layers[0].name
    return loaded.module.get_submodule(name).weight.detach().clone()


def held_out_perplexity(loaded, config: QATConfig) -> float:
    """Perplexity on the evaluation windows QAT evaluates on, summed batch by batch."""
    batches = make_batches(
        loaded.tokenizer,
        EVALUATION_TEXTS,
        seq_len=config.seq_len,
        num_samples=config.eval_samples,
        batch_size=config.batch_size,
    )
    total = 0.0
    count = 0
    for batch in batches:
        nll = token_nll(model_output(loaded, batch), batch["input_ids"])
        total += float(nll.sum())
        count += nll.numel()
    return math.exp(total / count)


# Config --------------------------------------------------------------------------------


def test_config_round_trip():
    config = QATConfig(steps=3, distillation="kl", temperature=2.0, learnable_scales=False)
    assert QATConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("steps", 0),
        ("batch_size", 1.5),
        ("learning_rate", -1.0),
        ("scale_learning_rate", math.nan),
        ("temperature", 0.0),
        ("distillation", "mse"),
        ("schedule", "linear"),
        ("learnable_scales", "yes"),
    ],
)
def test_config_rejects_invalid(field, value):
    with pytest.raises(QuantvizError, match=field):
        QATConfig(**{field: value})


def test_config_rejects_unknown_field():
    with pytest.raises(QuantvizError, match="step"):
        QATConfig.from_dict({"step": 3})


def test_config_needs_something_to_train():
    with pytest.raises(QuantvizError, match="nothing would train"):
        QATConfig(learning_rate=0.0, learnable_scales=False)


def test_distillation_auto_by_task():
    config = QATConfig()
    assert config.distillation_for("causal_lm") == "kl"
    assert config.distillation_for("encoder") == "cosine"
    with pytest.raises(QuantvizError, match="encoder"):
        QATConfig(distillation="none").distillation_for("encoder")
    with pytest.raises(QuantvizError, match="logits"):
        QATConfig(distillation="kl").distillation_for("encoder")


def test_lr_schedule_warmup_and_cosine():
    config = QATConfig(steps=10, warmup_steps=2)
    assert config.lr_factor(1) == 0.5
    assert config.lr_factor(2) == 1.0
    assert config.lr_factor(3) == 1.0
    assert 0.0 < config.lr_factor(10) < 0.05
    assert QATConfig(steps=10, schedule="constant").lr_factor(10) == 1.0


# Training ------------------------------------------------------------------------------


def test_loss_decreases_tiny_llama():
    loaded = random_model("llama")
    config = tiny_config(steps=30, batch_size=4, learning_rate=1e-2, distillation="none")
    result = run_qat(loaded, w8a8_plan(), config, train_texts=SHORT_TEXTS)
    assert result.loss_name == "cross_entropy"
    assert len(result.losses) == 30
    assert result.steps_done == 30
    assert not result.cancelled
    assert sum(result.losses[-5:]) / 5 < sum(result.losses[:5]) / 5 - 0.1
    assert [point.step for point in result.eval_curve] == [0, 30]


def test_learned_scales_reach_plan(tmp_path):
    loaded = random_model("llama")
    config = tiny_config()
    plan = calibrated_plan(loaded, config)
    weight_before = stored_scales(plan, "weight")
    input_before = stored_scales(plan, "input")

    result = run_qat(loaded, plan, config, train_texts=SHORT_TEXTS, out_dir=tmp_path)

    weight_after = stored_scales(plan, "weight")
    input_after = stored_scales(plan, "input")
    assert set(weight_after) == set(weight_before)
    assert any(not torch.equal(weight_before[n], weight_after[n]) for n in weight_before)
    assert any(not torch.equal(input_before[n], input_after[n]) for n in input_before)
    assert all(bool((scale > 0).all()) for scale in weight_after.values())
    saved = PrecisionPlan.load(tmp_path / "plan.json")
    for name, scale in weight_after.items():
        assert torch.equal(saved.scales[name]["weight"].scale, scale)
    assert wrapped_layers(loaded) == []
    assert result.files["plan"] == str(tmp_path / "plan.json")
    assert not (tmp_path / "checkpoints").exists()


def test_saved_folder_reproduces_metric(tmp_path):
    """The written model folder plus plan.json rebuild the model QAT measured last."""
    loaded = random_model("llama")
    config = tiny_config(steps=4)
    result = run_qat(loaded, w8a8_plan(), config, train_texts=SHORT_TEXTS, out_dir=tmp_path)
    reloaded = load_model(str(tmp_path))
    with apply_plan(reloaded, PrecisionPlan.load(tmp_path / "plan.json")):
        perplexity = held_out_perplexity(reloaded, config)
    assert result.metric_after == pytest.approx(perplexity, rel=1e-9)
    assert result.metric_after != result.metric_before


def test_fixed_scales_without_lsq():
    loaded = random_model("llama")
    config = tiny_config(learnable_scales=False)
    plan = calibrated_plan(loaded, config)
    weight_before = stored_scales(plan, "weight")
    input_before = stored_scales(plan, "input")
    weight_tensor = first_weight(loaded)

    run_qat(loaded, plan, config, train_texts=SHORT_TEXTS)

    for name, scale in stored_scales(plan, "weight").items():
        assert torch.equal(scale, weight_before[name])
    for name, scale in stored_scales(plan, "input").items():
        assert torch.equal(scale, input_before[name])
    assert not torch.equal(first_weight(loaded), weight_tensor)


def test_scales_only_keeps_weights():
    loaded = random_model("llama")
    config = tiny_config(learning_rate=0.0)
    plan = calibrated_plan(loaded, config)
    weight_before = stored_scales(plan, "weight")
    weight_tensor = first_weight(loaded)
    run_qat(loaded, plan, config, train_texts=SHORT_TEXTS)
    assert torch.equal(first_weight(loaded), weight_tensor)
    after = stored_scales(plan, "weight")
    assert any(not torch.equal(weight_before[n], after[n]) for n in after)


def test_gpt2_conv1d_trains_with_kl():
    loaded = random_model("gpt2")
    weight_tensor = first_weight(loaded)
    result = run_qat(loaded, w8a8_plan(), tiny_config(steps=3), train_texts=SHORT_TEXTS)
    assert result.loss_name == "kl"
    assert len(result.weight_sqnr) == len(loaded.layers)
    assert all(math.isfinite(layer.after_db) for layer in result.weight_sqnr)
    assert not torch.equal(first_weight(loaded), weight_tensor)


def test_quant_error_penalty_adds_to_loss():
    losses = []
    for penalty in (0.0, 1e6):
        loaded = random_model("llama")
        config = tiny_config(steps=1, quant_error_penalty=penalty)
        losses.append(run_qat(loaded, w8a8_plan(), config, train_texts=SHORT_TEXTS).losses[0])
    assert losses[1] > losses[0]


def test_result_json_round_trip(tmp_path):
    loaded = random_model("llama")
    result = run_qat(loaded, w8a8_plan(), tiny_config(steps=2), out_dir=tmp_path)
    loaded_result = QATResult.load(tmp_path / "qat_result.json")
    assert loaded_result.to_dict() == result.to_dict()
    assert loaded_result.config == result.config


# Cancel, checkpoints and resume -----------------------------------------------------------


def cancel_at(step: int, token: CancelToken, events: list[ProgressEvent]):
    def progress(event: ProgressEvent) -> None:
        if event.stage == "qat":
            events.append(event)
            if event.step == step:
                token.cancel()

    return progress


def test_cancel_then_resume_matches_uninterrupted(tmp_path):
    config = tiny_config(steps=8, checkpoint_every=2)
    straight_model = random_model("llama")
    straight_plan = w8a8_plan()
    straight = run_qat(
        straight_model, straight_plan, config, train_texts=SHORT_TEXTS, out_dir=tmp_path / "a"
    )

    out_dir = tmp_path / "b"
    loaded = random_model("llama")
    plan = w8a8_plan()
    token = CancelToken()
    events: list[ProgressEvent] = []
    cut = run_qat(
        loaded,
        plan,
        config,
        train_texts=SHORT_TEXTS,
        out_dir=out_dir,
        progress=cancel_at(3, token, events),
        cancel=token,
    )
    assert cut.cancelled
    assert cut.steps_done == 3
    assert [event.step for event in events] == [1, 2, 3]
    assert cut.losses == straight.losses[:3]
    assert cut.metric_after is None
    assert wrapped_layers(loaded) == []
    assert latest_checkpoint_step(out_dir) == 3
    checkpoint_plan = PrecisionPlan.load(out_dir / "checkpoints" / "step-000003" / "plan.json")
    for name, roles in plan.scales.items():
        assert torch.equal(checkpoint_plan.scales[name]["weight"].scale, roles["weight"].scale)
    assert not (out_dir / "model.safetensors").exists()
    assert QATResult.load(out_dir / "qat_result.json").cancelled

    # The same model object has the weights of step 3 now, so the teacher comes from disk.
    resumed = run_qat(loaded, plan, config, train_texts=SHORT_TEXTS, out_dir=out_dir, resume=True)
    assert resumed.resumed_from == 3
    assert resumed.steps_done == 8
    assert not resumed.cancelled
    assert resumed.losses == straight.losses
    assert resumed.metric_after == straight.metric_after
    for (name, tensor), (_, expected) in zip(
        loaded.module.state_dict().items(), straight_model.module.state_dict().items(), strict=True
    ):
        assert torch.equal(tensor, expected), name
    for name, roles in plan.scales.items():
        assert torch.equal(roles["input"].scale, straight_plan.scales[name]["input"].scale)


def test_resume_in_fresh_model_continues(tmp_path):
    config = tiny_config(steps=4)
    token = CancelToken()
    run_qat(
        random_model("llama"),
        w8a8_plan(),
        config,
        train_texts=SHORT_TEXTS,
        out_dir=tmp_path,
        progress=cancel_at(2, token, []),
        cancel=token,
    )
    reference = run_qat(random_model("llama"), w8a8_plan(), config, train_texts=SHORT_TEXTS)
    resumed = run_qat(
        random_model("llama"),
        w8a8_plan(),
        config,
        train_texts=SHORT_TEXTS,
        out_dir=tmp_path,
        resume=True,
    )
    assert resumed.losses == reference.losses
    assert (tmp_path / "model.safetensors").is_file()


def test_resume_rejects_other_settings(tmp_path):
    config = tiny_config(steps=4)
    token = CancelToken()
    loaded = random_model("llama")
    run_qat(
        loaded,
        w8a8_plan(),
        config,
        train_texts=SHORT_TEXTS,
        out_dir=tmp_path,
        progress=cancel_at(1, token, []),
        cancel=token,
    )
    with pytest.raises(QuantvizError, match="learning_rate"):
        run_qat(
            loaded,
            w8a8_plan(),
            tiny_config(steps=4, learning_rate=1e-4),
            out_dir=tmp_path,
            resume=True,
        )
    other_plan = uniform_plan(TensorConfig("fp8_e4m3"), TensorConfig("fp8_e4m3"))
    with pytest.raises(QuantvizError, match="plan differs"):
        run_qat(loaded, other_plan, config, out_dir=tmp_path, resume=True)
    assert wrapped_layers(loaded) == []


def test_resume_without_checkpoint(tmp_path):
    with pytest.raises(QuantvizError, match="no QAT checkpoint"):
        run_qat(random_model("llama"), w8a8_plan(), tiny_config(), out_dir=tmp_path, resume=True)


def test_cancel_before_training_raises():
    loaded = random_model("llama")
    plan = w8a8_plan()
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        run_qat(loaded, plan, tiny_config(), cancel=token)
    assert wrapped_layers(loaded) == []
    assert plan.scales == {}


def test_cancel_in_first_evaluation_restores_plan(tmp_path):
    """Calibration has stored scales by then; the plan still gets its own back."""
    loaded = random_model("llama")
    plan = w8a8_plan()
    token = CancelToken()

    def progress(event: ProgressEvent) -> None:
        if event.stage == "evaluation":
            token.cancel()

    with pytest.raises(Cancelled):
        run_qat(loaded, plan, tiny_config(), out_dir=tmp_path, progress=progress, cancel=token)
    assert wrapped_layers(loaded) == []
    assert plan.scales == {}
    assert not (tmp_path / "checkpoints").exists()


def test_new_run_replaces_earlier_checkpoint(tmp_path):
    config = tiny_config(steps=3)
    token = CancelToken()
    run_qat(
        random_model("llama"),
        w8a8_plan(),
        config,
        train_texts=SHORT_TEXTS,
        out_dir=tmp_path,
        progress=cancel_at(2, token, []),
        cancel=token,
    )
    assert latest_checkpoint_step(tmp_path) == 2

    # A new run cancelled during its set-up leaves the earlier checkpoint usable.
    setup_token = CancelToken()

    def cancel_in_evaluation(event: ProgressEvent) -> None:
        if event.stage == "evaluation":
            setup_token.cancel()

    with pytest.raises(Cancelled):
        run_qat(
            random_model("llama"),
            w8a8_plan(),
            config,
            out_dir=tmp_path,
            progress=cancel_in_evaluation,
            cancel=setup_token,
        )
    assert latest_checkpoint_step(tmp_path) == 2

    # A new run that gets to its first step replaces it with checkpoints of its own.
    events: list[ProgressEvent] = []
    new_token = CancelToken()
    run_qat(
        random_model("llama"),
        w8a8_plan(),
        config,
        out_dir=tmp_path,
        progress=cancel_at(1, new_token, events),
        cancel=new_token,
    )
    assert latest_checkpoint_step(tmp_path) == 1
    assert [folder.name for folder in (tmp_path / "checkpoints").glob("step-*")] == ["step-000001"]


# Pause -------------------------------------------------------------------------------------


def run_in_thread(**kwargs) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def target() -> None:
        outcome["result"] = run_qat(**kwargs)

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


def test_pause_holds_then_resumes():
    pause = PauseToken()
    paused = threading.Event()
    steps: list[int] = []

    def progress(event: ProgressEvent) -> None:
        if event.stage == "qat":
            steps.append(event.step)
            if event.step == 2:
                pause.pause()
        if event.stage == "paused":
            paused.set()

    thread, outcome = run_in_thread(
        loaded=random_model("llama"),
        plan=w8a8_plan(),
        config=tiny_config(steps=4),
        train_texts=SHORT_TEXTS,
        progress=progress,
        pause=pause,
    )
    try:
        assert paused.wait(timeout=120)
        held = list(steps)
        time.sleep(0.3)
        assert steps == held == [1, 2]
    finally:
        pause.resume()
        thread.join(timeout=120)
    assert steps == [1, 2, 3, 4]
    assert outcome["result"].steps_done == 4


def test_cancel_ends_pause():
    pause = threading.Event()
    pause.set()  # a set Event means paused
    token = CancelToken()
    paused = threading.Event()

    def progress(event: ProgressEvent) -> None:
        if event.stage == "paused":
            paused.set()

    thread, outcome = run_in_thread(
        loaded=random_model("llama"),
        plan=w8a8_plan(),
        config=tiny_config(steps=4),
        train_texts=SHORT_TEXTS,
        progress=progress,
        cancel=token,
        pause=pause,
    )
    try:
        assert paused.wait(timeout=120)
    finally:
        token.cancel()
        thread.join(timeout=120)
    assert outcome["result"].cancelled
    assert outcome["result"].steps_done == 0


# Teacher and distillation ------------------------------------------------------------------


def test_teacher_stays_float():
    loaded = random_model("bert")
    batch = make_batches(
        loaded.tokenizer, CALIBRATION_TEXTS, seq_len=32, num_samples=2, batch_size=2
    )[0]
    float_output = model_output(loaded, batch)
    config = tiny_config(steps=5)
    with QATTrainer(loaded, w8a8_plan(), config, train_texts=SHORT_TEXTS) as trainer:
        assert trainer.loss_kind == "cosine"
        assert torch.equal(trainer.teacher_output(batch, "pooled"), float_output)
        student_before = trainer.student_output(batch, "pooled")
        assert not torch.equal(student_before, float_output)
        for step in range(1, config.steps + 1):
            trainer.train_step(step)
        assert torch.equal(trainer.teacher_output(batch, "pooled"), float_output)
        assert not torch.equal(trainer.student_output(batch, "pooled"), student_before)
    # The float model now computes with the fine-tuned weights.
    assert not torch.equal(model_output(loaded, batch), float_output)


def test_encoder_distills_by_default():
    loaded = random_model("bert")
    result = run_qat(loaded, w8a8_plan(), tiny_config(steps=2), train_texts=SHORT_TEXTS)
    assert result.loss_name == "cosine"
    assert result.eval_metric == "mean_cosine"
    assert result.metric_float == 1.0
    assert 0.0 < result.metric_before < 1.0


def test_encoder_without_distillation_is_error():
    loaded = random_model("bert")
    with pytest.raises(QuantvizError, match="encoder"):
        run_qat(loaded, w8a8_plan(), tiny_config(distillation="none"))
    assert wrapped_layers(loaded) == []


@pytest.mark.slow
def test_minilm_few_steps():
    loaded = load_model("sample:minilm")
    config = tiny_config(steps=3, learning_rate=1e-5, scale_learning_rate=1e-3, seq_len=64)
    result = run_qat(loaded, w8a8_plan(), config)
    assert result.steps_done == 3
    assert len(result.weight_sqnr) == len(loaded.layers) == 37
    assert 0.9 < result.metric_before < 1.0
    assert 0.9 < result.metric_after < 1.0
    assert all(math.isfinite(loss) and loss > 0 for loss in result.losses)
    assert all(layer.after_db > 20 for layer in result.weight_sqnr)

"""The QAT dialog on a small BERT: pause stops the steps, cancel keeps the steps done."""

import importlib.util

import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("quantviz.qat") is None, reason="quantviz.qat is absent"
)


def test_qat_pause_and_cancel(open_window, qtbot, tmp_path):
    from quantviz.model.loading import save_random_model

    # QAT changes the weights, so this test trains its own copy of the model.
    folder = str(save_random_model("bert", tmp_path / "bert", seed=11))
    window = open_window(folder)
    names = window.project.layer_names()
    window.project.set_precision(names, "weight", "int8_sym/ch")
    window.window_actions.qat.trigger()
    dialog = window.dialogs["qat"]
    dialog.steps.setValue(10_000)
    dialog.batch_size.setValue(2)
    dialog.seq_len.setValue(16)
    dialog.eval_every.setValue(0)
    dialog.eval_samples.setValue(2)
    dialog.calibration_samples.setValue(2)

    steps = []
    window.runner.jobProgress.connect(lambda title, event: steps.append(event))

    def trained() -> list[int]:
        return [event.step for event in steps if event.stage == "qat"]

    assert dialog.start()
    qtbot.waitUntil(lambda: bool(trained()), timeout=120_000)
    assert dialog.pause_button.isEnabled()
    assert not dialog.start_button.isEnabled()

    dialog.pause_button.setChecked(True)
    qtbot.waitUntil(lambda: any(event.stage == "paused" for event in steps), timeout=60_000)
    paused_at = max(trained())
    qtbot.wait(300)
    assert max(trained()) == paused_at
    assert "Paused after step" in dialog.status.text()

    dialog.pause_button.setChecked(False)
    qtbot.waitUntil(lambda: max(trained()) > paused_at, timeout=60_000)
    with qtbot.waitSignal(dialog.finished_run, timeout=120_000) as blocker:
        dialog.cancel()
    result = blocker.args[0]
    assert result.cancelled
    assert paused_at < result.steps_done < 10_000
    assert len(result.losses) == result.steps_done
    assert window.project.results["qat"] is result
    assert window.project.weights_version == 1
    qtbot.waitUntil(lambda: dialog.start_button.isEnabled(), timeout=10_000)
    assert "stopped early" in dialog.status.text()
    dialog.close()

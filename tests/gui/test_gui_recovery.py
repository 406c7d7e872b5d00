"""Autosave to the recovery file and the offer to restore it after a crash."""

import os
import time

from PySide6.QtWidgets import QMessageBox

from quantviz.gui import recovery
from quantviz.gui.session import SessionState


def test_no_recovery_without_file():
    recovery.discard_recovery()
    assert recovery.pending_recovery() is None


def test_recovery_newer_than_clean_exit():
    recovery.mark_clean_exit()
    assert not recovery.recovery_path().exists()
    SessionState(model="sample:minilm").save(recovery.recovery_path())
    future = time.time() + 5
    os.utime(recovery.recovery_path(), (future, future))
    assert recovery.pending_recovery() == recovery.recovery_path()


def test_recovery_older_than_clean_exit():
    SessionState(model="sample:minilm").save(recovery.recovery_path())
    past = time.time() - 60
    os.utime(recovery.recovery_path(), (past, past))
    recovery.mark_clean_exit()
    assert recovery.pending_recovery() is None


def test_autosave_writes_on_change():
    generation = [0]
    state = SessionState(model="m")
    saver = recovery.Autosaver(lambda: state, lambda: generation[0], interval_s=3600)
    recovery.discard_recovery()
    assert saver.save_now() == recovery.recovery_path()
    assert SessionState.load(recovery.recovery_path()) == state
    assert saver.save_now() is None
    generation[0] += 1
    assert saver.save_now() == recovery.recovery_path()


def test_autosave_skips_empty():
    recovery.discard_recovery()
    saver = recovery.Autosaver(lambda: None, lambda: 1, interval_s=3600)
    assert saver.save_now() is None
    assert not recovery.recovery_path().exists()


def test_window_offers_and_restores(open_window, make_window, qtbot, bert_folder):
    window = open_window(bert_folder)
    name = window.project.layer_names()[2]
    window.project.set_precision([name], "weight", "int8_sym")
    assert window.autosaver.save_now() == recovery.recovery_path()
    future = time.time() + 5
    os.utime(recovery.recovery_path(), (future, future))

    restored = make_window()
    restored.start()
    box = restored.dialogs["recovery"]
    assert isinstance(box, QMessageBox)
    assert box.isVisible()
    with qtbot.waitSignal(restored.workflow.analysisFinished, timeout=120_000):
        box.button(QMessageBox.StandardButton.Yes).click()
    assert restored.project.spec == bert_folder
    assert restored.project.config(name).weight.label == "int8_sym"


def test_window_discards_recovery(make_window, qtbot, bert_folder, shared_cache):
    SessionState(model=bert_folder).save(recovery.recovery_path())
    future = time.time() + 5
    os.utime(recovery.recovery_path(), (future, future))
    window = make_window(cache_dir=shared_cache)
    window.start(bert_folder)
    box = window.dialogs["recovery"]
    with qtbot.waitSignal(window.workflow.modelLoaded, timeout=120_000):
        box.button(QMessageBox.StandardButton.No).click()
    assert not recovery.recovery_path().exists()
    window.cancel_job()


def test_clean_close_marks_exit(make_window):
    window = make_window()
    SessionState(model="x").save(recovery.recovery_path())
    window.close()
    assert not recovery.recovery_path().exists()
    assert recovery.last_clean_exit() > time.time() - 60

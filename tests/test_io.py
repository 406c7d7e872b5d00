import os

import pytest

from quantviz.errors import QuantvizError
from quantviz.io import atomic_write, atomic_write_text, read_json


def test_atomic_write_replaces_content(tmp_path):
    path = tmp_path / "plan.json"
    atomic_write_text(path, "old")
    atomic_write_text(path, "new")
    assert path.read_text() == "new"
    assert os.listdir(tmp_path) == ["plan.json"]


def test_failed_write_keeps_previous_file(tmp_path):
    path = tmp_path / "plan.json"
    atomic_write_text(path, "previous")

    def broken(temp):
        temp.write_text("half")
        raise RuntimeError("crash in the middle")

    with pytest.raises(RuntimeError):
        atomic_write(path, broken)
    assert path.read_text() == "previous"
    assert os.listdir(tmp_path) == ["plan.json"]


def test_disk_error_is_clear(tmp_path):
    path = tmp_path / "out.json"

    def full_disk(temp):
        raise OSError(28, "No space left on device")

    with pytest.raises(QuantvizError, match="No space left on device"):
        atomic_write(path, full_disk)
    assert not path.exists()


def test_missing_folder_is_clear(tmp_path):
    with pytest.raises(QuantvizError, match="does not exist"):
        atomic_write_text(tmp_path / "absent" / "x.json", "{}")


def test_read_json_names_file_and_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{\n"a": }')
    with pytest.raises(QuantvizError, match=r"bad.json is not valid JSON: .* line 2"):
        read_json(path, "plan")

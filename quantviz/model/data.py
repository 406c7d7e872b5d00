"""Text for calibration and evaluation, and its conversion to fixed-length token batches.

quantviz bundles two English text files in ``quantviz/resources/text``:
``calibration_en.txt``, whose activations set the quantization ranges, and
``heldout_en.txt``, on which a quantized model is evaluated. Keeping the two apart means
that an evaluation never scores the text its scales were fitted to.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
from pathlib import Path
from typing import Any

import torch

from quantviz import RESOURCES_DIR
from quantviz.errors import QuantvizError

logger = logging.getLogger(__name__)

SPLIT_FILES = {"calibration": "calibration_en.txt", "evaluation": "heldout_en.txt"}
TEXT_SUFFIXES = (".txt", ".text", ".md")

# Splits of a saved DatasetDict that serve each quantviz split, in order of preference.
_DATASET_SPLITS = {"calibration": ("train",), "evaluation": ("validation", "test")}
# Tokenizers without a real limit report a huge model_max_length (about 1e30).
_UNLIMITED_LENGTH = 1_000_000
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


def bundled_text_path(split: str = "calibration") -> Path:
    """Return the path of the bundled text file for ``split`` ("calibration" or "evaluation")."""
    if split not in SPLIT_FILES:
        raise QuantvizError(f"unknown text split {split!r}; use one of {', '.join(SPLIT_FILES)}")
    path = RESOURCES_DIR / "text" / SPLIT_FILES[split]
    if not path.is_file():
        raise QuantvizError(
            f"the bundled {split} text {path} is missing; reinstall quantviz or pass a text file"
        )
    return path


def load_texts(source: str | Path | None = None, *, split: str = "calibration") -> list[str]:
    """Load documents of text from the bundled files, a file or a saved dataset.

    ``source`` may be:

    - None, for the bundled text of ``split``;
    - a ``.txt`` (or ``.text``, ``.md``) file, one document per paragraph, with paragraphs
      separated by blank lines;
    - a ``.jsonl`` file with a string field ``"text"`` on every line;
    - a folder written by ``datasets.Dataset.save_to_disk``, whose ``"text"`` column is
      used. For a DatasetDict, ``split`` picks ``train`` for calibration and
      ``validation`` or ``test`` for evaluation.

    Empty documents are dropped.

    Raises QuantvizError naming the file when it is missing, empty, not UTF-8 text, or
    malformed.
    """
    if split not in SPLIT_FILES:
        raise QuantvizError(f"unknown text split {split!r}; use one of {', '.join(SPLIT_FILES)}")
    path = bundled_text_path(split) if source is None else Path(source).expanduser()

    if path.is_dir():
        texts = _read_dataset_folder(path, split)
    elif not path.exists():
        raise QuantvizError(f"text file {path} not found")
    elif path.suffix.lower() == ".jsonl":
        texts = _read_jsonl(path)
    elif path.suffix.lower() in TEXT_SUFFIXES:
        texts = _split_paragraphs(_read_utf8(path))
    else:
        raise QuantvizError(
            f"text file {path} has the unsupported type {path.suffix or '(no suffix)'!r}; "
            "use a .txt file with paragraphs separated by blank lines, a .jsonl file with a "
            '"text" field per line, or a saved Hugging Face dataset folder'
        )

    if not texts:
        raise QuantvizError(f"{path} contains no text; give a file with at least one paragraph")
    return texts


def _read_utf8(path: Path) -> str:
    data = path.read_bytes()
    if not data.strip():
        raise QuantvizError(f"text file {path} is empty")
    # Text files do not contain NUL bytes, and they are valid UTF-8, so this catches binaries
    # that happen to decode.
    if b"\x00" in data:
        raise QuantvizError(f"{path} is a binary file, not UTF-8 text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise QuantvizError(
            f"{path} is not UTF-8 text (invalid byte at offset {err.start}); "
            "convert it to UTF-8 first"
        ) from None


def _split_paragraphs(text: str) -> list[str]:
    normalized = text.replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = (paragraph.strip() for paragraph in _PARAGRAPH_BREAK.split(normalized))
    return [paragraph for paragraph in paragraphs if paragraph]


def _read_jsonl(path: Path) -> list[str]:
    texts: list[str] = []
    for line_number, line in enumerate(_read_utf8(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise QuantvizError(f"{path}, line {line_number}: invalid JSON ({err.msg})") from None
        if not isinstance(record, dict) or "text" not in record:
            raise QuantvizError(
                f'{path}, line {line_number}: the record has no "text" field; every line must '
                'be a JSON object like {"text": "..."}'
            )
        text = record["text"]
        if not isinstance(text, str):
            raise QuantvizError(
                f'{path}, line {line_number}: "text" must be a string, not {type(text).__name__}'
            )
        if text.strip():
            texts.append(text.strip())
    return texts


def _read_dataset_folder(path: Path, split: str) -> list[str]:
    if importlib.util.find_spec("datasets") is None:
        raise QuantvizError(
            f"{path} is a folder, which quantviz reads as a saved Hugging Face dataset, but "
            "the datasets package is not installed; install it with `pip install datasets`, "
            "or pass a .txt or .jsonl file"
        )
    # NOTE: the tests run without the datasets package, so only the error above is tested.
    import datasets

    try:
        loaded: Any = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError, OSError) as err:
        raise QuantvizError(
            f"{path} is not a dataset saved with save_to_disk ({err}); pass a .txt or .jsonl "
            "file, or a folder written by Dataset.save_to_disk"
        ) from None
    if isinstance(loaded, datasets.DatasetDict):
        available = list(loaded.keys())
        chosen = next((name for name in _DATASET_SPLITS[split] if name in loaded), None)
        if chosen is None:
            raise QuantvizError(
                f"dataset {path} has the splits {', '.join(available)} but none of "
                f"{', '.join(_DATASET_SPLITS[split])}, which serve the {split} split"
            )
        loaded = loaded[chosen]
    if "text" not in loaded.column_names:
        raise QuantvizError(
            f'dataset {path} has no "text" column; its columns are {", ".join(loaded.column_names)}'
        )
    return [text.strip() for text in loaded["text"] if isinstance(text, str) and text.strip()]


def make_batches(
    tokenizer: Any,
    texts: list[str],
    *,
    seq_len: int = 128,
    num_samples: int = 32,
    batch_size: int = 8,
) -> list[dict[str, torch.Tensor]]:
    """Cut texts into ``num_samples`` windows of exactly ``seq_len`` tokens, in batches.

    The texts are tokenized without special tokens and concatenated in order, with the
    tokenizer's EOS token (else its SEP token) between documents, and the token stream is
    cut into consecutive non-overlapping windows. The windows do not start with BOS or CLS.
    Each batch is a dict with ``input_ids`` and ``attention_mask`` (all ones), both int64
    of shape ``[batch, seq_len]``. The last batch is smaller when ``batch_size`` does not
    divide the number of windows. The result depends only on the inputs.

    When the text runs out, fewer windows are returned and a warning is logged. Raises
    QuantvizError when the text gives less than one window.
    """
    if tokenizer is None:
        raise QuantvizError(
            "the model has no tokenizer, so text cannot be turned into batches; open a model "
            "folder that contains tokenizer files"
        )
    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings, not one string")
    for name, value in (
        ("seq_len", seq_len),
        ("num_samples", num_samples),
        ("batch_size", batch_size),
    ):
        if not isinstance(value, int) or value < 1:
            raise QuantvizError(f"{name}={value!r} is invalid; it must be a positive integer")
    max_length = getattr(tokenizer, "model_max_length", None)
    if isinstance(max_length, int) and max_length < _UNLIMITED_LENGTH and seq_len > max_length:
        raise QuantvizError(
            f"seq_len={seq_len} exceeds the model's maximum sequence length of {max_length} "
            "tokens; lower seq_len"
        )

    separator_id = tokenizer.eos_token_id
    if separator_id is None:
        separator_id = tokenizer.sep_token_id
    if separator_id is None:
        logger.info("the tokenizer has no EOS or SEP token, so documents are joined directly")

    needed = seq_len * num_samples
    token_ids: list[int] = []
    for index, text in enumerate(texts):
        if index > 0 and separator_id is not None:
            token_ids.append(int(separator_id))
        # verbose=False silences the warning about texts longer than the model's maximum
        # length, which does not apply because the stream is cut into windows.
        encoded = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
        token_ids.extend(int(token) for token in encoded)
        if len(token_ids) >= needed:
            break

    num_windows = min(num_samples, len(token_ids) // seq_len)
    if num_windows == 0:
        raise QuantvizError(
            f"the text gives only {len(token_ids)} tokens, fewer than one window of "
            f"seq_len={seq_len}; lower seq_len or give more text"
        )
    if num_windows < num_samples:
        logger.warning(
            "the text gives %d tokens, enough for %d of the %d requested windows of %d tokens",
            len(token_ids),
            num_windows,
            num_samples,
            seq_len,
        )

    windows = torch.tensor(token_ids[: num_windows * seq_len], dtype=torch.long)
    windows = windows.view(num_windows, seq_len)
    return [
        {"input_ids": batch, "attention_mask": torch.ones_like(batch)}
        for batch in windows.split(batch_size)
    ]

"""Reading calibration text and cutting it into token batches."""

import importlib.util
import json
import logging

import pytest
import torch

from quantviz.errors import QuantvizError
from quantviz.model import load_texts, make_batches
from quantviz.model.data import bundled_text_path

# Token ids in the MiniLM WordPiece vocabulary that the random models share.
HELLO, WORLD, SEP = 7592, 2088, 102


def write_jsonl(path, records):
    path.write_text("\n".join(json.dumps(record) for record in records) + "\n", encoding="utf-8")
    return path


# --- Bundled text ---------------------------------------------------------------------------


def test_bundled_calibration_paragraphs():
    texts = load_texts()
    assert len(texts) > 10
    assert all(text == text.strip() for text in texts)
    assert all("\n\n" not in text for text in texts)


def test_bundled_splits_disjoint():
    calibration = load_texts(split="calibration")
    evaluation = load_texts(split="evaluation")
    assert evaluation
    assert not set(calibration) & set(evaluation)


def test_bundled_split_files():
    assert bundled_text_path("calibration").name == "calibration_en.txt"
    assert bundled_text_path("evaluation").name == "heldout_en.txt"


def test_unknown_split():
    with pytest.raises(QuantvizError, match="unknown text split 'train'"):
        load_texts(split="train")


# --- Text files -----------------------------------------------------------------------------


def test_txt_blank_line_paragraphs(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"First line\r\nstill first.\r\n\r\nSecond.\n   \n\n\nThird.\n")
    assert load_texts(path) == ["First line\nstill first.", "Second.", "Third."]


def test_txt_utf8_bom_stripped(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffCafé au lait.".encode())
    assert load_texts(path) == ["Café au lait."]


def test_txt_empty_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("")
    with pytest.raises(QuantvizError, match="is empty") as err:
        load_texts(path)
    assert str(path) in str(err.value)


def test_txt_whitespace_only(tmp_path):
    path = tmp_path / "blank.txt"
    path.write_text("\n  \n\t\n")
    with pytest.raises(QuantvizError, match="is empty") as err:
        load_texts(path)
    assert str(path) in str(err.value)


def test_txt_binary_file(tmp_path):
    path = tmp_path / "weights.txt"
    path.write_bytes(bytes(range(256)))
    with pytest.raises(QuantvizError, match="binary file") as err:
        load_texts(path)
    assert str(path) in str(err.value)


def test_txt_latin1_rejected(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("Café".encode("latin-1"))
    with pytest.raises(QuantvizError, match="not UTF-8 text") as err:
        load_texts(path)
    assert str(path) in str(err.value)


def test_missing_text_file(tmp_path):
    path = tmp_path / "missing.txt"
    with pytest.raises(QuantvizError, match="not found") as err:
        load_texts(path)
    assert str(path) in str(err.value)


def test_unsupported_text_suffix(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("text\nhello\n")
    with pytest.raises(QuantvizError, match=r"unsupported type '\.csv'"):
        load_texts(path)


# --- JSON Lines -----------------------------------------------------------------------------


def test_jsonl_text_field(tmp_path):
    path = write_jsonl(tmp_path / "docs.jsonl", [{"text": " one "}, {"text": "two", "id": 2}])
    assert load_texts(path) == ["one", "two"]


def test_jsonl_skips_blank_lines(tmp_path):
    path = tmp_path / "gaps.jsonl"
    path.write_text('{"text": "a"}\n\n{"text": ""}\n{"text": "b"}\n')
    assert load_texts(path) == ["a", "b"]


def test_jsonl_invalid_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n{"text": oops}\n')
    with pytest.raises(QuantvizError, match="line 2: invalid JSON") as err:
        load_texts(path)
    assert str(path) in str(err.value)


def test_jsonl_missing_text_field(tmp_path):
    path = write_jsonl(tmp_path / "fields.jsonl", [{"text": "a"}, {"text": "b"}, {"body": "c"}])
    with pytest.raises(QuantvizError, match='line 3: the record has no "text" field') as err:
        load_texts(path)
    assert str(path) in str(err.value)


def test_jsonl_text_not_string(tmp_path):
    path = write_jsonl(tmp_path / "numbers.jsonl", [{"text": 12}])
    with pytest.raises(QuantvizError, match='line 1: "text" must be a string, not int'):
        load_texts(path)


def test_jsonl_without_text(tmp_path):
    path = write_jsonl(tmp_path / "hollow.jsonl", [{"text": ""}, {"text": "  "}])
    with pytest.raises(QuantvizError, match="contains no text") as err:
        load_texts(path)
    assert str(path) in str(err.value)


@pytest.mark.skipif(
    importlib.util.find_spec("datasets") is not None, reason="datasets is installed"
)
def test_dataset_folder_needs_datasets(tmp_path):
    with pytest.raises(QuantvizError, match="`pip install datasets`") as err:
        load_texts(tmp_path)
    assert str(tmp_path) in str(err.value)


# --- Batches --------------------------------------------------------------------------------


def test_batches_shapes(tiny_bert):
    batches = make_batches(tiny_bert.tokenizer, load_texts(), seq_len=16, num_samples=32)
    assert len(batches) == 4
    for batch in batches:
        assert batch["input_ids"].shape == (8, 16)
        assert batch["input_ids"].dtype == torch.int64
        assert torch.equal(batch["attention_mask"], torch.ones(8, 16, dtype=torch.int64))


def test_batches_last_smaller(tiny_bert):
    batches = make_batches(
        tiny_bert.tokenizer, load_texts(), seq_len=8, num_samples=10, batch_size=4
    )
    assert [batch["input_ids"].shape[0] for batch in batches] == [4, 4, 2]


def test_batches_deterministic(tiny_gpt2):
    texts = load_texts()
    first = make_batches(tiny_gpt2.tokenizer, texts, seq_len=32, num_samples=6)
    second = make_batches(tiny_gpt2.tokenizer, texts, seq_len=32, num_samples=6)
    assert len(first) == len(second)
    for left, right in zip(first, second, strict=True):
        assert torch.equal(left["input_ids"], right["input_ids"])


def test_batches_separator_between_docs(tiny_bert):
    batches = make_batches(tiny_bert.tokenizer, ["hello", "world"], seq_len=3, num_samples=1)
    assert batches[0]["input_ids"].tolist() == [[HELLO, SEP, WORLD]]


def test_batches_windows_consecutive(tiny_bert):
    texts = ["hello world " * 10]
    batches = make_batches(tiny_bert.tokenizer, texts, seq_len=4, num_samples=3, batch_size=3)
    assert batches[0]["input_ids"].tolist() == [[HELLO, WORLD, HELLO, WORLD]] * 3


def test_batches_text_runs_out(tiny_bert, caplog):
    texts = ["hello world " * 10]  # 20 tokens
    with caplog.at_level(logging.WARNING, logger="quantviz.model.data"):
        batches = make_batches(tiny_bert.tokenizer, texts, seq_len=8, num_samples=5)
    assert batches[0]["input_ids"].shape == (2, 8)
    assert "enough for 2 of the 5 requested windows" in caplog.text


def test_batches_too_little_text(tiny_bert):
    with pytest.raises(QuantvizError, match="only 2 tokens, fewer than one window of seq_len=16"):
        make_batches(tiny_bert.tokenizer, ["hello world"], seq_len=16)


def test_batches_seq_len_over_max(tiny_bert):
    with pytest.raises(QuantvizError, match="seq_len=512 exceeds the model's maximum"):
        make_batches(tiny_bert.tokenizer, load_texts(), seq_len=512)


@pytest.mark.parametrize("setting", ["seq_len", "num_samples", "batch_size"])
def test_batches_reject_zero(tiny_bert, setting):
    with pytest.raises(QuantvizError, match=f"{setting}=0 is invalid"):
        make_batches(tiny_bert.tokenizer, ["hello world"], **{setting: 0})


def test_batches_need_tokenizer():
    with pytest.raises(QuantvizError, match="has no tokenizer"):
        make_batches(None, ["hello"])


def test_batches_reject_plain_string(tiny_bert):
    with pytest.raises(TypeError, match="list of strings"):
        make_batches(tiny_bert.tokenizer, "hello world")


def test_batches_run_through_models(tiny_bert, tiny_llama):
    texts = load_texts()
    for loaded in (tiny_bert, tiny_llama):
        batch = make_batches(loaded.tokenizer, texts, seq_len=32, num_samples=2)[0]
        with torch.no_grad():
            output = loaded.module(**batch)
        hidden = output.logits if loaded.task == "causal_lm" else output.last_hidden_state
        assert torch.isfinite(hidden).all(), loaded.source.spec


@pytest.mark.slow
def test_minilm_calibration_batches(minilm):
    batches = make_batches(minilm.tokenizer, load_texts(), seq_len=128, num_samples=4)
    with torch.no_grad():
        hidden = minilm.module(**batches[0]).last_hidden_state
    assert hidden.shape == (4, 128, 384)
    assert torch.isfinite(hidden).all()

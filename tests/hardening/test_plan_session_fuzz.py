"""Fuzzing the plan and session readers with mutated documents.

Every generated document must either load or raise QuantvizError, never another
exception. A document that loads must also save (JSON without NaN) and load again
to the same plan, so a file the app opened can always be written back.
"""

from __future__ import annotations

import copy
import json
import math
import random
import tempfile
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantviz.errors import QuantvizError
from quantviz.gui.session import SessionState
from quantviz.plan import (
    PLAN_FIELDS,
    TENSOR_FIELDS,
    LayerConfig,
    LayerOverride,
    PrecisionPlan,
    Rule,
    TensorConfig,
    uniform_plan,
)
from quantviz.quant.qparams import QParams
from quantviz.quant.spec import QuantSpec

# Measured on the 2-core test machine: the 10,000-document run takes about 20 s, the
# other fuzz tests about 1 s each.
MANY = settings(
    max_examples=10_000,
    deadline=None,
    # The same documents on every run, so CI results do not depend on the draw.
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FEW = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def valid_plan_document() -> dict[str, Any]:
    """A plan that uses every section of the format, as plain JSON data."""
    plan = uniform_plan(
        TensorConfig("int8_sym", "channel"),
        TensorConfig("fp8_e4m3", observer="percentile", observer_settings={"percentile": 99.9}),
        notes="fuzz seed",
        model={"spec": "sample:minilm", "sha256": "00" * 32},
    )
    plan.defaults = LayerConfig(plan.defaults.weight, plan.defaults.input, 0.5)
    plan.rules.append(Rule("*.mlp.*", LayerOverride(smoothquant_alpha=0.8)))
    plan.rules.append(Rule("*.down_proj", LayerOverride(input={"format": "int8_asym"})))
    plan.overrides["layers.0.q"] = LayerOverride(
        weight={"format": "int8_sym", "granularity": "group", "group_size": 32},
        smoothquant_off=True,
    )
    plan.overrides["layers.0.k"] = LayerOverride(
        input={
            "format": "int8_sym",
            "observer": "moving_average",
            "observer_settings": {"averaging_constant": 0.01},
        }
    )
    plan.overrides["layers.0.v"] = LayerOverride(
        input={"format": "int8_asym", "observer": "mse", "observer_settings": {"bins": 256}}
    )
    plan.overrides["layers.0.o"] = LayerOverride(
        input={
            "format": "fp8_e5m2",
            "observer": "entropy",
            "observer_settings": {"bins": 512, "num_candidates": 64},
        }
    )
    channel = QuantSpec("int8", granularity="channel", axis=0)
    plan.scales["layers.0.q"] = {
        "weight": QParams(torch.tensor([0.5, 0.25]), torch.zeros(2, dtype=torch.int32), channel),
        "input": QParams(
            torch.tensor(0.125), torch.tensor(3, dtype=torch.int32), QuantSpec("uint8")
        ),
    }
    plan.smoothing["layers.0.q"] = [1.0, 2.0]
    plan.smoothing_alpha["layers.0.q"] = 0.5
    return json.loads(json.dumps(plan.to_dict()))


def valid_session_document() -> dict[str, Any]:
    session = SessionState(
        model="sample:minilm",
        settings={"samples": 16, "seq_len": 128, "observer": "minmax"},
        plan=valid_plan_document(),
        analysis_path="/data/analysis.json",
        current_layer="layers.0.q",
        results={"evaluation": {"perplexity": 12.5}},
    )
    return json.loads(json.dumps(session.to_dict()))


VALID_PLAN = valid_plan_document()
VALID_SESSION = valid_session_document()

# Strings that the readers compare against, so mutations often reach deep checks.
KNOWN_WORDS = [
    *PLAN_FIELDS,
    *TENSOR_FIELDS,
    "quantviz-plan",
    "quantviz-session",
    "float",
    "fp8_e4m3",
    "fp8_e5m2",
    "int8_sym",
    "int8_asym",
    "int8",
    "uint8",
    "fp8_e4m3fn",
    "tensor",
    "channel",
    "group",
    "minmax",
    "percentile",
    "entropy",
    "mse",
    "moving_average",
    "averaging_constant",
    "bins",
    "num_candidates",
    "min_fraction",
    "weight",
    "input",
    "pattern",
    "smoothquant_alpha",
    "spec",
    "shape",
    "scale",
    "zero_point",
    "axis",
    "symmetric",
    "narrow_range",
    "*",
    "",
    "\x00",
    "\ud7ff\U0001d518\u202e",
]
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 2, 10**400, -(10**400), 2**63, 2**31]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(KNOWN_WORDS),
    st.text(max_size=12),
)
KEYS = st.one_of(st.sampled_from(KNOWN_WORDS), st.text(max_size=8))
VALUES = st.recursive(
    LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=4)
    ),
    max_leaves=10,
)


def random_json(rng: random.Random, depth: int = 0) -> Any:
    """A random JSON value: leaves from LEAF_POOL, lists and objects up to depth 3."""
    kind = rng.random()
    if depth >= 3 or kind < 0.6:
        return rng.choice(LEAF_POOL)
    if kind < 0.8:
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(KNOWN_WORDS): random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))}


LEAF_POOL = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2,
    7,
    32,
    0.5,
    1.5,
    -0.0,
    1e-320,
    1e308,
    math.nan,
    math.inf,
    -math.inf,
    10**400,
    -(10**400),
    2**31,
    2**63,
    2**64 + 1,
    "x" * 10_000,
    *KNOWN_WORDS,
]
# Hypothesis draws one index into this pool per edit. A generated document then costs
# about 1 ms, against 4 ms when a recursive strategy draws the values themselves.
VALUE_POOL = LEAF_POOL + [random_json(random.Random(seed)) for seed in range(300)]
# Keys for added fields: field names the readers know, others and odd strings.
KEY_POOL = [*KNOWN_WORDS, "colour", "0", " format", "FORMAT", "weight ", "__proto__"]
# Built once: Hypothesis hashes a sampled_from pool each time such a strategy is created.
VALUE_INDEXES = st.integers(0, len(VALUE_POOL) - 1)
KEY_INDEXES = st.integers(0, len(KEY_POOL) - 1)


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every position in a JSON document, as a tuple of keys and indexes from the root."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths(value, (*prefix, index))
    return found


def at(document: Any, path: tuple) -> Any:
    for key in path:
        document = document[key]
    return document


ACTIONS = ("replace", "delete", "add", "retype")
SEED_PATHS: dict[str, list[tuple]] = {}


@st.composite
def mutated(draw: st.DrawFn, seed_text: str) -> Any:
    """Apply one to three random edits to the JSON document ``seed_text``.

    An edit picks any position and replaces its value, deletes it, adds a key or item
    next to it, or changes its type (wrapped in a list or an object, or made a string).
    """
    # json.loads copies the seed about 20 times faster than copy.deepcopy.
    document: Any = json.loads(seed_text)
    if seed_text not in SEED_PATHS:
        SEED_PATHS[seed_text] = paths(document)
    for edit in range(draw(st.integers(1, 3))):
        positions = SEED_PATHS[seed_text] if edit == 0 else paths(document)
        path = positions[draw(st.integers(0, len(positions) - 1))]
        action = ACTIONS[draw(st.integers(0, len(ACTIONS) - 1))]
        value = copy.deepcopy(VALUE_POOL[draw(VALUE_INDEXES)])
        target = at(document, path)
        if action == "add" and isinstance(target, dict):
            target[KEY_POOL[draw(KEY_INDEXES)]] = value
            continue
        if action == "add" and isinstance(target, list):
            target.append(value)
            continue
        if action == "retype":
            retyped = ([target], {"value": target}, str(target), len(str(target)))
            value = retyped[draw(st.integers(0, len(retyped) - 1))]
        if not path:
            document = value
        elif action == "delete":
            del at(document, path[:-1])[path[-1]]
        else:
            at(document, path[:-1])[path[-1]] = value
    return document


def is_finite_json(document: Any) -> bool:
    try:
        json.dumps(document, allow_nan=False)
    except (ValueError, RecursionError):
        return False
    return True


def check_plan_document(document: Any) -> None:
    try:
        plan = PrecisionPlan.from_dict(document)
    except QuantvizError:
        return
    for name in ("layers.0.q", "layers.1.mlp.down_proj", ""):
        # Loading checks each section on its own, so a rule may still combine with the
        # defaults into an invalid configuration; resolving then names the rule.
        try:
            plan.resolve(name)
        except QuantvizError as error:
            assert "rules[" in str(error) or "overrides[" in str(error)
    # Whatever loads can be saved: plans are written with allow_nan=False.
    saved = json.dumps(plan.to_dict(), allow_nan=False)
    assert PrecisionPlan.from_dict(json.loads(saved)).to_dict() == plan.to_dict()


def test_valid_seeds_load():
    plan = PrecisionPlan.from_dict(VALID_PLAN)
    assert plan.to_dict() == VALID_PLAN
    session = SessionState.from_dict(VALID_SESSION)
    assert session.to_dict() == VALID_SESSION


@MANY
@given(mutated(json.dumps(VALID_PLAN)))
def test_mutated_plans_load_or_raise(document):
    check_plan_document(document)


def single_edits(seed: dict[str, Any]) -> list[Any]:
    """Every document that one edit makes from ``seed``: each position replaced by each
    value of LEAF_POOL, deleted, or wrapped in a list."""
    documents = []
    for path in paths(seed)[1:]:
        for value in [*LEAF_POOL, "delete", "wrap"]:
            document = copy.deepcopy(seed)
            parent = at(document, path[:-1])
            if value == "delete":
                del parent[path[-1]]
            elif value == "wrap":
                parent[path[-1]] = [parent[path[-1]]]
            else:
                parent[path[-1]] = value
            documents.append(document)
    return documents


def test_every_single_edit_of_plan():
    """All single edits, which the random fuzzing above reaches only by chance."""
    documents = single_edits(VALID_PLAN)
    assert len(documents) > 5_000
    for document in documents:
        check_plan_document(document)


@FEW
@given(VALUES)
def test_arbitrary_json_is_not_a_plan(document):
    with pytest.raises(QuantvizError):
        PrecisionPlan.from_dict(document)


@FEW
@given(mutated(json.dumps(VALID_SESSION)))
def test_mutated_sessions_load_or_raise(document):
    try:
        session = SessionState.from_dict(document)
    except QuantvizError:
        return
    if session.plan is not None:
        check_plan_document(session.plan)
    if is_finite_json(document):
        saved = json.dumps(session.to_dict(), allow_nan=False)
        assert SessionState.from_dict(json.loads(saved)).to_dict() == session.to_dict()


@pytest.fixture(scope="module")
def fuzz_folder():
    with tempfile.TemporaryDirectory(prefix="quantviz-fuzz-") as folder:
        yield Path(folder)


@FEW
@given(
    text=st.just(json.dumps(VALID_PLAN, indent=1)),
    edits=st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 4), st.text(max_size=3)),
        min_size=1,
        max_size=4,
    ),
)
def test_edited_plan_text_loads_or_raises(fuzz_folder, text, edits):
    """Character edits to the file text: cut, insert or replace at random places."""
    for fraction, length, insert in edits:
        position = int(fraction * len(text))
        text = text[:position] + insert + text[position + length :]
    path = fuzz_folder / "plan.json"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        plan = PrecisionPlan.load(path)
    except QuantvizError as error:
        assert str(path) in str(error)
        return
    json.dumps(plan.to_dict(), allow_nan=False)


@FEW
@given(st.binary(max_size=64))
def test_binary_plan_file_raises(fuzz_folder, data):
    path = fuzz_folder / "binary-plan.json"
    path.write_bytes(b"\x89PNG" + data)
    with pytest.raises(QuantvizError, match=r"binary-plan\.json"):
        PrecisionPlan.load(path)


# Cases found by the fuzzers above, kept as fixed examples with the expected message.
FOUND_CASES = {
    "format_is_list": (("defaults", "weight", "format"), [1], "defaults.weight.format"),
    "observer_is_object": (("defaults", "input", "observer"), {}, "defaults.input.observer"),
    "alpha_beyond_float": (("defaults", "smoothquant_alpha"), 10**400, "smoothquant_alpha"),
    "smoothing_beyond_float": (("smoothing", "layers.0.q", 0), 10**400, "smoothing["),
    "smoothing_alpha_beyond_float": (
        ("smoothing_alpha", "layers.0.q"),
        10**400,
        "smoothing_alpha[",
    ),
    "scale_spec_format_list": (
        ("scales", "layers.0.q", "weight", "spec", "format"),
        ["int8"],
        "scales['layers.0.q']['weight']",
    ),
    "scale_spec_is_list": (
        ("scales", "layers.0.q", "weight", "spec"),
        [1],
        "scales['layers.0.q']['weight'].spec",
    ),
}


@pytest.mark.parametrize("case", sorted(FOUND_CASES))
def test_found_plan_case_is_clear_error(case):
    path, value, where = FOUND_CASES[case]
    document = copy.deepcopy(VALID_PLAN)
    at(document, path[:-1])[path[-1]] = value
    with pytest.raises(QuantvizError) as error:
        PrecisionPlan.from_dict(document)
    assert where in str(error.value)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_plan_file_with_nan_literal(tmp_path, literal):
    """Python's json module reads these literals, but a plan containing them cannot be saved."""
    document = copy.deepcopy(VALID_PLAN)
    document["model"]["accuracy"] = "PLACEHOLDER"
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document).replace('"PLACEHOLDER"', literal))
    with pytest.raises(QuantvizError, match="model must contain only JSON values without NaN"):
        PrecisionPlan.load(path)


def test_session_nan_result_saved_as_null(tmp_path):
    """Results are measurements, so NaN loads and is written as null, as in analysis.json."""
    document = copy.deepcopy(VALID_SESSION)
    document["results"]["evaluation"]["perplexity"] = "PLACEHOLDER"
    path = tmp_path / "work.qvsession"
    path.write_text(json.dumps(document).replace('"PLACEHOLDER"', "NaN"))
    session = SessionState.load(path)
    assert math.isnan(session.results["evaluation"]["perplexity"])

    saved = session.save(tmp_path / "saved.qvsession")
    data = json.loads(saved.read_text(), parse_constant=reject_constant)
    assert data["results"]["evaluation"] == {"perplexity": None}
    assert data["plan"] == VALID_SESSION["plan"]
    assert data["settings"] == VALID_SESSION["settings"]
    # The session in memory keeps its value; only the file has null.
    assert math.isnan(session.results["evaluation"]["perplexity"])


def test_session_nonfinite_results_in_code(tmp_path):
    """An evaluation of a model with NaN weights gives non-finite losses; saving still works."""
    session = SessionState.from_dict(VALID_SESSION)
    session.results = {
        "evaluation": {"kl": math.nan, "perplexity_quant": math.inf, "positions": 30},
        "qat": {"history": [[1, -math.inf], [2, 0.5]]},
    }
    path = session.save(tmp_path / "work.qvsession")
    reloaded = SessionState.load(path)
    assert reloaded.results == {
        "evaluation": {"kl": None, "perplexity_quant": None, "positions": 30},
        "qat": {"history": [[1, None], [2, 0.5]]},
    }


def reject_constant(constant: str):
    """``parse_constant`` hook: NaN and Infinity are not valid JSON."""
    raise AssertionError(f"the saved file contains {constant}")


# (position in the session, the field the message must name)
NAN_IN_USER_WORK = {
    "settings": (("settings", "samples"), "settings.samples"),
    "plan_alpha": (("plan", "defaults", "smoothquant_alpha"), "plan.defaults.smoothquant_alpha"),
    "plan_scale": (
        ("plan", "scales", "layers.0.q", "weight", "scale", 1),
        "plan.scales['layers.0.q'].weight.scale[1]",
    ),
}


@pytest.mark.parametrize("case", sorted(NAN_IN_USER_WORK))
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_session_nan_in_user_work(tmp_path, case, literal):
    """Settings and plan are the user's work: NaN there is rejected, as in plan files."""
    position, field_name = NAN_IN_USER_WORK[case]
    document = copy.deepcopy(VALID_SESSION)
    at(document, position[:-1])[position[-1]] = "PLACEHOLDER"
    path = tmp_path / "work.qvsession"
    path.write_text(json.dumps(document).replace('"PLACEHOLDER"', literal))
    with pytest.raises(QuantvizError) as error:
        SessionState.load(path)
    message = str(error.value)
    assert str(path) in message
    assert f"session {field_name} is " in message
    assert "must contain only JSON values without NaN" in message


def test_session_save_nan_in_settings(tmp_path):
    session = SessionState.from_dict(VALID_SESSION)
    session.settings["samples"] = math.nan
    path = tmp_path / "work.qvsession"
    with pytest.raises(QuantvizError, match=r"session settings\.samples is nan") as error:
        session.save(path)
    assert str(path) in str(error.value)
    assert not path.exists()


@pytest.mark.parametrize("depth", [5_000, 200_000])
def test_deeply_nested_plan_file(tmp_path, depth):
    path = tmp_path / "plan.json"
    path.write_text('{"format": "quantviz-plan", "version": 1, "model": ' + "[" * depth)
    with pytest.raises(QuantvizError, match=r"nested too deeply|not valid JSON") as error:
        PrecisionPlan.load(path)
    assert str(path) in str(error.value)
    path.write_text("[" * depth + "]" * depth)
    with pytest.raises(QuantvizError, match="nested too deeply") as error:
        PrecisionPlan.load(path)
    assert str(path) in str(error.value)


def test_newer_session_version(tmp_path):
    document = copy.deepcopy(VALID_SESSION)
    document["version"] = 2
    path = tmp_path / "newer.qvsession"
    path.write_text(json.dumps(document))
    with pytest.raises(QuantvizError, match="session version 2 is newer") as error:
        SessionState.load(path)
    assert "upgrade quantviz" in str(error.value)

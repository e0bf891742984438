"""The fast writers (yamltext, jsontext) are exact: random values give the same text as the slow reference
they replace."""

from __future__ import annotations

import json
from collections import OrderedDict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ckredis import yamltext
from ckredis.jsontext import indented_json

pytestmark = pytest.mark.slow  # thousands of random values: left out of the fast run (README, Test it)

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.sampled_from(["", "\n", "\u2028", "é", "\x00", '"', "\\", "{}", "[]", "😀"])
)
_KEYS = st.text(max_size=8)
# Mostly text keys (the fast path), sometimes keys json converts (ints, floats, booleans, None), never mixed
# kinds in one mapping (json's sort refuses those too); lists and tuples (json writes both as arrays).
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=5)
        | st.tuples(children, children)
        | st.dictionaries(_KEYS, children, max_size=5)
        | st.dictionaries(st.integers(), children, max_size=3)
        | st.dictionaries(st.sampled_from([True, False, None]), children, max_size=2)
    ),
    max_leaves=30,
)


def _outcome(dump, value):
    """The text, or the kind of error (json refuses keys it cannot sort or convert, e.g. None next to True)."""
    try:
        return dump(value)
    except TypeError:
        return TypeError


@settings(max_examples=1000, deadline=None, derandomize=True, database=None)
@given(JSON_VALUES)
def test_indented_json_is_json_dumps_indent_2_sorted(value):
    reference = _outcome(lambda v: json.dumps(v, indent=2, sort_keys=True), value)
    assert _outcome(indented_json, value) == reference


def test_indented_json_of_empty_and_nested_empty_containers():
    for value in [{}, [], (), {"a": {}}, {"a": []}, [[], {}, [[]]], {"a": {"b": {}}, "c": ()}]:
        assert indented_json(value) == json.dumps(value, indent=2, sort_keys=True)


def test_indented_json_refuses_what_json_refuses():
    for value in [{"a": {1, 2}}, [object()], {1: "a", "b": 2}]:
        for dump in (indented_json, lambda v: json.dumps(v, indent=2, sort_keys=True)):
            try:
                dump(value)
            except TypeError:
                continue
            raise AssertionError(f"{dump} accepted {value!r}")


# Strings near every rule of PyYAML's plain-scalar analysis and of plain_is_text: indicators, ': ', ' #', spaces at
# either end, document markers, line breaks, booleans, numbers, dates.
_TRICKY = st.text(
    alphabet=st.sampled_from(
        list(" -:#.?!&*|>'\"%@`,[]{}\t\n\r=~<+_/$()^;0123456789abcefnorstuxyNYT\u00e9\u2028\u2029\x85\x00")
    ),
    max_size=12,
)
_ASCII = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30)
# Names and expressions (mostly taking the plain shortcut), sentences with ': ' and ' #' (the quoted one).
_NAMES = st.from_regex(r"[A-Za-z0-9_(/$.?:-][ -~]{0,40}", fullmatch=True)
_SENTENCES = st.builds("".join, st.lists(_ASCII | st.sampled_from([": ", " #", ":", "#", "'", "- ", "? "]), max_size=6))
SCALAR_TEXTS = (
    _TRICKY
    | _ASCII
    | st.text()
    | _NAMES
    | _SENTENCES
    | st.builds(" ".join, st.lists(_ASCII, min_size=30, max_size=60))  # near and over the 1000 limit
    | st.sampled_from(
        [
            "...",
            "---",
            "- a",
            "? a",
            "a:",
            "a: b",
            "a #b",
            "a#b",
            "yes",
            "1_000",
            "2001-02-03",
            "-",
            "?",
            ":",
            "--- a",
            "... a",
            "-a",
            "?a",
            ":a",
            "a'b",
            "'a",
            "",
            " ",
        ]
    )
)


@settings(max_examples=3000, deadline=None, derandomize=True, database=None)
@given(SCALAR_TEXTS)
def test_scalar_shortcut_writes_what_yaml_dump_writes(text):
    assert yamltext._scalar_text.__wrapped__(text) == yamltext._dumped_scalar(text)


def test_scalar_shortcuts_are_taken_for_ordinary_names_expressions_and_sentences():
    for text in [
        "redis-00027",
        "rfs-redis-00027.redis-27.svc.cluster.local:26379",
        '(redis_up{namespace="a"} or up{})',
    ]:
        assert yamltext._plain_as_is(text) and yamltext.plain_is_text(text)
        assert yamltext._dumped_scalar(text) == text
    for text in ["Redis a/b: no {{ $labels.missing }} metrics", "it's: here", "yes", "1_000"]:
        assert yamltext._never_plain(text) or not yamltext.plain_is_text(text)
        assert yamltext._dumped_scalar(text) == "'" + text.replace("'", "''") + "'"


def _reference_lines(value: object, indent: int) -> list[str]:
    """The block emitter before it was made faster (copied verbatim), the reference for yamltext.to_yaml."""
    pad, lines = " " * indent, []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list, tuple)) and item:
                lines += [f"{pad}{yamltext._scalar(key)}:", *_reference_lines(item, indent + 2)]
            else:
                lines.append(f"{pad}{yamltext._scalar(key)}: {yamltext._scalar(item)}")
        return lines
    for item in value:
        if isinstance(item, (dict, list, tuple)) and item:
            nested = _reference_lines(item, indent + 2)
            lines += [f"{pad}- {nested[0][indent + 2 :]}", *nested[1:]]
        else:
            lines.append(f"{pad}- {yamltext._scalar(item)}")
    return lines


def _reference_yaml(value: object, indent: int) -> str:
    if isinstance(value, (dict, list, tuple)) and value:
        return ("\n" + " " * indent).join(_reference_lines(value, 0))
    return yamltext._scalar(value)


_YAML_SCALARS = st.none() | st.booleans() | st.integers() | SCALAR_TEXTS
YAML_VALUES = st.recursive(
    _YAML_SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(_YAML_SCALARS, children, max_size=4)
        | st.dictionaries(st.text(max_size=3), children, max_size=3).map(OrderedDict)
    ),
    max_leaves=30,
)


@settings(max_examples=1000, deadline=None, derandomize=True, database=None)
@given(YAML_VALUES, st.integers(0, 8))
def test_to_yaml_writes_what_the_reference_emitter_writes(value, indent):
    assert yamltext.to_yaml(value, indent) == _reference_yaml(value, indent)


@settings(max_examples=1000, deadline=None, derandomize=True, database=None)
@given(SCALAR_TEXTS)
def test_has_line_break_is_the_set_test(text):
    assert yamltext.has_line_break(text) == bool(yamltext._LINE_BREAKS.intersection(text))


def test_equal_scalars_of_different_types_are_written_as_their_own_type():
    # True == 1 == 1.0 and False == 0: a cache keyed by value alone would write the first one seen for all.
    assert [yamltext.to_yaml(value) for value in (True, 1, 1.0, False, 0, 0.0)] == [
        "true",
        "1",
        "1.0",
        "false",
        "0",
        "0.0",
    ]

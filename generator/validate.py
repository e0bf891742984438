"""Stage 2, validate: JSON Schema plus the cross-field rules it cannot express, as located Issues.

`validate(document)` returns the spec with schema defaults filled in, or raises SpecError listing every
problem in document order. Nothing here prints or exits.
"""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Iterator
from functools import cache

import jsonschema

from generator import rules
from generator.errors import Issue, SpecError
from generator.load import Ambiguous, Document, Path_, format_path
from generator.paths import SCHEMA_FILE


@cache
def schema() -> dict:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


def validate(document: Document) -> dict:
    """The spec's data with defaults applied, or SpecError with every schema and cross-field problem."""
    issues = list(_schema_issues(document))
    if not issues:
        data = with_defaults(document.data)
        issues = [_locate(document, path, message, hint, key=False) for path, message, hint in rules.check(data)]
        if not issues:
            return data
    raise SpecError(issues)


def validate_data(data: object, source: str = "<data>") -> dict:
    """`validate` for data that did not come from a file (tests, fleet tooling)."""
    return validate(Document(source, data))


def with_defaults(data: object) -> dict:
    """A copy of valid data with every schema `default` filled in, outermost first."""
    filled = copy.deepcopy(data)
    _fill(schema(), filled)
    return filled


def _resolve(node: dict) -> dict:
    while "$ref" in node:
        node = {**schema()["$defs"][node["$ref"].rsplit("/", 1)[1]], **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _fill(node: dict, value: object) -> None:
    node = _resolve(node)
    if isinstance(value, dict):
        for name, sub in node.get("properties", {}).items():
            if name not in value and "default" in _resolve(sub):
                value[name] = copy.deepcopy(_resolve(sub)["default"])
            if name in value:
                _fill(sub, value[name])
    elif isinstance(value, list) and "items" in node:
        for item in value:
            _fill(node["items"], item)


def _locate(document: Document, path: Path_, message: str, hint: str, *, key: bool) -> Issue:
    line, column = document.position(path, key=key)
    return Issue(line, column, format_path(path), message, hint, document.source)


def _schema_issues(document: Document) -> Iterator[Issue]:
    errors = list(_validator().iter_errors(document.data))
    typed_paths = {tuple(e.absolute_path) for e in errors if e.validator == "type"}
    seen: set[tuple] = set()
    for error in errors:
        path = tuple(error.absolute_path)
        if error.validator != "type" and path in typed_paths:
            continue  # a wrong type explains every other complaint about the same value
        for issue in _explain(document, error, path):
            marker = (issue.line, issue.column, issue.path, issue.message)
            if marker not in seen:
                seen.add(marker)
                yield issue


def _explain(document: Document, error: jsonschema.ValidationError, path: Path_) -> Iterator[Issue]:
    value, kind, expected = error.instance, error.validator, error.validator_value
    if isinstance(value, Ambiguous):
        yield _locate(document, path, *_ambiguous(value, error.schema), key=False)
        return
    if kind == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        for name in sorted(set(value) - set(allowed), key=lambda n: document.position(path + (n,), key=True)):
            yield _locate(document, path + (name,), f"unknown key {name!r}", _closest(name, allowed, "key"), key=True)
        return
    if kind == "required":
        for name in expected:
            if name not in value:
                where = "the document" if not path else repr(format_path(path))
                yield _locate(document, path, f"missing required key {name!r} in {where}", "", key=True)
        return
    if kind == "propertyNames":
        yield _locate(document, path + (value,), f"{value!r} is not a valid label key",
                      "write prefix/name with a DNS subdomain prefix and a name of at most 63 letters, digits, '-', '_', '.'", key=True)
        return
    yield _locate(document, path, *_value_message(value, kind, expected, error.schema), key=False)


def _ambiguous(value: Ambiguous, node: dict) -> tuple[str, str]:
    wanted = node.get("type")
    if wanted == "boolean":
        return f"{value.text!r} is read as {value.reading} only by YAML 1.1 tools", "write true or false"
    return (f"{value.text!r} is read as {value.reading} by YAML 1.1 tools (kubectl, Helm)",
            f'quote it ("{value.text}") if you mean the text')


_TYPE_NAMES = {"string": "a string", "integer": "a whole number", "boolean": "true or false", "object": "a mapping",
               "array": "a list", "number": "a number"}


def _value_message(value: object, kind: str, expected: object, node: dict) -> tuple[str, str]:
    shown = json.dumps(value) if not isinstance(value, (dict, list)) else ("a mapping" if isinstance(value, dict) else "a list")
    if kind == "type":
        hint = "quote it" if expected == "string" and isinstance(value, (int, float, bool)) else ""
        return f"{shown} is not {_TYPE_NAMES.get(expected, expected)}", hint
    if kind == "enum":
        return f"{shown} is not one of {', '.join(map(str, expected))}", _closest(str(value), [str(e) for e in expected], "value")
    if kind == "const":
        return f"{shown} must be {json.dumps(expected)}", ""
    if kind in ("minimum", "maximum"):
        return f"{value} is {'below the minimum' if kind == 'minimum' else 'above the maximum'} {expected}", ""
    if kind == "not" and "multipleOf" in expected:
        return f"{value} is even; the count must be odd so a majority exists", f"use {value + 1}"
    if kind == "not" and "pattern" in expected:
        return f"{shown} uses the 'latest' tag", "pin a version tag or a digest"
    if kind == "pattern":
        return f"{shown} is not valid here", node.get("x-hint", f"it must match {expected}")
    if kind == "maxLength":
        return f"{shown} is longer than {expected} characters", ""
    if kind == "minProperties":
        return "must not be empty", "an empty selector would select every pod; list the labels of the pods you mean"
    if kind == "maxProperties":
        return f"has more than {expected} entries", ""
    return f"{shown}: {kind} {expected} not satisfied", ""


def _closest(word: str, choices: list[str], what: str) -> str:
    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if match:
        return f"did you mean {match[0]!r}?"
    return f"valid {what}s: {', '.join(choices)}" if len(choices) <= 12 else ""

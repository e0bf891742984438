"""Stage 2, validate: JSON Schema plus the cross-field rules it cannot express, as located Issues.

`validate(document)` returns the spec with schema defaults filled in, or raises SpecError listing every
problem in document order. Nothing here prints or exits.
"""

from __future__ import annotations

import copy
import difflib
import json
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import cache
from typing import Any, cast

import jsonschema

from ckredis import quantity, rules
from ckredis.errors import Issue, SpecError, clip, first_unsafe
from ckredis.load import Ambiguous, Document, SpecPath, format_path
from ckredis.paths import SCHEMA_FILE


@cache
def schema() -> dict:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


@cache
def _validator() -> jsonschema.Draft202012Validator:
    # JSON Schema counts 3.0 as an integer; a spec must not, or `replicas: 3.0` would be rendered as written.
    types = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)
    )
    return jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=types)(schema())


def validate(document: Document) -> dict:
    """The spec's data with defaults applied, or SpecError with every problem: those found while reading, the
    schema's, and those of the cross-field rules whose inputs are valid."""
    errors = [
        error
        for error in _validator().iter_errors(document.data)
        if not any(_within(tuple(error.absolute_path), path) for path in document.unreadable)
    ]
    issues = [*document.issues, *_schema_issues(document, errors)]
    invalid = document.unreadable | set(_invalid_paths(errors))
    if () not in invalid and isinstance(document.data, dict):  # the schema's root is a mapping
        data = with_defaults(document.data)
        issues += [_locate(document, path, message, hint) for path, message, hint in rules.check(data, invalid)]
        if not issues:
            return data
    raise SpecError(issues)


def _within(path: SpecPath, ancestor: SpecPath) -> bool:
    return path[: len(ancestor)] == ancestor


def _invalid_paths(errors: list[jsonschema.ValidationError]) -> Iterator[SpecPath]:
    """Where each schema error is: an unknown or missing key at its own path, not at the mapping holding it."""
    for error in errors:
        path = tuple(error.absolute_path)
        kind, value, expected, node = _failed(error)
        if kind == "additionalProperties":
            yield from (path + (name,) for name in set(value) - set(node.get("properties", {})))
        elif kind == "required":
            yield from (path + (name,) for name in expected if name not in value)
        else:
            yield path


def _failed(error: jsonschema.ValidationError) -> tuple[str, Any, Any, dict]:
    """The keyword that failed, the value, what the keyword wanted and the schema node holding it. iter_errors sets
    all four (only an error built by hand leaves them unset), and our schema's nodes are all mappings."""
    assert isinstance(error.validator, str) and isinstance(error.schema, dict)
    return error.validator, cast(Any, error.instance), cast(Any, error.validator_value), error.schema


def warnings(document: Document, data: dict) -> list[Issue]:
    """Located warnings about a valid spec (`data` as `validate` returned it); they never block rendering."""
    return [
        replace(_locate(document, path, message, hint), severity="warning")
        for path, message, hint in rules.advice(data)
    ]


def validate_data(data: object, source: str = "<data>") -> dict:
    """`validate` for data that did not come from a file (tests, fleet tooling)."""
    return validate(Document(source, data))


def with_defaults(data: dict) -> dict:
    """A copy of valid data with every schema `default` filled in, outermost first."""
    filled = copy.deepcopy(data)
    _fill(schema(), filled)
    return filled


def resolve_ref(node: dict) -> dict:
    """A schema node with its `$ref` replaced by the definition it names (the node's own keys win)."""
    while "$ref" in node:
        node = {**schema()["$defs"][node["$ref"].rsplit("/", 1)[1]], **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _fill(node: dict, value: object) -> None:
    node = resolve_ref(node)
    if isinstance(value, dict):
        node = with_conditions(node, value)
        for name, sub in node.get("properties", {}).items():
            if name not in value and "default" in resolve_ref(sub):
                value[name] = copy.deepcopy(resolve_ref(sub)["default"])
            if name in value:
                _fill(sub, value[name])
    elif isinstance(value, list) and "items" in node:
        for item in value:
            _fill(node["items"], item)


def with_conditions(node: dict, value: object) -> dict:
    """A schema node with the `then` of each `allOf` condition that `value` meets merged in: the engine's own
    default images win over Redis's, and a spec that leaves `engine` out meets no condition."""
    for condition in node.get("allOf", []):
        if "if" in condition and jsonschema.Draft202012Validator(condition["if"]).is_valid(value):
            node = _merged(node, condition["then"])
    return node


def _merged(base: dict, extra: dict) -> dict:
    merged = {**base, **{key: value for key, value in extra.items() if key != "properties"}}
    if "properties" in extra:
        own = base.get("properties", {})
        overlaid = {name: _merged(own.get(name, {}), sub) for name, sub in extra["properties"].items()}
        merged["properties"] = {**own, **overlaid}
    return merged


def _locate(document: Document, path: SpecPath, message: str, hint: str, *, key: bool | None = None) -> Issue:
    """An Issue at `path`: at its key when asked, by default when its value is empty or starts on a later line."""
    if key is None:
        key = (
            _value_at(document.data, path) is None or document.position(path, key=True)[0] < document.position(path)[0]
        )
    line, column = document.position(path, key=key)
    return Issue(line, column, format_path(path), message, hint, document.source)


def _value_at(data: object, path: SpecPath) -> object:
    for part in path:
        if isinstance(data, dict):
            data = data.get(part)
        else:
            data = data[part] if isinstance(data, list) and isinstance(part, int) and part < len(data) else None
    return data


def _schema_issues(document: Document, errors: list[jsonschema.ValidationError]) -> Iterator[Issue]:
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


def _explain(document: Document, error: jsonschema.ValidationError, path: SpecPath) -> Iterator[Issue]:
    kind, value, expected, node = _failed(error)
    if isinstance(value, Ambiguous):
        yield _locate(document, path, *_ambiguous(value, node), key=False)
        return
    if kind == "additionalProperties":
        allowed = sorted(node.get("properties", {}))
        for name in sorted(set(value) - set(allowed), key=lambda n: document.position(path + (n,), key=True)):
            hint = _UNKNOWN_KEY_HINTS.get(path + (name,)) or _elsewhere(name, path) or _closest(name, allowed, "key")
            yield _locate(document, path + (name,), f"unknown key {clip(name)!r}", hint, key=True)
        return
    if kind == "required":
        for name in expected:
            if name not in value:
                where = "the document" if not path else repr(format_path(path))
                yield _locate(document, path, f"missing required key {name!r} in {where}", "", key=True)
        return
    if tuple(error.schema_path)[-2:-1] == ("propertyNames",):
        yield _locate(
            document,
            path + (value,),
            f"{clip(value)!r} is not a valid label key",
            "a label key is an optional DNS subdomain and '/', then at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit",
            key=True,
        )
        return
    yield _locate(document, path, *_value_message(value, kind, expected, node, path))


_UNKNOWN_KEY_HINTS = {
    ("spec", "auth", "password"): "a spec never holds the password: keep it in a Secret under the key 'password' "
    "and name that Secret in auth.secretPath",
}


@cache
def _fields_by_name() -> dict[str, list[SpecPath]]:
    """Every field the schema knows, by its key (a list item's fields under the list's path + '[]')."""
    found: dict[str, list[SpecPath]] = {}

    def walk(node: dict, path: SpecPath) -> None:
        node = resolve_ref(node)
        for name, sub in node.get("properties", {}).items():
            found.setdefault(name, []).append(path + (name,))
            walk(sub, path + (name,))
        if "items" in node:
            walk(node["items"], path[:-1] + (f"{path[-1]}[]",))

    walk(schema(), ())
    return found


def _elsewhere(name: str, path: SpecPath) -> str:
    """Where a key unknown here is known: mis-indented keys belong in a nearby mapping, best below this one."""
    here = tuple(part for part in path if isinstance(part, str))
    places = sorted(_fields_by_name().get(name, []), key=lambda place: (place[: len(here)] != here, len(place), place))
    if not places:
        return ""
    return f"did you mean {' or '.join('.'.join(map(str, place)) for place in places[:3])}? check the indentation"


def _ambiguous(value: Ambiguous, node: dict) -> tuple[str, str]:
    wanted = node.get("type")
    if wanted == "boolean":
        return f"{clip(value.text)!r} is read as {value.reading} only by YAML 1.1 tools", "write true or false"
    if wanted in ("integer", "number"):
        return (
            f"{clip(value.text)!r} is not a plain decimal number; YAML 1.1 tools read it as {clip(value.reading)}",
            "write the number in decimal digits",
        )
    return (
        f"{clip(value.text)!r} is read as {value.reading} by {value.readers}",
        f'quote it ("{clip(value.text)}") if you mean the text',
    )


_TYPE_NAMES = {
    "string": "a string",
    "integer": "a whole number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "number": "a number",
}

# What a value that fails the pattern of a schema definition is not.
_PATTERN_NOUNS = {
    "dnsLabel": "a lowercase RFC 1123 label",
    "dnsSubdomain": "a lowercase RFC 1123 subdomain",
    "image": "an image reference with a registry host and a tag or digest",
    "cpu": "a CPU quantity",
    "memory": "a memory quantity",
}


def _pattern_noun(node: dict, path: SpecPath) -> str:
    defs = schema()["$defs"]
    if node is defs["labels"]["additionalProperties"]:
        return "a valid label value"
    field = path[-1] if path and isinstance(path[-1], str) else "value"
    return _PATTERN_NOUNS.get(_definition_name(node) or "", f"a valid {field}")


def _definition_name(node: dict) -> str | None:
    return next((name for name, definition in schema()["$defs"].items() if definition is node), None)


def _image_problem(value: str) -> tuple[str, str] | None:
    """What is missing from an image reference, when it is one of the usual omissions."""
    host, _, rest = value.partition("/")
    if not rest or "." not in host:
        return (
            "does not start with a registry host",
            "write the full reference, e.g. docker.io/library/redis:7.2.16-alpine",
        )
    if ":" not in rest.rsplit("/", 1)[-1] and "@" not in rest:
        return "has no tag or digest", "pin a version tag or a digest, e.g. docker.io/library/redis:7.2.16-alpine"
    return None


def _value_message(value: Any, kind: str, expected: Any, node: dict, path: SpecPath) -> tuple[str, str]:
    shown = (
        clip(json.dumps(value))
        if not isinstance(value, (dict, list))
        else ("a mapping" if isinstance(value, dict) else "a list")
    )
    if kind == "type":
        wanted = " or ".join(
            _TYPE_NAMES.get(name, name) for name in ([expected] if isinstance(expected, str) else expected)
        )
        if value is None:
            return f"has no value; write {wanted}", ""
        hint = "quote it" if expected == "string" and isinstance(value, (int, float, bool)) else ""
        if node is schema()["$defs"]["memory"] and isinstance(value, (int, float)) and not isinstance(value, bool):
            return f"{shown} has no unit", quantity.unit_hint(shown)
        if isinstance(value, str) and (
            expected in ("integer", "number")
            and _is_number(value)
            or expected == "boolean"
            and value in ("true", "false")
        ):
            hint = "remove the quotes"
        if expected == "integer" and isinstance(value, float) and value.is_integer():
            hint = f"write {int(value)}"
        if not path:
            hint = "a spec is a mapping of apiVersion, kind, metadata and spec; start from `ckredis init NAME`"
        return f"{shown} is not {wanted}", hint
    if kind == "enum":
        return f"{shown} is not one of {', '.join(map(str, expected))}", _closest(
            str(value), [str(e) for e in expected], "value"
        )
    if kind == "const":
        return f"{shown} must be {json.dumps(expected)}", ""
    if kind in ("minimum", "maximum"):
        return f"{value} is {'below the minimum' if kind == 'minimum' else 'above the maximum'} {expected}", ""
    if kind == "not" and "multipleOf" in expected:
        return f"{value} is even; the count must be odd so a majority exists", f"use {value + 1}"
    if kind == "not" and "pattern" in expected:
        return f"{shown} uses the 'latest' tag", "pin a version tag or a digest"
    if kind == "pattern":
        return _pattern_message(value, expected, node, path, shown)
    if kind == "maxLength":
        return f"{shown} is longer than {expected} characters", node.get("x-length-hint", "")
    if kind == "minProperties":
        return "must not be empty", "an empty selector would select every pod; list the labels of the pods you mean"
    if kind == "maxProperties":
        return f"has more than {expected} entries", ""
    return f"{shown}: {kind} {expected} not satisfied", ""


def _pattern_message(value: str, expected: Any, node: dict, path: SpecPath, shown: str) -> tuple[str, str]:
    """Why a string does not match its pattern: an unsafe character, a line break, an image or quantity mistake."""
    unsafe = first_unsafe(value.replace("\n", ""))
    if unsafe:
        return (
            f"{shown} holds the character U+{ord(unsafe):04X} "
            f"({unicodedata.name(unsafe, 'a control character').lower()})",
            "remove it; control, line-separator and bidirectional characters could change what a terminal, "
            "Helm's NOTES or a review shows",
        )
    if "\n" in value:
        return (
            f"{shown} holds a line break",
            "remove it; a block scalar (|) ends with one, write the value on the key's line",
        )
    problem = _image_problem(value) if node is schema()["$defs"]["image"] else None
    if problem:
        return f"{shown} {problem[0]}", problem[1]
    hint_for = _QUANTITY_HINTS.get(_definition_name(node) or "")
    fix = hint_for(value) if hint_for else None
    if fix:
        return f"{shown} is not {_pattern_noun(node, path)}", fix
    example = f"write it like {node['examples'][0]}" if node.get("examples") else f"it must match {expected}"
    return f"{shown} is not {_pattern_noun(node, path)}", node.get("x-hint", example)


_QUANTITY_HINTS: dict[str, Callable[[str], str | None]] = {"memory": quantity.memory_hint, "cpu": quantity.cpu_hint}


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _closest(word: str, choices: list[str], what: str) -> str:
    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if match:
        return f"did you mean {match[0]!r}?"
    return f"valid {what}s: {', '.join(choices)}" if len(choices) <= 12 else ""

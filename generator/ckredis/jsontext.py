"""`json.dumps(value, indent=2, sort_keys=True)`, byte for byte, faster.

Python's C encoder is used only without `indent`; with it, json falls back to a generator per nesting level in
pure Python. The Grafana dashboard (a few hundred nested objects per cluster) made that a hot spot of render.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json.encoder import encode_basestring_ascii  # the C function json.dumps uses (ensure_ascii=True)
from typing import Any

# JSON text of the scalars json.dumps writes itself, by exact type (subclasses take json's own, exact path).
_SCALAR_TEXT: dict[type, Callable[[Any], str]] = {  # each takes a value of its key's type
    str: encode_basestring_ascii,
    int: int.__repr__,
    bool: {True: "true", False: "false"}.__getitem__,
    type(None): lambda _: "null",
}
_EMPTY: dict[type, str] = {dict: "{}", list: "[]"}


def indented_json(value: object) -> str:
    """Exactly `json.dumps(value, indent=2, sort_keys=True)`, or the same TypeError. A value that contains itself
    ends in RecursionError rather than json's ValueError."""
    parts: list[str] = []
    _write(value, "\n", parts)
    return "".join(parts)


def _write(value: object, newline: str, parts: list[str]) -> None:
    """Append `value`'s JSON to parts; `newline` is a line break plus the indentation of the line value starts on."""
    scalar = _SCALAR_TEXT.get(type(value))
    if scalar:
        parts.append(scalar(value))
    elif type(value) in _EMPTY and value:
        start = len(parts)
        try:
            if isinstance(value, dict):  # exactly a dict or a list here (_EMPTY's types)
                _write_object(value, newline, parts)
            elif isinstance(value, list):
                _write_array(value, newline, parts)
        except TypeError:  # keys that are not text (json converts or refuses them), or a value json refuses
            del parts[start:]
            _write_as_json(value, newline, parts)
    elif type(value) in _EMPTY:
        parts.append(_EMPTY[type(value)])
    else:
        _write_as_json(value, newline, parts)


def _write_as_json(value: object, newline: str, parts: list[str]) -> None:
    # Anything else (floats, tuples, subclasses, odd keys): json's own text. Its line breaks each start a line of
    # this value, so indenting them by our depth nests it exactly as json would.
    parts.append(json.dumps(value, indent=2, sort_keys=True).replace("\n", newline))


def _write_object(value: dict, newline: str, parts: list[str]) -> None:
    inner = newline + "  "
    separator = "{" + inner
    for key in sorted(value):
        item = value[key]
        scalar = _SCALAR_TEXT.get(type(item))
        # encode_basestring_ascii raises TypeError on a key that is not text
        if scalar:  # inline: most members are scalars, and a call per member is most of the cost
            parts.append(f"{separator}{encode_basestring_ascii(key)}: {scalar(item)}")
        else:
            parts.append(f"{separator}{encode_basestring_ascii(key)}: ")
            _write(item, inner, parts)
        separator = "," + inner
    parts.append(newline + "}")


def _write_array(value: list, newline: str, parts: list[str]) -> None:
    inner = newline + "  "
    separator = "[" + inner
    for item in value:
        parts.append(separator)
        _write(item, inner, parts)
        separator = "," + inner
    parts.append(newline + "]")

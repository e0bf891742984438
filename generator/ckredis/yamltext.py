"""The YAML writer: values as block-style YAML, each scalar quoted exactly when some YAML reader (PyYAML, Go's yaml.v2,
YAML 1.2) would otherwise misread it. Every value from a spec reaches a manifest through `to_yaml`.

Byte for byte what PyYAML writes, faster: tests/test_fast_writers.py proves each shortcut against yaml.dump.
"""

from __future__ import annotations

import re
from functools import lru_cache

import yaml

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


# Plain scalars that some reader takes for something other than text: YAML 1.1 (PyYAML) and YAML 1.2 booleans
# and nulls, and Go's yaml.v2 (sigs.k8s.io/yaml: Helm, kubectl, Argo CD), which also reads y/Y/n/N as booleans.
_NOT_TEXT = re.compile(
    r"y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"
    r"|~|null|Null|NULL|<<|=|[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)"
)
# Numbers once underscores are dropped (Go drops every one): ints with a 0b/0o/0x/0 prefix or a sign, floats with
# only an exponent, YAML 1.1 base-60 numbers.
_NUMBER = re.compile(r"[-+]?(?:0[bBoOxX][0-9a-fA-F]+|[0-9]+(?::[0-9]+)*\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt \t].*)?")  # YAML 1.1 timestamps; PyYAML reads a date
_LINE_BREAKS = frozenset("\n\r\x85\u2028\u2029")  # YAML folds each of them inside a quoted scalar
_RESOLVER = yaml.resolver.Resolver()


def plain_is_text(text: str) -> bool:
    """True when every YAML reader that matters (PyYAML, Go's yaml.v2, YAML 1.2) reads `text`, written plain, as
    this very string. Saying False for a string that is safe only costs a pair of quotes."""
    pyyaml_tag = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))
    return not (
        pyyaml_tag != "tag:yaml.org,2002:str"
        or _NOT_TEXT.fullmatch(text)
        or _NUMBER.fullmatch(text.replace("_", ""))
        or _DATE.fullmatch(text)
        or has_line_break(text)
    )


def has_line_break(text: str) -> bool:
    """Whether text holds one of _LINE_BREAKS; substring tests, several times faster than a set of the characters."""
    return (
        "\n" in text or "\r" in text or not text.isascii() and ("\x85" in text or "\u2028" in text or "\u2029" in text)
    )


# yaml.dump is most of the cost of a new scalar, and a fleet brings new names into hundreds of texts per spec. Printable
# ASCII on one line (no tabs, no line breaks: nothing PyYAML escapes) is written either plain or single-quoted, so
# for the texts matched below the outcome is known without dumping; tests/test_fast_writers.py proves each shortcut
# against yaml.dump, and anything else is dumped.
_SHORT_ASCII = re.compile(r"[ -~]{1,1000}")
_PLAIN_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_(/$")
_INDICATOR_FIRST = frozenset(" #,[]{}&*!|>'\"%@`")


def _plain_as_is(text: str) -> bool:
    """Printable one-line ASCII that PyYAML writes plain and unchanged: no '#', no ':' before a space or at the end,
    not starting with an indicator, '.', '-', '?' (of '...', '- ', '? ') or a space, not ending with a space.
    Substring tests, not a regular expression: they cost the same on long expressions as on names."""
    return text[0] in _PLAIN_FIRST and text[-1] not in " :" and "#" not in text and ": " not in text


def _never_plain(text: str) -> bool:
    """Printable one-line ASCII that PyYAML refuses to write plain: an indicator or space first, a document marker,
    '- ', '? ' or ': ' first (or alone), ': ' or ' #' inside, ':' or a space last."""
    return (
        text[0] in _INDICATOR_FIRST
        or text.startswith(("---", "..."))
        or text[0] in "-?:"
        and text[1:2] in ("", " ")
        or ": " in text
        or " #" in text
        or text[-1] in ": "
    )


@lru_cache(
    maxsize=8192, typed=True
)  # typed: True == 1 == 1.0 are one key, but each is written differently; bounded: a fleet brings new names without end
def _scalar_text(value: object) -> str:
    """One scalar as YAML, quoted exactly when a YAML reader would otherwise misread it."""
    if type(value) is str and _SHORT_ASCII.fullmatch(value):
        return _ascii_text(value)
    return _dumped_scalar(value)


def _ascii_text(text: str) -> str:
    """What _dumped_scalar writes for printable ASCII on one line, without dumping when the outcome is known."""
    plain = plain_is_text(text)
    if plain and _plain_as_is(text):
        return text
    if not plain or _never_plain(text):  # single quotes, PyYAML's choice (and ours when plain misreads)
        return "'" + text.replace("'", "''") + "'"
    return _dumped_scalar(text)


def _dumped_scalar(value: object) -> str:
    """One scalar as YAML, written by PyYAML: the reference for _scalar_text's shortcut."""
    style = None
    if isinstance(value, str) and not plain_is_text(value):
        # Double quotes escape line breaks (so the scalar stays on one line); single quotes are PyYAML's own choice.
        style = '"' if _LINE_BREAKS.intersection(value) else "'"
    text = yaml.dump(value, Dumper=_Dumper, width=10**6, allow_unicode=True, default_style=style)
    return text.removesuffix("...\n").rstrip("\n")


_CONTAINERS = (dict, list, tuple)


def _scalar(value: object) -> str:
    if isinstance(value, _CONTAINERS):
        return "{}" if isinstance(value, dict) else "[]"
    return _scalar_text(value)


def _emit(value: dict | list | tuple, pad: str, lines: list[str]) -> None:
    """Append the block-style lines of a non-empty mapping or sequence, indented by `pad`; list items are
    indented under their key. One shared list and inlined scalars: this runs for every node of every manifest."""
    if isinstance(value, dict):
        for key, item in value.items():
            key_text = _scalar_text(key) if type(key) is str else _scalar(key)
            if isinstance(item, _CONTAINERS):
                if item:
                    lines.append(f"{pad}{key_text}:")
                    _emit(item, pad + "  ", lines)
                    continue
                text = "{}" if isinstance(item, dict) else "[]"
            else:
                text = _scalar_text(item)
            lines.append(f"{pad}{key_text}: {text}")
        return
    inner = pad + "  "
    for item in value:
        if isinstance(item, _CONTAINERS):
            if item:  # the item's first line goes after the dash
                first = len(lines)
                _emit(item, inner, lines)
                lines[first] = f"{pad}- {lines[first][len(inner) :]}"
                continue
            text = "{}" if isinstance(item, dict) else "[]"
        else:
            text = _scalar_text(item)
        lines.append(f"{pad}- {text}")


def to_yaml(value: object, indent: int = 0) -> str:
    """YAML for a value, continuation lines indented to sit under a key at `indent` spaces.

    Every value from a spec passes through here, so it is quoted exactly when YAML would misread it.
    """
    if isinstance(value, _CONTAINERS) and value:
        lines: list[str] = []
        _emit(value, "", lines)
        return ("\n" + " " * indent).join(lines)
    return _scalar(value)

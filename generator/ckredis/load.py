"""Stage 1, load: read one YAML document into plain data and remember where every key and value is.

Scalars are typed the way YAML 1.1 tools (kubectl, Helm, PyYAML) read them, but the readings that
YAML 1.2 disagrees with (yes/no/on/off, dates, octal-looking and sexagesimal numbers) are kept as
`Ambiguous` values: they match no schema type, so validation reports them with a hint to quote them.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ckredis.errors import Issue, SpecError, clip

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_BYTES = 1 << 20
MAX_DEPTH = 32  # a spec is about 6 levels deep
MAX_VALUES = 10_000  # a spec has about 100 values; aliases must not multiply them without bound
STDIN = "-"

SpecPath = tuple[str | int, ...]  # the keys and list indexes from the document root to one value

_DECIMAL = re.compile(r"^[-+]?(0|[1-9][0-9]*)\Z")
_FLOAT = re.compile(r"^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?\Z")
_TRUE_FALSE = {"true": True, "false": False}
_NULLS = {"", "~", "null", "Null", "NULL"}
_COLLECTION_TAGS = {yaml.MappingNode: "tag:yaml.org,2002:map", yaml.SequenceNode: "tag:yaml.org,2002:seq"}
_CONSTRUCT = yaml.constructor.SafeConstructor()  # only to tell what a YAML 1.1 reader makes of a scalar
_YAML11_TOOLS = "YAML 1.1 tools (kubectl, Helm)"
_PYYAML = "YAML 1.1 parsers such as PyYAML"  # Go's YAML keeps dates and base-60 numbers as text


@dataclass(frozen=True)
class Ambiguous:
    """A plain scalar that YAML 1.1 and YAML 1.2 read differently."""

    text: str
    reading: str
    readers: str = _YAML11_TOOLS

    def __repr__(self) -> str:
        return repr(self.text)


@dataclass
class Document:
    """A loaded spec: its data and the 1-based (line, column) of each key and value by path."""

    source: str
    data: object
    values: dict[SpecPath, tuple[int, int]] = field(default_factory=dict)
    keys: dict[SpecPath, tuple[int, int]] = field(default_factory=dict)
    # Problems found while reading that still leave the rest of the document checkable, and the paths of the
    # values those problems dropped (validation says nothing more about them).
    issues: list[Issue] = field(default_factory=list)
    unreadable: set[SpecPath] = field(default_factory=set)

    def position(self, path: SpecPath, *, key: bool = False) -> tuple[int, int]:
        """Where `path` is written: its key when asked and known, else its value, else its nearest parent."""
        for depth in range(len(path), -1, -1):
            prefix = path[:depth]
            if key and prefix in self.keys:
                return self.keys[prefix]
            if prefix in self.values:
                return self.values[prefix]
        return (1, 1)


def format_path(path: SpecPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{clip(part)}" if text else clip(part))
    return text


def read_bytes(source: str) -> bytes:
    """A spec file's bytes, up to one more than a spec may have; OSError as open() raises it."""
    with open(source, "rb") as handle:
        return handle.read(MAX_BYTES + 1)


def read_text(source: str, raw: bytes | None = None) -> str:
    """The spec's text (from raw, its bytes, when already read), or a located error for anything that is not a
    readable UTF-8 text file."""

    def fail(message: str, hint: str = "") -> SpecError:
        return SpecError([Issue(1, 1, "", message, hint, source)])

    if raw is None and source == STDIN:
        raw = sys.stdin.buffer.read(MAX_BYTES + 1)
    elif raw is None:
        path = Path(source)
        try:
            if path.is_dir():
                raise fail("is a directory, not a spec file", "pass the spec files inside it, e.g. examples/*.yaml")
            raw = read_bytes(source)
        except FileNotFoundError:
            raise fail("no such file") from None
        except PermissionError:
            raise fail("cannot read the file: permission denied") from None
        except OSError as error:
            raise fail(f"cannot read the file: {error.strerror or error}") from None
    if len(raw) > MAX_BYTES:
        raise fail(f"larger than {MAX_BYTES // 1024} KiB; a spec is a short YAML file")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise fail("UTF-16 text, not UTF-8", "save the file as UTF-8")
    if b"\0" in raw:
        raise SpecError(
            [
                Issue(
                    *_byte_position(raw, raw.index(b"\0")),
                    "",
                    "binary content (a NUL byte), not a YAML text file",
                    "",
                    source,
                )
            ]
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SpecError(
            [
                Issue(
                    *_byte_position(raw, error.start),
                    "",
                    f"not UTF-8 text: byte 0x{raw[error.start]:02x} cannot be decoded",
                    "save the file as UTF-8",
                    source,
                )
            ]
        ) from None


def _byte_position(raw: bytes, offset: int) -> tuple[int, int]:
    """The 1-based line and column (counted in bytes) of a byte offset."""
    return raw.count(b"\n", 0, offset) + 1, offset - raw.rfind(b"\n", 0, offset)


def load(source: str, raw: bytes | None = None) -> Document:
    """Read `source` (a path, or '-' for stdin) into a Document; SpecError when it cannot be read as YAML at all.

    Problems that leave the rest readable (duplicate keys, tags, keys that are not text) are kept in
    Document.issues, so that validation reports them together with everything else."""
    text = read_text(source, raw)
    loader = _Loader(text)
    try:
        # The C parser needs check_node() before each get_node().
        node = loader.get_node() if loader.check_node() else None
        extra = loader.get_node() if node is not None and loader.check_node() else None
    except yaml.MarkedYAMLError as error:
        raise SpecError([_syntax_issue(error, text, source)]) from None
    except yaml.reader.ReaderError as error:
        offset = max(text.find(chr(error.character)), 0)  # error.position counts bytes in libyaml, characters in PyYAML
        line, column = text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)
        raise SpecError(
            [
                Issue(
                    line,
                    column,
                    "",
                    f"invalid YAML: control character U+{error.character:04X} is not allowed",
                    "remove it",
                    source,
                )
            ]
        ) from None
    except yaml.YAMLError as error:
        raise SpecError([Issue(1, 1, "", f"invalid YAML: {' '.join(str(error).split())}", "", source)]) from None
    finally:
        loader.dispose()
    if node is None:
        empty = not text.strip()
        raise SpecError(
            [
                Issue(
                    1,
                    1,
                    "",
                    "the file is empty" if empty else "the file holds no YAML document, only comments",
                    "start from `ckredis init NAME`",
                    source,
                )
            ]
        )
    if extra is not None:
        raise SpecError(
            [
                Issue(
                    _document_start(text, node, extra),
                    1,
                    "",
                    "a second YAML document starts here; a spec file holds exactly one",
                    "put each cluster in its own file",
                    source,
                )
            ]
        )
    return _Builder(source).build(node)


def _document_start(text: str, first: yaml.Node, second: yaml.Node) -> int:
    """The line of the '---' that starts the second document (its first value's line if there is none)."""
    lines = text.splitlines()
    for index in range(second.start_mark.line, first.end_mark.line - 1, -1):
        if index < len(lines) and re.match(r"---(\s|$)", lines[index]):
            return index + 1
    return second.start_mark.line + 1


def _syntax_issue(error: yaml.MarkedYAMLError, text: str, source: str) -> Issue:
    """A YAML syntax error at the character to fix, in words that say what to change."""
    problem, context = error.problem or "", error.context or ""
    mark, start = error.problem_mark or error.context_mark, error.context_mark
    if mark is None:
        return Issue(1, 1, "", f"invalid YAML: {problem or context}", "", source)
    where = f"line {mark.line + 1}, column {mark.column + 1}"
    char = text[mark.index] if mark.index < len(text) else ""
    message, hint = f"invalid YAML: {problem}", ""
    if char == "\t" or "tab character" in problem:
        message, hint = (
            "invalid YAML: a tab character in the indentation",
            "indent with spaces; YAML does not allow tabs",
        )
    elif "cannot start any token" in problem:
        message, hint = (
            f"invalid YAML: a value cannot start with {char!r}",
            f"quote the value if {char!r} is meant literally",
        )
    elif start and context.startswith("while parsing a flow"):
        opener, closer = ("{", "}") if "mapping" in context else ("[", "]")
        mark, message = (
            start,
            f"invalid YAML: this {opener!r} has no matching {closer!r} (expected ',' or {closer!r} at {where})",
        )
        hint = f"close it with {closer!r} and separate the entries with ','"
    elif start and context == "while scanning a quoted scalar" and "end of stream" in problem:
        mark, message, hint = start, "invalid YAML: this quoted value is never closed", "add the closing quote"
    elif start and context == "while parsing a block mapping" and problem == "did not find expected key":
        message = f"invalid YAML: expected a key of the mapping that starts on line {start.line + 1}"
        hint = f"check the indentation: that mapping's keys start in column {start.column + 1}"
    elif problem == "mapping values are not allowed in this context":
        message = "invalid YAML: a ':' that YAML cannot read as a key here"
        hint = "check the indentation of this line and the line above, and quote values that contain ': '"
    elif "undefined alias" in problem:
        hint = "define the anchor (&NAME) before the alias (*NAME), or quote a value that starts with '*'"
    elif start and context and (start.line, start.column) != (mark.line, mark.column):
        message += f" ({context} at line {start.line + 1}, column {start.column + 1})"
    return Issue(mark.line + 1, mark.column + 1, "", message, hint, source)


class _Builder:
    def __init__(self, source: str):
        self.document = Document(source, None)
        self.issues: list[Issue] = []
        self.count = 0

    def build(self, node: yaml.Node) -> Document:
        self.document.data = self._value(node, ())
        self.document.issues = self.issues
        return self.document

    def _issue(self, node: yaml.Node, path: SpecPath, message: str, hint: str = "") -> None:
        mark = node.start_mark
        self.issues.append(
            Issue(mark.line + 1, mark.column + 1, format_path(path), message, hint, self.document.source)
        )

    def _value(self, node: yaml.Node, path: SpecPath) -> object:
        self.count += 1
        if self.count > MAX_VALUES:
            self._issue(
                node,
                path,
                f"the document holds more than {MAX_VALUES} values, counting those aliases (*NAME) repeat",
                "a spec holds about a hundred; write the values out instead of nesting aliases",
            )
            raise SpecError(self.issues)
        if len(path) > MAX_DEPTH and isinstance(node, yaml.CollectionNode):
            self._issue(
                node,
                path,
                f"nested more than {MAX_DEPTH} levels deep",
                "a spec is only a few levels deep; check the indentation",
            )
            self.document.unreadable.add(path)
            return None
        self.document.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.CollectionNode) and node.tag != _COLLECTION_TAGS[type(node)]:
            self._unsupported_tag(node, path)  # e.g. !!python/object: data, like any other tag, is only data
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self._value(item, path + (index,)) for index, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)  # YAML composes only mappings, sequences and scalars
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: SpecPath) -> dict:
        result: dict[str, object] = {}
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self._issue(key_node, path, "merge keys (<<) are not supported", "write the keys out")
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                shown = repr(clip(key_node.value)) if isinstance(key_node, yaml.ScalarNode) else "a mapping or list"
                self._issue(key_node, path, f"key {shown} is not a string", "quote the key")
                continue
            key = key_node.value
            if key in first_seen:
                self._issue(
                    key_node,
                    path + (key,),
                    f"duplicate key {clip(key)!r} (first written on line {first_seen[key]})",
                    "keep one of them",
                )
                continue
            first_seen[key] = key_node.start_mark.line + 1
            self.document.keys[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = self._value(value_node, path + (key,))
        return result

    def _scalar(self, node: yaml.ScalarNode, path: SpecPath) -> object:
        tag, text = node.tag, node.value
        if tag == "tag:yaml.org,2002:str":
            return text
        if tag == "tag:yaml.org,2002:null" and text in _NULLS:
            return None
        if tag == "tag:yaml.org,2002:bool":
            if text.lower() in _TRUE_FALSE:
                return _TRUE_FALSE[text.lower()]
            return Ambiguous(text, f"the boolean {str(_CONSTRUCT.construct_yaml_bool(node)).lower()}")
        if tag == "tag:yaml.org,2002:int":
            if _DECIMAL.match(text):
                return int(text)
            readers = _PYYAML if ":" in text else _YAML11_TOOLS
            return Ambiguous(text, f"the number {_CONSTRUCT.construct_yaml_int(node)}", readers)
        if tag == "tag:yaml.org,2002:float":
            if _FLOAT.match(text):
                return float(text)
            readers = _PYYAML if ":" in text else _YAML11_TOOLS
            return Ambiguous(text, f"the number {_CONSTRUCT.construct_yaml_float(node)}", readers)
        if tag == "tag:yaml.org,2002:timestamp":
            return Ambiguous(text, "a date", _PYYAML)
        self._unsupported_tag(node, path)
        return None

    def _unsupported_tag(self, node: yaml.Node, path: SpecPath) -> None:
        self._issue(node, path, f"unsupported YAML tag {node.tag}", "remove the tag")
        self.document.unreadable.add(path)

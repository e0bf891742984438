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

from generator.errors import Issue, SpecError

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_BYTES = 1 << 20
STDIN = "-"

Path_ = tuple[str | int, ...]

_DECIMAL = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$")
_TRUE_FALSE = {"true": True, "false": False}
_NULLS = {"", "~", "null", "Null", "NULL"}


@dataclass(frozen=True)
class Ambiguous:
    """A plain scalar that YAML 1.1 and YAML 1.2 read differently."""

    text: str
    reading: str

    def __repr__(self) -> str:
        return repr(self.text)


@dataclass
class Document:
    """A loaded spec: its data and the 1-based (line, column) of each key and value by path."""

    source: str
    data: object
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: Path_, *, key: bool = False) -> tuple[int, int]:
        """Where `path` is written: its key when asked and known, else its value, else its nearest parent."""
        for depth in range(len(path), -1, -1):
            prefix = path[:depth]
            if key and prefix in self.keys:
                return self.keys[prefix]
            if prefix in self.values:
                return self.values[prefix]
        return (1, 1)


def format_path(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def read_text(source: str) -> str:
    """The spec's text, or a located error for anything that is not a readable UTF-8 text file."""

    def fail(message: str, hint: str = "") -> SpecError:
        return SpecError([Issue(1, 1, "", message, hint, source)])

    if source == STDIN:
        raw = sys.stdin.buffer.read(MAX_BYTES + 1)
    else:
        path = Path(source)
        try:
            if path.is_dir():
                raise fail("is a directory, not a spec file", "pass the spec files inside it, e.g. examples/*.yaml")
            with path.open("rb") as handle:
                raw = handle.read(MAX_BYTES + 1)
        except FileNotFoundError:
            raise fail("no such file") from None
        except PermissionError:
            raise fail("cannot read the file: permission denied") from None
        except OSError as error:
            raise fail(f"cannot read the file: {error.strerror or error}") from None
    if len(raw) > MAX_BYTES:
        raise fail(f"larger than {MAX_BYTES // 1024} KiB; a spec is a short YAML file")
    if b"\0" in raw:
        raise fail("binary content, not a YAML text file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise fail(f"not UTF-8 text (byte {error.start} cannot be decoded)") from None


def load(source: str) -> Document:
    """Read `source` (a path, or '-' for stdin) into a Document, or raise SpecError with every problem found."""
    text = read_text(source)
    loader = _Loader(text)
    try:
        # The C parser needs check_node() before each get_node().
        node = loader.get_node() if loader.check_node() else None
        extra = loader.get_node() if node is not None and loader.check_node() else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = " ".join(part for part in (error.context, error.problem) if part)
        raise SpecError([Issue(line, column, "", f"invalid YAML: {problem}", "", source)]) from None
    except yaml.YAMLError as error:
        raise SpecError([Issue(1, 1, "", f"invalid YAML: {error}", "", source)]) from None
    finally:
        loader.dispose()
    if node is None:
        raise SpecError([Issue(1, 1, "", "the file is empty", "start from `ckredis init NAME`", source)])
    if extra is not None:
        line, column = extra.start_mark.line + 1, extra.start_mark.column + 1
        raise SpecError([Issue(line, column, "", "a second YAML document; a spec file holds exactly one",
                               "put each cluster in its own file", source)])
    return _Builder(source).build(node)


class _Builder:
    def __init__(self, source: str):
        self.document = Document(source, None)
        self.issues: list[Issue] = []

    def build(self, node: yaml.Node) -> Document:
        self.document.data = self._value(node, ())
        if self.issues:
            raise SpecError(self.issues)
        return self.document

    def _issue(self, node: yaml.Node, path: Path_, message: str, hint: str = "") -> None:
        mark = node.start_mark
        self.issues.append(Issue(mark.line + 1, mark.column + 1, format_path(path), message, hint, self.document.source))

    def _value(self, node: yaml.Node, path: Path_) -> object:
        self.document.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self._value(item, path + (index,)) for index, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict:
        result: dict[str, object] = {}
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self._issue(key_node, path, "merge keys (<<) are not supported", "write the keys out")
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                shown = key_node.value if isinstance(key_node, yaml.ScalarNode) else "a collection"
                self._issue(key_node, path, f"key {shown!r} is not a string", "quote the key")
                continue
            key = key_node.value
            if key in first_seen:
                self._issue(key_node, path + (key,), f"duplicate key {key!r} (first written on line {first_seen[key]})",
                            "keep one of them")
                continue
            first_seen[key] = key_node.start_mark.line + 1
            self.document.keys[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = self._value(value_node, path + (key,))
        return result

    def _scalar(self, node: yaml.ScalarNode, path: Path_) -> object:
        tag, text = node.tag, node.value
        if tag == "tag:yaml.org,2002:str":
            return text
        if tag == "tag:yaml.org,2002:null" and text in _NULLS:
            return None
        if tag == "tag:yaml.org,2002:bool":
            return _TRUE_FALSE[text.lower()] if text.lower() in _TRUE_FALSE else Ambiguous(text, "a boolean")
        if tag == "tag:yaml.org,2002:int":
            return int(text) if _DECIMAL.match(text) else Ambiguous(text, "a number in a base other than 10")
        if tag == "tag:yaml.org,2002:float":
            return float(text) if _FLOAT.match(text) else Ambiguous(text, "a special number")
        if tag == "tag:yaml.org,2002:timestamp":
            return Ambiguous(text, "a date")
        self._issue(node, path, f"unsupported YAML tag {tag}", "remove the tag")
        return None

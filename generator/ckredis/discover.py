"""Which files are specs: the command line names files, `-` (stdin) or directories searched for specs.

A directory is searched recursively, in sorted order, for regular files named `*.yaml`, `*.yml` or `*.json` (any
case). Each is parsed (YAML 1.1, which reads JSON too) as far as its documents' top-level keys, and it is a spec
when a document's `apiVersion` is in ckredis's API group, or looks meant to be (a near miss of the group, a group
naming ckredis, or `kind: RedisCluster` without an apiVersion): any version counts, so a spec written for another
version, with a typo or in a form ckredis cannot read (UTF-16, two documents, broken YAML that names ckredis) gets a
located error instead of being skipped in silence, and `--prune` never takes its chart for an orphan. Other YAML
(Kubernetes manifests, charts, CI files) is ignored. Hidden files and directories (`.git`) are skipped, symbolic links
to directories are not followed (no loops), and files that are not regular (a FIFO, a device) are never opened.
"""

from __future__ import annotations

import difflib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ckredis.errors import Issue, SpecError
from ckredis.facts import SPEC_API_GROUP
from ckredis.load import MAX_BYTES, STDIN

SPEC_SUFFIXES = (".yaml", ".yml", ".json")
_SPEC_KIND = "RedisCluster"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NOT_A_SPEC = f"no top-level apiVersion: {SPEC_API_GROUP}/..."


@dataclass
class Discovery:
    """The specs to read, in order, and the files a directory search skipped, with why."""

    specs: list[str] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)


def discover(targets: list[str]) -> Discovery:
    """Expand directories into the specs they hold; files and `-` are kept as given. A directory without any
    spec is an error (a mistyped path must not pass as an empty fleet)."""
    found, seen, issues = Discovery(), set[str](), list[Issue]()
    for target in targets:
        if target != STDIN and os.path.isdir(target):
            before = len(found.specs)
            issues += _search(Path(target), found, seen)
            if len(found.specs) == before:
                issues.append(
                    Issue(
                        1,
                        1,
                        "",
                        f"no ckredis spec in this directory (searched {', '.join(SPEC_SUFFIXES)} "
                        f"files for apiVersion: {SPEC_API_GROUP}/...)",
                        "check the path; `-v` lists the YAML files that were ignored",
                        target,
                    )
                )
        else:
            _add(target, found, seen)
    if issues:
        raise SpecError(issues)
    return found


def _add(spec: str, found: Discovery, seen: set[str]) -> None:
    """Keep a spec once, however it is spelled (./a.yaml, a path through a directory, a symbolic link)."""
    identity = spec if spec == STDIN else os.path.realpath(spec)
    if identity not in seen:
        seen.add(identity)
        found.specs.append(spec)


def _search(folder: Path, found: Discovery, seen: set[str]) -> list[Issue]:
    """Add the specs under folder; a folder that cannot be read is an error (its specs must not go missing
    silently: `--prune` would take their charts for orphans)."""
    unreadable: list[OSError] = []
    for path in _yaml_files(folder, unreadable.append):
        why_not = _why_not_a_spec(path)
        if why_not:
            found.ignored.append((str(path), why_not))
        else:
            _add(str(path), found, seen)
    return [
        Issue(1, 1, "", f"cannot read this directory: {error.strerror or error}", "", error.filename or str(folder))
        for error in unreadable
    ]


def _yaml_files(folder: Path, on_error: Callable[[OSError], None]) -> list[Path]:
    files = []
    for root, directories, names in os.walk(folder, onerror=on_error):  # does not follow links to directories
        directories[:] = sorted(entry for entry in directories if not entry.startswith("."))
        files += [
            Path(root, name)
            for name in sorted(names)
            if name.lower().endswith(SPEC_SUFFIXES) and not name.startswith(".")
        ]
    return files


def _why_not_a_spec(path: Path) -> str:
    """Why the file is not a spec, or "" when it is one (or is meant to be one and reading it says what is wrong)."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below as not a regular file.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return ""  # unreadable, or gone: reading it as a spec reports why, located
    with open(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return "not a regular file"
        try:
            raw = handle.read(
                MAX_BYTES + 1
            )  # a spec is smaller; a larger file that names ckredis is reported as too large
        except OSError:
            return ""
    try:
        return _scan(raw)
    except yaml.YAMLError as error:
        if _names_ckredis(raw):
            return ""  # meant to be a spec: loading it reports the problem, located
        return f"not YAML ({' '.join(str(getattr(error, 'problem', None) or error).split())})"


def _scan(raw: bytes) -> str:
    """Parse the documents' top-level keys: "" for a spec, else why not. A document is decided by its apiVersion when
    it has one, else by its kind; parsing stops once decided, unless another document may follow."""
    depth, key, fields = 0, None, {}
    why_not = _NOT_A_SPEC
    # Only a line starting with '---' begins a second document (in UTF-8; other encodings are parsed to the end).
    one_document = b"\n---" not in raw and b"\0" not in raw
    for event in yaml.parse(raw, Loader=_Loader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth == 2 and key is not None:
                fields[key], key = None, None  # a mapping or list where text belongs
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        elif depth == 1 and key is None:
            key = event.value if isinstance(event, yaml.ScalarEvent) else ""
        elif depth == 1:
            fields[key], key = (event.value if isinstance(event, yaml.ScalarEvent) else None), None
            if "apiVersion" in fields and fields["apiVersion"] is not None:
                why_not = _api_version_verdict(fields["apiVersion"])
                if not why_not or one_document:
                    return why_not
        elif isinstance(event, yaml.DocumentEndEvent):
            if fields.get("apiVersion") is None and str(fields.get("kind", "")).lower() == _SPEC_KIND.lower():
                return ""  # a RedisCluster without (readable) apiVersion: meant as a spec
            depth, key, fields = 0, None, {}
    return why_not


def _api_version_verdict(api_version: str) -> str:
    """ "" when the apiVersion is ckredis's group or looks meant to be (a typo, a group naming ckredis);
    else why not."""
    group = api_version.partition("/")[0].strip().lower()
    if (
        group == SPEC_API_GROUP
        or "ckredis" in group
        or difflib.SequenceMatcher(None, group, SPEC_API_GROUP).ratio() >= 0.8
    ):
        return ""
    return _NOT_A_SPEC


def _names_ckredis(raw: bytes) -> bool:
    """Whether text that YAML cannot read mentions ckredis (UTF-8, or UTF-16/32 after a byte order mark)."""
    encoding = next((name for bom, name in _BYTE_ORDER_MARKS if raw.startswith(bom)), "utf-8")
    return "ckredis" in raw.decode(encoding, "replace").lower()


_BYTE_ORDER_MARKS = (
    (b"\xff\xfe\0\0", "utf-32"),
    (b"\0\0\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)

"""What an earlier run learned about a spec, so an unchanged fleet is checked without rendering it again.

An entry is keyed by a digest of everything a render reads: this ckredis's own files (code, templates, schema),
the Jinja2, PyYAML and jsonschema it runs with, the Python version, the spec's path as given and its bytes. It
holds what the render reported (name, warnings, the objects it renders, for clash checks) and, per chart
location, a digest of the chart's files. A spec is "unchanged" only when its entry exists *and* the chart on disk
has exactly that digest, so a hand-edited, deleted or extra file is always found; anything else renders as usual.

The cache is a convenience and never the truth: it lives outside the repository ($CKREDIS_CACHE_DIR, else
$XDG_CACHE_HOME/ckredis, else ~/.cache/ckredis), a missing or unwritable folder only costs speed, and
`--no-cache` neither reads nor writes it. It holds data only, never code (templates are compiled in memory), and an
entry is trusted only when it is this user's own file, writable by no one else, and well formed; the fleet also
checks that its name and namespace are those of the spec (pipeline.py). `ckredis cache prune` removes entries
unused for a number of days (a hit refreshes the entry's modification time).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from functools import cache
from importlib.util import find_spec
from pathlib import Path

from ckredis import __version__
from ckredis.errors import Issue
from ckredis.paths import SCHEMA_FILE, TEMPLATES_DIR

_PACKAGE = Path(__file__).resolve().parent
_LIBRARIES = ("jinja2", "yaml", "jsonschema", "markupsafe")  # what else shapes the output or the messages
_MAX_ENTRY_BYTES = 1 << 20  # an entry is a few KiB
# An entry's file name, or that of its temporary file (`.<name>.<pid>`, left by a killed run).
_ENTRY_NAME = re.compile(r"[0-9a-f]{64}|\.[0-9a-f]{64}\.[0-9]+")


@dataclass(frozen=True)
class Entry:
    """What rendering one spec reported, and the digest of its chart at each location it was written to."""

    name: str
    namespace: str
    purpose: str
    name_position: tuple[int, int]
    objects: tuple[tuple[str, str, str], ...]
    warnings: tuple[Issue, ...] = ()
    charts: dict[str, str] = field(default_factory=dict)


def folder() -> Path:
    configured = os.environ.get("CKREDIS_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "ckredis")


@cache
def fingerprint() -> str:
    """A digest of what this ckredis is: a different code, template, schema or library version is a new key."""
    digest = hashlib.sha256(f"{__version__}\0{sys.version}\0".encode())
    for root in sorted({_PACKAGE, TEMPLATES_DIR, SCHEMA_FILE.parent}):
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in (".py", ".jinja", ".json", ".md", ".yaml"):
                digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    for library in _LIBRARIES:
        spec = find_spec(library)  # finds the module without importing it
        if spec is not None and spec.origin:
            stat = os.stat(spec.origin)
            digest.update(f"{library}\0{spec.origin}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def key(source: str, spec: bytes) -> str:
    return hashlib.sha256(fingerprint().encode() + b"\0" + source.encode() + b"\0" + spec).hexdigest()


def chart_digest(files: dict[str, bytes]) -> str:
    """One digest of a chart directory's paths and contents (the same for files in memory and on disk)."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + str(len(files[path])).encode() + b"\0" + files[path])
    return digest.hexdigest()


def read(entry_key: str) -> Entry | None:
    """The entry, or None when it is missing, unreadable, not this user's own (another user could have written it:
    the entry decides what `--check` trusts), or malformed in any way. A hit marks the entry as used (`prune`)."""
    path = folder() / entry_key[:2] / entry_key
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        status = os.fstat(fd)
        if not _own_file(status):
            return None
        with os.fdopen(os.dup(fd), "rb") as handle:
            entry = _entry(json.loads(handle.read(_MAX_ENTRY_BYTES)))
        if entry is not None:
            _mark_used(fd)
        return entry
    except (OSError, ValueError, RecursionError):
        return None
    finally:
        os.close(fd)


def _mark_used(fd: int) -> None:
    try:
        os.utime(fd)  # what `prune` goes by
    except OSError:
        pass  # a read-only cache still answers


def _own_file(status: os.stat_result) -> bool:
    return stat.S_ISREG(status.st_mode) and status.st_uid == os.geteuid() and not status.st_mode & 0o022


def _entry(data: object) -> Entry | None:
    """An Entry from its JSON form, only when every field has exactly the type and shape store() writes."""
    if not (
        isinstance(data, dict)
        and set(data) == _ENTRY_FIELDS
        and all(isinstance(data[k], str) and data[k] for k in ("name", "namespace", "purpose"))
    ):
        return None
    position, objects, warnings, charts = data["name_position"], data["objects"], data["warnings"], data["charts"]
    if not (
        _ints(position, 2)
        and isinstance(objects, list)
        and all(_strings(item, 3) for item in objects)
        and isinstance(warnings, list)
        and all(_issue(item) for item in warnings)
        and isinstance(charts, dict)
        and all(isinstance(value, str) for value in charts.values())
    ):
        return None
    return Entry(
        data["name"],
        data["namespace"],
        data["purpose"],
        tuple(position),
        tuple(tuple(item) for item in objects),
        tuple(Issue(**issue) for issue in warnings),
        charts,
    )


def _ints(value: object, count: int) -> bool:
    return isinstance(value, list) and len(value) == count and all(type(item) is int for item in value)


def _strings(value: object, count: int) -> bool:
    return isinstance(value, list) and len(value) == count and all(isinstance(item, str) for item in value)


def _issue(value: object) -> bool:
    return (
        isinstance(value, dict)
        and set(value) == set(_ISSUE_FIELDS)
        and all(type(value[name]) is kind for name, kind in _ISSUE_FIELDS.items())
    )


def store(entry_key: str, entry: Entry) -> None:
    """Write the entry (atomically, by rename; no fsync: losing it only costs speed; readable by this user only).
    Failures are ignored."""
    path = folder() / entry_key[:2] / entry_key
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(entry), sort_keys=True))
        os.replace(temporary, path)
    except OSError:
        try:
            temporary.unlink(missing_ok=True)
        except OSError:
            pass


_ENTRY_FIELDS = {item.name for item in fields(Entry)}
_ISSUE_FIELDS = {item.name: int if item.type == "int" else str for item in fields(Issue)}


@dataclass(frozen=True)
class Pruned:
    folder: Path
    removed: int
    kept: int
    freed: int  # bytes


def prune(older_than_days: float) -> Pruned:
    """Remove the entries not used for older_than_days, and the compiled templates older ckredis versions kept in
    jinja/; other files (not named as ckredis names its own) are left alone."""
    root, cutoff = folder(), time.time() - older_than_days * 86400
    removed = kept = freed = 0
    entries = {path for path in root.glob("[0-9a-f][0-9a-f]/*") if _ENTRY_NAME.fullmatch(path.name)}
    for path in sorted(entries) + sorted(root.glob("jinja/*/__jinja2_*.cache")):
        try:
            status = path.lstat()
            if not stat.S_ISREG(status.st_mode):
                continue
            if path in entries and status.st_mtime >= cutoff:
                kept += 1
                continue
            path.unlink()
            removed, freed = removed + 1, freed + status.st_size
        except OSError:
            continue
    for directory in sorted(root.glob("[0-9a-f][0-9a-f]")) + sorted(root.glob("jinja/*")) + [root / "jinja"]:
        try:
            directory.rmdir()  # only when empty
        except OSError:
            pass
    return Pruned(root, removed, kept, freed)

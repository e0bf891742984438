"""What an earlier run learned about a spec, so an unchanged fleet is checked without rendering it again.

An entry is keyed by a digest of everything a render reads: this ckredis's own files (code, templates, schema),
the Jinja2, PyYAML and jsonschema it runs with, the Python version, the spec's path as given and its bytes. It
holds what the render reported (name, warnings, the objects it renders, for clash checks) and, per chart
location, a digest of the chart's files. A spec is "unchanged" only when its entry exists *and* the chart on disk
has exactly that digest, so a hand-edited, deleted or extra file is always found; anything else renders as usual.

The cache is a convenience and never the truth: it lives outside the repository ($CKREDIS_CACHE_DIR, else
$XDG_CACHE_HOME/ckredis, else ~/.cache/ckredis), a missing or unwritable folder only costs speed, and
`--no-cache` ignores it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib.util import find_spec
from pathlib import Path

from ckredis import __version__
from ckredis.errors import Issue
from ckredis.paths import SCHEMA_FILE, TEMPLATES_DIR

_PACKAGE = Path(__file__).resolve().parent
_LIBRARIES = ("jinja2", "yaml", "jsonschema", "markupsafe")  # what else shapes the output or the messages


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
    try:
        data = json.loads((folder() / entry_key[:2] / entry_key).read_bytes())
        return Entry(data["name"], data["namespace"], data["purpose"], tuple(data["name_position"]),
                     tuple(tuple(item) for item in data["objects"]),
                     tuple(Issue(**issue) for issue in data["warnings"]), data["charts"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing, unreadable or from an older layout: render as usual


def store(entry_key: str, entry: Entry) -> None:
    """Write the entry (atomically, by rename; no fsync: losing it only costs speed). Failures are ignored."""
    path = folder() / entry_key[:2] / entry_key
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps(asdict(entry), sort_keys=True), encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        try:
            temporary.unlink(missing_ok=True)
        except OSError:
            pass

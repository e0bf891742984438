"""Which files are specs: the command line names files, `-` (stdin) or directories searched for specs.

A directory is searched recursively, in sorted order, for `*.yaml`/`*.yml` files whose top-level `apiVersion`
is in ckredis's API group. Any version counts, so a spec written for another ckredis version gets a located
error instead of being skipped in silence; other YAML (Kubernetes manifests, charts, CI files) is ignored. Hidden
files and directories (`.git`) are skipped and symbolic links to directories are not followed (no loops).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ckredis.errors import Issue, SpecError
from ckredis.facts import SPEC_API_GROUP
from ckredis.load import STDIN

SPEC_SUFFIXES = (".yaml", ".yml")
# A top-level apiVersion in the API group, in block style at column 0 (after a UTF-8 byte order mark on the first
# line, which the loader accepts), plain or quoted: how every spec starts.
_OUR_API_VERSION = re.compile(rb"(?:^|\A\xef\xbb\xbf)apiVersion:[ \t]*[\"']?" + re.escape(SPEC_API_GROUP.encode()) + rb"/",
                              re.MULTILINE)
_PEEK_BYTES = 64 * 1024


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
                issues.append(Issue(1, 1, "", f"no ckredis spec in this directory (searched {', '.join(SPEC_SUFFIXES)} "
                                              f"files for apiVersion: {SPEC_API_GROUP}/...)",
                                    "check the path; `-v` lists the YAML files that were ignored", target))
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
        if _is_spec(path):
            _add(str(path), found, seen)
        else:
            found.ignored.append((str(path), f"no top-level apiVersion: {SPEC_API_GROUP}/..."))
    return [Issue(1, 1, "", f"cannot read this directory: {error.strerror or error}", "", error.filename or str(folder))
            for error in unreadable]


def _yaml_files(folder: Path, on_error: Callable[[OSError], None]) -> list[Path]:
    files = []
    for root, directories, names in os.walk(folder, onerror=on_error):  # does not follow links to directories
        directories[:] = sorted(entry for entry in directories if not entry.startswith("."))
        files += [Path(root, name) for name in sorted(names) if name.endswith(SPEC_SUFFIXES) and not name.startswith(".")]
    return files


def _is_spec(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return bool(_OUR_API_VERSION.search(handle.read(_PEEK_BYTES)))
    except OSError:
        return True  # unreadable: reading it as a spec reports why, located

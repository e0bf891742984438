"""Stage 5, write: put a rendered chart on disk atomically, or compare it with what is there.

A chart directory is replaced as a whole: the new chart is written beside it and swapped in with one
rename, so a crash or kill leaves either the old chart or the new one, never a mix. Files that ckredis
did not generate are never deleted: their presence stops the write.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import shutil
import tempfile
from pathlib import Path

from ckredis.errors import OutputError
from ckredis.facts import MARKER

_TMP_SUFFIX = ".ckredis-tmp"
_RENAME_EXCHANGE = 2


def existing_files(chart_dir: Path) -> dict[str, bytes]:
    """Everything but directories under chart_dir by relative POSIX path (symlinks, fifos and sockets
    included with empty content, never followed or opened)."""
    if not chart_dir.is_dir():
        return {}
    found = {}
    try:
        for path in sorted(chart_dir.rglob("*")):
            if path.is_symlink() or not path.is_dir():
                regular = path.is_file() and not path.is_symlink()
                found[path.relative_to(chart_dir).as_posix()] = path.read_bytes() if regular else b""
    except OSError as error:
        raise OutputError(f"{error.filename or chart_dir}: cannot read: {error.strerror or error}") from None
    return found


def differences(files: dict[str, str], chart_dir: Path) -> list[str]:
    """Paths (relative to chart_dir) that a write would create, change or delete, sorted."""
    _require_directory(chart_dir)
    current = existing_files(chart_dir)
    wanted = {path: text.encode() for path, text in files.items()}
    return sorted(path for path in current.keys() | wanted.keys() if current.get(path) != wanted.get(path))


def foreign_files(chart_dir: Path) -> list[str]:
    """Files in chart_dir that ckredis did not generate: they must never be silently deleted."""
    return [path for path, content in existing_files(chart_dir).items()
            if MARKER.encode() not in content[:512] or (chart_dir / path).is_symlink()]


def check_writable(chart_dir: Path) -> None:
    """Raise OutputError if writing chart_dir would replace something that is not a ckredis chart."""
    _require_directory(chart_dir)
    foreign = foreign_files(chart_dir)
    if foreign:
        listed = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise OutputError(f"{chart_dir}: holds files ckredis did not generate ({listed}); "
                          "move them out of the chart directory, then render again")


def write_chart(files: dict[str, str], chart_dir: Path) -> bool:
    """Replace chart_dir with exactly `files`; False when it already matched (nothing is touched)."""
    check_writable(chart_dir)
    if not differences(files, chart_dir):
        return False
    if chart_dir.parent.exists() and not chart_dir.parent.is_dir():
        raise OutputError(f"{chart_dir.parent}: the output directory exists and is not a directory")
    try:
        chart_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{chart_dir.name}.", suffix=_TMP_SUFFIX, dir=chart_dir.parent))
    except OSError as error:
        raise OutputError(f"{chart_dir.parent}: cannot write to the output directory: {error.strerror or error}") from None
    try:
        staging.chmod(_directory_mode())  # mkdtemp makes it 0700; a chart is as readable as any new directory
        for relative, text in files.items():
            _write_file(staging / relative, text)
        _fsync(staging)
        if chart_dir.exists():
            _exchange(staging, chart_dir)  # staging now holds the previous chart
        else:
            os.rename(staging, chart_dir)
        _fsync(chart_dir.parent)
    except OSError as error:
        raise OutputError(f"{chart_dir}: cannot write the chart: {error.strerror or error}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return True


def _require_directory(chart_dir: Path) -> None:
    if chart_dir.exists() and not chart_dir.is_dir():
        raise OutputError(f"{chart_dir}: exists and is not a directory")


def _directory_mode() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o777 & ~umask


def _write_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _exchange(new: Path, old: Path) -> None:
    """Atomically swap two directories (Linux renameat2); where the kernel or filesystem lacks it, three renames."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    at_fdcwd = -100
    if renameat2 is not None:
        if renameat2(at_fdcwd, bytes(new), at_fdcwd, bytes(old), _RENAME_EXCHANGE) == 0:
            return
        failure = ctypes.get_errno()
        if failure not in (errno.ENOSYS, errno.EINVAL):  # the swap is supported and failed: do not half-do it
            raise OSError(failure, os.strerror(failure), str(old))
    parked = new.with_name(new.name + ".old")
    os.rename(old, parked)
    os.rename(new, old)
    os.rename(parked, new)

"""Stage 5, write: put rendered charts on disk atomically, or compare them with what is there.

A chart directory is replaced as a whole: the new chart is written beside it and swapped in with one
rename, so a crash or kill leaves either the old chart or the new one, never a mix. Files that ckredis
did not generate are never deleted: their presence stops the write.

One render writes into an output directory at a time: it holds an exclusive flock on the directory itself
(no lock file to commit), and `--check` a shared one. So a staging folder found while holding the lock
belongs to no live render: a render that was killed left it, and the next render removes it.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import functools
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ckredis.errors import OutputError
from ckredis.facts import MARKER

_TMP_SUFFIX = ".ckredis-tmp"
_PARKED_SUFFIX = ".old"  # the previous chart, parked where renameat2 is unsupported
# `.<chart>.<8 random characters>.ckredis-tmp`, as tempfile.mkdtemp names them in write_chart and prune.
_STAGING = re.compile(
    r"\.(?P<chart>[^/]+)\.[a-z0-9_]{8}" + re.escape(_TMP_SUFFIX) + f"(?P<parked>{re.escape(_PARKED_SUFFIX)})?"
)
_RENAME_EXCHANGE = 2
LOCK_WAIT_SECONDS = 60


@dataclass
class Findings:
    """What `--check` found: stale files, staging folders left by a killed render, and orphan charts."""

    stale: list[Path] = field(default_factory=list)
    leftovers: list[Path] = field(default_factory=list)
    orphans: list[Path] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.stale or self.leftovers or self.orphans)


def existing_files(chart_dir: Path) -> dict[str, bytes]:
    """Everything but directories under chart_dir by relative POSIX path (symlinks, fifos and sockets
    included with empty content, never followed or opened)."""
    if not chart_dir.is_dir():
        return {}
    found: dict[str, bytes] = {}
    try:
        _collect(str(chart_dir), "", found)
    except OSError as error:
        raise OutputError(f"{error.filename or chart_dir}: cannot read: {error.strerror or error}") from None
    return dict(sorted(found.items()))


def _collect(folder: str, prefix: str, found: dict[str, bytes]) -> None:
    # os.scandir: the file type comes with the directory entry, without a stat per file.
    with os.scandir(folder) as entries:
        for entry in entries:
            relative = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                _collect(entry.path, relative + "/", found)
            elif entry.is_file(follow_symlinks=False):
                with open(entry.path, "rb") as handle:
                    found[relative] = handle.read()
            else:
                found[relative] = b""


def differences(files: dict[str, str], chart_dir: Path) -> list[str]:
    """Paths (relative to chart_dir) that a write would create, change or delete, sorted."""
    _require_directory(chart_dir)
    current = existing_files(chart_dir)
    wanted = {path: text.encode() for path, text in files.items()}
    return sorted(path for path in current.keys() | wanted.keys() if current.get(path) != wanted.get(path))


def foreign_files(chart_dir: Path) -> list[str]:
    """Files in chart_dir that ckredis did not generate: they must never be silently deleted."""
    return [
        path
        for path, content in existing_files(chart_dir).items()
        if MARKER.encode() not in content[:512] or (chart_dir / path).is_symlink()
    ]


def check_writable(chart_dir: Path) -> None:
    """Raise OutputError if writing chart_dir would replace something that is not a ckredis chart."""
    _require_directory(chart_dir)
    foreign = foreign_files(chart_dir)
    if foreign:
        raise OutputError(_foreign_message(chart_dir, foreign))


@contextmanager
def output_lock(output: Path, *, exclusive: bool) -> Iterator[None]:
    """Hold the output directory's flock (created if missing when exclusive), waiting at most LOCK_WAIT_SECONDS."""
    if exclusive:
        _make_output_directory(output)
    try:
        fd = os.open(output, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as error:
        raise OutputError(f"{output}: cannot open the output directory: {error.strerror or error}") from None
    try:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise OutputError(
                        f"{output}: another ckredis render has been writing here for over "
                        f"{LOCK_WAIT_SECONDS} s; let it finish (or stop it), then run again"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


def staging_folders(output: Path) -> list[Path]:
    """Staging folders ckredis made in output (by their name, real directories only), sorted."""
    return sorted(
        entry
        for entry in output.iterdir()
        if _STAGING.fullmatch(entry.name) and entry.is_dir() and not entry.is_symlink()
    )


def sweep_staging(output: Path) -> list[Path]:
    """Remove the staging folders killed renders left; call only while holding the exclusive lock.

    A parked previous chart whose chart directory is missing (a kill between the fallback's renames) is the
    chart: it is moved back, not removed."""
    swept = staging_folders(output)
    try:
        for folder in swept:
            name = _STAGING.fullmatch(folder.name)
            assert name is not None  # staging_folders keeps only the names it matches
            chart = output / name["chart"]
            if name["parked"] and not os.path.lexists(chart):
                os.rename(folder, chart)
            else:
                kept = _remove_generated(folder, empty_too=True)  # a kill between creating a file and writing it
                if kept:
                    raise OutputError(_foreign_message(folder, kept))
        if swept:
            _fsync(output)
    except OSError as error:
        raise OutputError(
            f"{error.filename or output}: cannot remove what an interrupted render left: {error.strerror or error}"
        ) from None
    return swept


def orphan_charts(output: Path, charts: Collection[str]) -> list[Path]:
    """Chart directories in output that ckredis generated (their Chart.yaml carries the marker) and that no
    chart of this run renders, sorted."""
    orphans = []
    try:
        entries = sorted(output.iterdir())
    except OSError as error:
        raise OutputError(f"{output}: cannot read the output directory: {error.strerror or error}") from None
    for entry in entries:
        if entry.name in charts or entry.name.startswith(".") or entry.is_symlink() or not entry.is_dir():
            continue
        if MARKER.encode() in _start_of(entry / "Chart.yaml"):
            orphans.append(entry)
    return orphans


def _start_of(chart_file: Path) -> bytes:
    """The start of a chart directory's Chart.yaml; empty when there is none (or it is a link or not a file). A chart
    directory that cannot be read is an error: its chart must not pass unseen (not an orphan, not kept)."""
    try:
        fd = os.open(chart_file, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return b""
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            return b""
        raise OutputError(f"{chart_file.parent}: cannot read: {error.strerror or error}") from None
    with open(fd, "rb") as handle:
        try:
            return handle.read(512) if stat.S_ISREG(os.fstat(fd).st_mode) else b""
        except OSError as error:
            raise OutputError(f"{chart_file}: cannot read: {error.strerror or error}") from None


@dataclass(frozen=True)
class Staged:
    """A chart written in full beside its directory, waiting to be swapped in by `commit`."""

    chart_dir: Path
    staging: Path
    replacing: bool  # decided when staged: a directory that appears meanwhile is someone else's
    files: int


def write_chart(files: dict[str, str], chart_dir: Path) -> bool:
    """Replace chart_dir with exactly `files`; False when it already matched (nothing is touched)."""
    staged = stage_chart(files, chart_dir)
    if staged:
        commit(chart_dir.parent, [staged])
    return staged is not None


def stage_chart(files: dict[str, str], chart_dir: Path) -> Staged | None:
    """Write `files` into a staging folder beside chart_dir, not yet synced; None when chart_dir already matches.

    Call while holding the output's exclusive lock; then `commit` (or `discard`) what was staged."""
    check_writable(chart_dir)
    if not differences(files, chart_dir):
        return None
    replacing = chart_dir.exists()
    _make_output_directory(chart_dir.parent)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{chart_dir.name}.", suffix=_TMP_SUFFIX, dir=chart_dir.parent))
    except OSError as error:
        raise OutputError(
            f"{chart_dir.parent}: cannot write to the output directory: {error.strerror or error}"
        ) from None
    try:
        staging.chmod(_directory_mode())  # mkdtemp makes it 0700; a chart is as readable as any new directory
        root = str(staging)
        for folder in sorted({os.path.dirname(relative) for relative in files} - {""}):
            os.makedirs(os.path.join(root, folder), exist_ok=True)
        for relative, text in files.items():
            _write_file(os.path.join(root, relative), text)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputError(f"{chart_dir}: cannot write the chart: {error.strerror or error}") from None
    return Staged(chart_dir, staging, replacing, len(files))


def commit(output: Path, staged: list[Staged]) -> None:
    """Swap every staged chart into place. One sync of the filesystem first makes every staged file durable (a
    crash after it leaves whole charts, old or new, never a partly written one); one sync of the output directory
    after the renames makes the swaps durable."""
    if not staged:
        return
    try:
        try:
            _sync_files(output, staged)
        except OSError as error:
            raise OutputError(f"{output}: cannot write the charts: {error.strerror or error}") from None
        for chart in staged:
            try:
                if chart.replacing:
                    _exchange(chart.staging, chart.chart_dir)  # staging now holds the previous chart
                    _keep_foreign_files(chart)
                else:
                    os.rename(chart.staging, chart.chart_dir)
            except OSError as error:
                if error.errno in (errno.ENOTEMPTY, errno.EEXIST):
                    raise OutputError(
                        f"{chart.chart_dir}: another program created this directory while ckredis was "
                        "writing it; check what else writes to the output directory, then render again"
                    ) from None
                raise OutputError(f"{chart.chart_dir}: cannot write the chart: {error.strerror or error}") from None
        try:
            _fsync(output)
        except OSError as error:
            raise OutputError(
                f"{output}: the charts are written but cannot be synced to disk: {error.strerror or error}"
            ) from None
    finally:
        discard(staged)


def _keep_foreign_files(chart: Staged) -> None:
    """After a swap: if a file ckredis did not generate appeared in the previous chart since it was staged (an editor,
    a person), swap the previous chart back, so that file stays where it was put, and stop the write."""
    foreign = foreign_files(chart.staging)
    if foreign:
        _exchange(chart.staging, chart.chart_dir)
        raise OutputError(_foreign_message(chart.chart_dir, foreign, "appeared while ckredis was writing it"))


def _foreign_message(chart_dir: Path, foreign: list[str], since: str = "") -> str:
    listed = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
    return (
        f"{chart_dir}: holds files ckredis did not generate ({listed}){' that ' + since if since else ''}; "
        "move them out of the chart directory, then render again"
    )


def discard(staged: list[Staged]) -> None:
    """Remove staging folders (after a commit they hold the previous charts): only what ckredis generated, so a file
    someone put there meanwhile stays (the next render reports it)."""
    for chart in staged:
        try:
            _remove_generated(chart.staging)
        except OSError:
            pass  # a leftover staging folder: the next render sweeps it, `--check` reports it


def remove_chart(chart_dir: Path) -> None:
    """Remove a chart directory: renamed out of sight first, so a kill leaves only a staging folder to sweep. Only
    files ckredis generated are deleted: a chart holding another file (put there since the check) is moved back."""
    try:
        doomed = Path(tempfile.mkdtemp(prefix=f".{chart_dir.name}.", suffix=_TMP_SUFFIX, dir=chart_dir.parent))
        os.rename(chart_dir, doomed)  # onto the empty directory mkdtemp reserved
        foreign = foreign_files(doomed)
        if foreign or _remove_generated(doomed):
            os.rename(doomed, chart_dir)
            raise OutputError(
                _foreign_message(
                    chart_dir, foreign or foreign_files(chart_dir), "appeared while ckredis was removing it"
                )
            )
        _fsync(chart_dir.parent)
    except OSError as error:
        raise OutputError(f"{chart_dir}: cannot remove the chart: {error.strerror or error}") from None


def _remove_generated(folder: Path, *, empty_too: bool = False) -> list[str]:
    """Delete the files ckredis generated (and empty files, if asked) under folder, then every folder left empty
    (folder too); what is kept (files someone else put there), relative to folder."""
    kept = []
    for root, directories, names in os.walk(folder, topdown=False):  # does not follow links to directories
        for name in names + [entry for entry in directories if os.path.islink(os.path.join(root, entry))]:
            path = os.path.join(root, name)
            if _generated(path, empty_too):
                os.unlink(path)
            else:
                kept.append(os.path.relpath(path, folder))
        if not os.listdir(root):
            os.rmdir(root)
    return sorted(kept)


def _generated(path: str, empty_too: bool = False) -> bool:
    """A regular file (not a link) that carries ckredis's marker where every generated file has it (or is empty)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    with open(fd, "rb") as handle:
        start = handle.read(512) if stat.S_ISREG(os.fstat(fd).st_mode) else None
    return start is not None and (MARKER.encode() in start or empty_too and not start)


def _make_output_directory(output: Path) -> None:
    if os.path.islink(output) and not output.exists():
        raise OutputError(
            f"{output}: is a symbolic link to {os.readlink(output)}, which does not exist; "
            "create that directory, or remove the link and render again"
        )
    if output.exists() and not output.is_dir():
        raise OutputError(f"{output}: the output directory exists and is not a directory")
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{output}: cannot create the output directory: {error.strerror or error}") from None


def _require_directory(chart_dir: Path) -> None:
    if chart_dir.is_symlink():
        raise OutputError(
            f"{chart_dir}: is a symbolic link; ckredis replaces a chart directory as a whole and would "
            "replace the link, not its target: remove the link (or render into the target's directory "
            "with -o), then render again"
        )
    if chart_dir.exists() and not chart_dir.is_dir():
        raise OutputError(f"{chart_dir}: exists and is not a directory")


def _directory_mode() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o777 & ~umask


def _write_file(path: str, text: str) -> None:
    # os.open/os.write: Python's open() adds an fstat, an ioctl and an lseek to every file of every chart.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        data = memoryview(text.encode("utf-8"))
        while data:
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)


def _sync_files(output: Path, staged: list[Staged]) -> None:
    """Make every staged file and folder durable: one syncfs(2) of the output's filesystem, or, where there is
    none, an fsync of each file and folder."""
    syncfs = getattr(_libc(), "syncfs", None)
    if syncfs is not None:
        fd = os.open(output, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    for chart in staged:
        for root, _, names in os.walk(chart.staging):
            for path in [os.path.join(root, name) for name in names] + [root]:
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)


def _fsync(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@functools.cache
def _libc() -> ctypes.CDLL:
    # The C library this process already runs on (CDLL(None)): ctypes.util.find_library would start ldconfig.
    return ctypes.CDLL(None, use_errno=True)


def _exchange(new: Path, old: Path) -> None:
    """Atomically swap two directories (Linux renameat2); where the kernel or filesystem lacks it, three renames."""
    renameat2 = getattr(_libc(), "renameat2", None)
    at_fdcwd = -100
    if renameat2 is not None:
        if renameat2(at_fdcwd, bytes(new), at_fdcwd, bytes(old), _RENAME_EXCHANGE) == 0:
            return
        failure = ctypes.get_errno()
        if failure not in (errno.ENOSYS, errno.EINVAL):  # the swap is supported and failed: do not half-do it
            raise OSError(failure, os.strerror(failure), str(old))
    parked = new.with_name(new.name + _PARKED_SUFFIX)
    os.rename(old, parked)
    os.rename(new, old)
    os.rename(parked, new)

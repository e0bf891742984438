"""Shared test helpers: repository paths, the real tools, and a CLI runner."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

import tool_markers

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
TOOLS_BIN = REPO / ".tools" / "bin"
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
# The cache of unchanged specs: one per test session (pytest-xdist workers inherit it), never the user's own (tests
# must not depend on old runs), and removed when the session's process exits.
if "CKREDIS_CACHE_DIR" not in os.environ:
    os.environ["CKREDIS_CACHE_DIR"] = tempfile.mkdtemp(prefix="ckredis-test-cache-")
    atexit.register(shutil.rmtree, os.environ["CKREDIS_CACHE_DIR"], ignore_errors=True)
# scripts/test sets this: there, a missing tool is a failure, never a skip.
REQUIRE_TOOLS = os.environ.get("CKREDIS_REQUIRE_TOOLS") == "1" or bool(os.environ.get("CI"))


def pytest_configure(config: pytest.Config) -> None:
    for name, description in tool_markers.MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tool_markers.mark(item)


_running: list[pytest.Item] = []  # the test being run, for tool() to check its markers


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    _running.append(item)
    try:
        return (yield)
    finally:
        _running.pop()


def tool(name: str) -> str:
    """Path of a real tool installed by scripts/install-tools.sh; fails under CI, skips (visibly) elsewhere."""
    marker = tool_markers.FAMILIES.get(name, "tools")
    if _running and _running[-1].get_closest_marker(marker) is None:
        pytest.fail(
            f"{_running[-1].nodeid} runs {name} but is not marked {marker!r}: tests/tool_markers.py did not "
            "see the call (pass tool() a literal, a loop over literals or a test parameter)"
        )
    candidate = TOOLS_BIN / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed: run scripts/install-tools.sh"
    if REQUIRE_TOOLS:
        pytest.fail(message)
    pytest.skip(message)


def shared(relative: str) -> Path:
    path = SHARED / relative
    if not path.exists():
        pytest.fail(f"{path} is missing: tests need ../shared beside the checkout")
    return path


def ckredis(
    *args: str, stdin: str | None = None, cwd: Path | None = None, obey_file_modes: bool = False
) -> subprocess.CompletedProcess:
    """Run the real CLI in a fresh process, as users do. With `obey_file_modes`, root (CI) runs it without the
    capabilities that read any file, so an unreadable file or folder is unreadable to it too."""
    result = subprocess.run(
        [sys.executable, "-m", "ckredis", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        timeout=60,
        preexec_fn=without_dac_override if obey_file_modes and os.geteuid() == 0 else None,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def without_dac_override() -> None:
    """In the child, before exec: drop the capabilities that let root read any file, so file modes apply to it too."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def load_example(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def documents(stream: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(stream) if doc]


@pytest.fixture(params=EXAMPLES, ids=[path.stem for path in EXAMPLES])
def example(request) -> Path:
    return request.param


@pytest.fixture(scope="module", params=("redis", "valkey"))
def engine(request):
    """Each real-server test runs on both engines (tests/servers.py says where each finds its binaries)."""
    from servers import engine_named

    return engine_named(request.param)

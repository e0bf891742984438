"""An installed wheel finds its templates and schema, away from the checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from conftest import REPO


def test_wheel_carries_templates_and_schema_and_renders(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("ckredis-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "ckredis/schemas/ckredis-spec.schema.json" in names
    assert "ckredis/templates/chart/templates/redisfailover.yaml.jinja" in names
    assert "ckredis/py.typed" in names  # PEP 561: type checkers read the package's own annotations
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "spec.yaml").write_text((REPO / "examples" / "cache.yaml").read_text())
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    where = subprocess.run(
        [sys.executable, "-c", "from ckredis import paths; print(paths.TEMPLATES_DIR, paths.SCHEMA_FILE)"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout.split()
    assert all(path.startswith(str(site)) for path in where), where
    result = subprocess.run(
        [sys.executable, "-m", "ckredis", "render", "spec.yaml", "--stdout"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "kind: RedisFailover" in result.stdout

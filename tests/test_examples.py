"""Goldens: output/ is exactly a fresh render of examples/, and rendering is deterministic."""

from __future__ import annotations

import os
import subprocess
import sys

from ckredis.pipeline import render_specs
from ckredis.write import existing_files
from conftest import EXAMPLES, REPO, ckredis


def test_there_are_examples_of_every_kind():
    names = {path.stem for path in EXAMPLES}
    assert {"cache", "session", "shared-cache"} <= names


def test_output_is_a_fresh_render_of_the_examples(example):
    (item,) = render_specs([str(example)])
    on_disk = existing_files(REPO / "output" / item.name)
    assert sorted(on_disk) == sorted(item.files), "run `ckredis render examples/*.yaml` and commit output/"
    for path, text in item.files.items():
        assert on_disk[path].decode() == text, f"output/{item.name}/{path} is stale"


def test_output_holds_nothing_but_example_charts():
    charts = {path.name for path in (REPO / "output").iterdir()}
    assert charts == {item.name for item in render_specs([str(p) for p in EXAMPLES])}


def test_check_passes_on_committed_output():
    result = ckredis("render", "--check", *map(str, EXAMPLES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_render_is_byte_identical_across_processes_and_hash_seeds(tmp_path):
    streams = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-m", "ckredis", "render", "--stdout", *map(str, EXAMPLES)],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            check=True,
        )
        streams.append(out.stdout)
    assert streams[0] == streams[1]
    assert streams[0].count("kind: RedisFailover") == len(EXAMPLES)

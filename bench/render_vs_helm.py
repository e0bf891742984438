"""Benchmark: median cold-process time of `ckredis render` for an example vs `helm template` on its chart.

Both are measured in the same run, interleaved, so the ratio holds on a noisy machine. Also measured: a render
with an empty cache folder (templates compiled, as on a fresh machine) and the interpreter importing Typer alone,
the floor every ckredis command starts from.
Usage: .venv/bin/python bench/render_vs_helm.py [SPEC] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed(command: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default=str(REPO / "examples" / "shared-cache.yaml"))
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--helm", default=str(REPO / ".tools" / "bin" / "helm3"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        name = Path(args.spec).stem
        render = [sys.executable, "-m", "ckredis", "render", args.spec, "-o", out]
        subprocess.run(render, check=True, stdout=subprocess.DEVNULL)
        chart = next(Path(out).iterdir())
        helm = [args.helm, "template", chart.name, str(chart)]
        stdout = [sys.executable, "-m", "ckredis", "render", args.spec, "--stdout"]
        times: dict[str, list[float]] = {
            "ckredis render (write chart)": [],
            "ckredis render, empty cache": [],
            "ckredis render --stdout": [],
            "helm template": [],
            "python -c 'import typer'": [],
        }
        for _ in range(args.runs):
            # Re-render into a fresh directory each time so the write path is measured, not the no-op path.
            with tempfile.TemporaryDirectory() as fresh:
                times["ckredis render (write chart)"].append(timed(render[:-1] + [fresh]))
            # ...and once with an empty cache folder: the templates compiled again, as on a fresh machine.
            with tempfile.TemporaryDirectory() as fresh, tempfile.TemporaryDirectory() as empty:
                times["ckredis render, empty cache"].append(
                    timed(render[:-1] + [fresh], {**os.environ, "CKREDIS_CACHE_DIR": empty})
                )
            times["python -c 'import typer'"].append(timed([sys.executable, "-c", "import typer"]))
            times["ckredis render --stdout"].append(timed(stdout))
            times["helm template"].append(timed(helm))
    reference = statistics.median(times["helm template"])
    print(
        f"spec: {Path(args.spec).relative_to(REPO) if Path(args.spec).is_relative_to(REPO) else args.spec} "
        f"({name}), {args.runs} interleaved cold runs each"
    )
    print(f"{'command':32} {'median':>9} {'min':>9} {'vs helm template':>17}")
    for label, samples in times.items():
        median = statistics.median(samples)
        print(f"{label:32} {median * 1000:7.1f}ms {min(samples) * 1000:7.1f}ms {median / reference:16.2f}x")


if __name__ == "__main__":
    main()

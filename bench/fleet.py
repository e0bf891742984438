"""Benchmark: a fleet of generated specs through one `ckredis` call each (render, unchanged render, --check).

Reports wall time and the peak memory of the whole process tree (ckredis and any workers it starts, sampled
from /proc), and two references measured in the same run, interleaved: the median cold `helm template` of one
chart, and `cp -r` of the rendered charts into a fresh folder (the file system's own cost of creating that many
files, which on a virtual disk can dominate a fresh render).
Usage: .venv/bin/python bench/fleet.py [--sizes 100 1000 5000] [--jobs N] [--runs 3] [--where DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
NAMESPACES = 40
PAGE = os.sysconf("SC_PAGE_SIZE")


def fleet_spec(index: int) -> dict:
    """One plausible spec: purposes, sizes, client counts and operator versions vary with the index."""
    purpose = "session" if index % 3 == 0 else "cache"
    clients = [
        {
            "namespace": f"app-{(index + n) % NAMESPACES}",
            "podSelector": {"app.kubernetes.io/name": f"svc-{index}-{n}", "app.kubernetes.io/part-of": f"shop-{index}"},
        }
        for n in range(1 + index % 3)
    ]
    spec = {
        "apiVersion": "ckredis.elastisys.io/v1alpha1",
        "kind": "RedisCluster",
        "metadata": {"name": f"redis-{index:05d}", "namespace": f"redis-{index % NAMESPACES}"},
        "spec": {
            "purpose": purpose,
            "images": {"registry": "harbor.example.com/proxy"},
            "operator": {"version": ("v1.2.4", "v1.3.0-rc1", "freshworks")[index % 3]},
            "redis": {
                "resources": {
                    "requests": {"cpu": "100m", "memory": f"{256 << index % 3}Mi"},
                    "limits": {"memory": f"{256 << index % 3}Mi"},
                }
            },
            "clients": clients,
        },
    }
    return spec


def write_fleet(directory: Path, size: int) -> list[str]:
    paths = []
    for index in range(size):
        path = directory / f"team-{index % NAMESPACES}" / f"redis-{index:05d}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(fleet_spec(index), sort_keys=False))
        paths.append(str(path))
    return paths


def tree_rss(root: int) -> int:
    """Resident bytes of `root` and all its descendants, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/statm") as statm:
                total += int(statm.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            pass
        todo += children.get(pid, [])
    return total


def measured(command: list[str]) -> tuple[float, int, int]:
    """(seconds, peak tree RSS in bytes, exit code) of one run."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak, done = 0, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.02):
            peak = max(peak, tree_rss(process.pid))

    sampler = threading.Thread(target=sample)
    sampler.start()
    code = process.wait()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    return seconds, peak, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=None, help="passed to ckredis as --jobs when given")
    parser.add_argument("--helm", default=str(REPO / ".tools" / "bin" / "helm3"))
    parser.add_argument("--files", action="store_true", help="pass spec files instead of the fleet directory")
    parser.add_argument(
        "--where", default=None, help="folder for the fleet and its charts (default: the temporary folder)"
    )
    args = parser.parse_args()
    ckredis = [sys.executable, "-m", "ckredis"]
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []
    print(
        f"machine: {os.cpu_count()} CPUs, {os.uname().machine}; medians of {args.runs} runs; "
        f"folder on {args.where or tempfile.gettempdir()}"
    )
    print(f"{'specs':>6} {'command':28} {'wall':>8} {'per spec':>9} {'peak RSS':>9} {'vs helm template':>17}")
    for size in args.sizes:
        with tempfile.TemporaryDirectory(dir=args.where) as scratch:
            specs_dir, out = Path(scratch) / "specs", Path(scratch) / "out"
            files = write_fleet(specs_dir, size)
            targets = files if args.files else [str(specs_dir)]
            first = subprocess.run(
                [*ckredis, "render", *targets, "-o", str(out), *jobs], capture_output=True, text=True
            )
            if first.returncode:
                sys.exit(f"render failed:\n{first.stderr[-2000:]}")
            chart = out / "redis-00001"
            helm = [args.helm, "template", chart.name, str(chart)]
            runs: dict[str, list[tuple[float, int, int]]] = {
                "render (fresh output)": [],
                "render (unchanged)": [],
                "render --check": [],
                "helm template (1 chart)": [],
                "cp -r of the charts": [],
            }
            for run in range(args.runs):
                fresh = Path(scratch) / f"fresh-{run}"
                runs["render (fresh output)"].append(measured([*ckredis, "render", *targets, "-o", str(fresh), *jobs]))
                runs["render (unchanged)"].append(measured([*ckredis, "render", *targets, "-o", str(out), *jobs]))
                runs["render --check"].append(
                    measured([*ckredis, "render", "--check", *targets, "-o", str(out), *jobs])
                )
                runs["helm template (1 chart)"].append(measured(helm))
                runs["cp -r of the charts"].append(measured(["cp", "-r", str(out), str(Path(scratch) / f"copy-{run}")]))
            reference = statistics.median(seconds for seconds, _, _ in runs["helm template (1 chart)"])
            for label, samples in runs.items():
                if any(code for _, _, code in samples):
                    sys.exit(f"{label} exited {[code for _, _, code in samples]}")
                wall = statistics.median(seconds for seconds, _, _ in samples)
                peak = max(rss for _, rss, _ in samples)
                count = 1 if label.startswith("helm") else size
                print(
                    f"{size:>6} {label:28} {wall:7.2f}s {wall / count * 1000:7.1f}ms {peak / 2**20:7.0f}MB "
                    f"{wall / reference:16.1f}x"
                )


if __name__ == "__main__":
    main()

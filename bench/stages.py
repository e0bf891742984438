"""Benchmark: milliseconds per spec of each in-memory stage, in one process (no disk writes).

Usage: .venv/bin/python bench/stages.py SPEC... [--repeat 3] [--profile N]
Each stage runs over every spec before the next starts; the best of --repeat runs is reported. Compiled templates
stay warm between runs, as in a fleet render; the scalar cache is emptied before each run, because in a fleet each
spec brings its own names (and every text that contains them).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ckredis import load as loading  # noqa: E402
from ckredis import model, render, yamltext  # noqa: E402
from ckredis import plan as planning  # noqa: E402
from ckredis import validate as validation  # noqa: E402


def run_stages(sources: list[str]) -> dict[str, float]:
    """Seconds spent in each stage over all sources."""
    seconds: dict[str, float] = {}

    def timed(stage: str, function, items):
        start = time.perf_counter()
        results = [function(item) for item in items]
        seconds[stage] = time.perf_counter() - start
        return results

    documents = timed("load", loading.load, sources)
    data = timed("validate", validation.validate, documents)
    timed("warnings", lambda pair: list(validation.warnings(*pair)), list(zip(documents, data, strict=True)))
    plans = timed("model+plan", lambda d: planning.Plan(model.build(d)), data)
    manifests = timed("manifests", render.manifests, plans)
    timed("dashboard_json", lambda p: p.dashboard_json if p.monitoring.enabled else "", plans)
    timed(
        "render_chart",
        lambda pair: render.render_chart(pair[0], pair[1], "charts/x"),
        list(zip(plans, manifests, strict=True)),
    )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("specs", nargs="+")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0, help="print the top N functions of the render stages")
    args = parser.parse_args()
    sources = args.specs
    best: dict[str, float] = {}
    for _ in range(args.repeat):
        yamltext._scalar_text.cache_clear()
        for stage, value in run_stages(sources).items():
            best[stage] = min(best.get(stage, value), value)
    for stage, value in best.items():
        print(f"{stage:15} {1000 * value / len(sources):7.3f} ms/spec")
    render_total = best["manifests"] + best["dashboard_json"] + best["render_chart"]
    print(f"{'render total':15} {1000 * render_total / len(sources):7.3f} ms/spec")
    if args.profile:
        plans = [planning.Plan(model.build(validation.validate(loading.load(s)))) for s in sources]
        profiler = cProfile.Profile()
        profiler.enable()
        for plan in plans:
            render.render_chart(plan, render.manifests(plan), "charts/x")
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.profile)


if __name__ == "__main__":
    main()

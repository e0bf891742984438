"""`ckredis diff`'s reporters: the same chart reviews as text (a terminal), markdown (a pull-request comment) or JSON.

Each reporter returns the whole output as one string; the CLI picks one by name (REPORTER_BY_NAME) and prints it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from ckredis.review.comparison import ChartReview


def summary_rows(result: ChartReview) -> list[tuple[str, str, str]]:
    """(object|flow|alert, what, change) rows, in that order."""
    rows = [("object", name, state) for state in ("added", "changed", "removed") for name in result.objects[state]]
    rows += [("flow", flow, state) for state in ("added", "removed") for flow in result.flows[state]]
    rows += [("alert", *line.split(": ", 1)) for line in result.alerts]
    return rows


def as_text(results: Sequence[ChartReview]) -> str:
    out = []
    for result in results:
        out.append(f"== {result.chart}: {result.status}\n")
        if not result.changed:
            continue
        out += [f"impact: {line}\n" for line in result.impact]
        out += [f"object {name}: {state}\n" for state in ("added", "changed", "removed")
                for name in result.objects[state]]
        out += [f"flow {flow}: {state}\n" for state in ("added", "removed") for flow in result.flows[state]]
        out += [f"alert {line}\n" for line in result.alerts]
        out += result.diff
    return "".join(out)


# GitHub refuses comments over 65,536 characters, GitLab notes over 1,000,000: keep the folded diffs under both.
_COMMENT_DIFF_BUDGET = 50_000


def as_markdown(results: Sequence[ChartReview]) -> str:
    changed = [result for result in results if result.changed]
    budget = _COMMENT_DIFF_BUDGET
    if not changed:
        return "### ckredis diff\n\nNo chart changes.\n"
    out = ["### ckredis diff\n"]
    for result in changed:
        out.append(f"\n#### `{result.chart}` ({result.status})\n\n")
        out.append("**Impact**\n\n" + "".join(f"- {_md(line)}\n" for line in result.impact) + "\n"
                   if result.impact else "**Impact**: none beyond the objects below.\n\n")
        out.append("| | What | Change |\n| --- | --- | --- |\n")
        out += [f"| {kind} | {_md(what)} | {_md(change)} |\n" for kind, what, change in summary_rows(result)]
        shown, budget = _within(result.diff, budget)
        fence = "~~~~" if any(line.startswith("~~~") for line in shown) else "~~~"
        cut = (f"({len(result.diff) - len(shown)} more lines: run `ckredis diff` to see them)\n"
               if len(shown) < len(result.diff) else "")
        out.append(f"\n<details><summary>Unified diff ({len(result.diff)} lines)</summary>\n\n{fence}diff\n"
                   + "".join(shown) + f"{fence}\n{cut}\n</details>\n")
    return "".join(out)


def _within(lines: list[str], budget: int) -> tuple[list[str], int]:
    """The leading lines that fit in budget characters, and the budget left."""
    shown = []
    for line in lines:
        if len(line) > budget:
            break
        shown.append(line)
        budget -= len(line)
    return shown, budget


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;")


def as_json(results: Sequence[ChartReview]) -> str:
    report = {"changed": any(result.changed for result in results), "charts": [result.as_dict() for result in results]}
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


REPORTER_BY_NAME: dict[str, Callable[[Sequence[ChartReview]], str]] = {
    "text": as_text, "markdown": as_markdown, "json": as_json}

"""`ckredis diff`'s reporters: the same chart reviews as text (a terminal), markdown (a pull-request comment) or JSON.

Each reporter returns the whole output as one string; the CLI picks one by name (REPORTER_BY_NAME) and prints it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence

from ckredis.errors import visible
from ckredis.review.comparison import ChartReview


def summary_rows(result: ChartReview) -> list[tuple[str, str, str]]:
    """(object|flow|alert, what, change) rows, in that order."""
    rows = [("object", name, state) for state in ("added", "changed", "removed") for name in result.objects[state]]
    rows += [("flow", flow, state) for state in ("added", "removed") for flow in result.flows[state]]
    rows += [("alert", name, change) for name, _, change in (line.partition(": ") for line in result.alerts)]
    return rows


def as_text(results: Sequence[ChartReview]) -> str:
    """One line per fact, then the unified diff. Names and values come from the committed charts too (a folder name,
    an object's name): a line break in them is written as an escape, so none can start a line of its own."""
    out = []
    for result in results:
        out.append(f"== {visible(result.chart)}: {result.status}\n")
        if not result.changed:
            continue
        out += [f"impact: {visible(line)}\n" for line in result.impact]
        out += [
            f"object {visible(name)}: {state}\n"
            for state in ("added", "changed", "removed")
            for name in result.objects[state]
        ]
        out += [f"flow {visible(flow)}: {state}\n" for state in ("added", "removed") for flow in result.flows[state]]
        out += [f"alert {visible(line)}\n" for line in result.alerts]
        out += result.diff
    return "".join(out)


# GitHub refuses comments of 65,536 characters or more (GitLab notes over 1,000,000): the whole comment stays below,
# counted in UTF-16 code units as GitHub's limit is; the room kept aside holds the note that says what was left out.
COMMENT_LIMIT = 65_536
_NOTE_ROOM = 300
_DIFF_ROOM = 200  # kept for each chart's <details> around its diff, however few of its lines fit
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|&~])")


def as_markdown(results: Sequence[ChartReview]) -> str:
    """A pull-request comment: per changed chart its impact, a summary table and the unified diff folded in
    <details>. Nothing from the charts can close a fence, open HTML or forge a line (everything is escaped), and the
    comment stays below COMMENT_LIMIT: what does not fit is left out, and a note says so."""
    changed = [result for result in results if result.changed]
    if not changed:
        return "### ckredis diff\n\nNo chart changes.\n"
    header = "### ckredis diff\n"
    room = COMMENT_LIMIT - 1 - _NOTE_ROOM - _length(header)
    summaries, complete, summary = [], True, ""
    for result in changed:  # the summaries of every chart first: they matter more than any diff
        summary, complete = _summary(result, room - _DIFF_ROOM)
        if summary:
            summaries.append(summary)
            room -= _length(summary) + _DIFF_ROOM
        if not complete:
            break
    out = [header]
    for result, summary_text in zip(changed, summaries, strict=False):
        details = _folded_diff(result.diff, room + _DIFF_ROOM)
        room += _DIFF_ROOM - _length(details)
        out += [summary_text, details]
    if not complete:
        partial = ", the last one in part" if summary else ""
        out.append(
            f"\n**This comment is cut** to stay below GitHub's limit of {COMMENT_LIMIT:,} characters: "
            f"{len(summaries)} of {len(changed)} changed charts are shown{partial}. Run `ckredis diff` to see "
            "everything.\n"
        )
    return "".join(out)


def _summary(result: ChartReview, room: int) -> tuple[str, bool]:
    """A chart's heading, impact list and summary table, as far as room allows; and whether all of it fit."""
    name = visible(result.chart)
    ticks = "`" * (max(map(len, re.findall("`+", name)), default=0) + 1)
    pad = " " if name.startswith("`") or name.endswith("`") else ""  # a code span drops one space on each side
    parts = [f"\n#### {ticks}{pad}{name}{pad}{ticks} ({result.status})\n\n"]
    if result.impact:
        parts += ["**Impact**\n\n", *(f"- {_md(line)}\n" for line in result.impact), "\n"]
    else:
        parts.append("**Impact**: none beyond the objects below.\n\n")
    parts.append("| | What | Change |\n| --- | --- | --- |\n")
    parts += [f"| {kind} | {_md(what)} | {_md(change)} |\n" for kind, what, change in summary_rows(result)]
    shown = _fitting(parts, room)
    if len(shown) < 2:
        return "", False
    return "".join(shown), len(shown) == len(parts)


def _folded_diff(diff: list[str], room: int) -> str:
    """The unified diff in <details>, in a fence longer than any run of '~' or '`' in the lines shown (so none of them
    can close it), with as many lines as fit in room (at least _DIFF_ROOM)."""
    opening = f"\n<details><summary>Unified diff ({len(diff)} lines)</summary>\n\n"
    fixed = _length(opening + "diff\n\n</details>\n" + _cut_note(len(diff)))
    longest, used, shown = 2, 0, []
    for line in (visible(line.removesuffix("\n"), keep="\t") + "\n" for line in diff):
        widest = max([longest, *(len(run) for run in re.findall("~+|`+", line))])
        if fixed + 2 * (widest + 1) + used + _length(line) > room:
            break
        shown.append(line)
        longest, used = widest, used + _length(line)
    fence = "~" * (longest + 1)
    cut = _cut_note(len(diff) - len(shown)) if len(shown) < len(diff) else ""
    return f"{opening}{fence}diff\n{''.join(shown)}{fence}\n{cut}\n</details>\n"


def _cut_note(lines: int) -> str:
    return f"({lines} more lines: run `ckredis diff` to see them)\n"


def _fitting(parts: list[str], room: int) -> list[str]:
    """The leading parts whose total length fits in room."""
    shown = []
    for part in parts:
        room -= _length(part)
        if room < 0:
            break
        shown.append(part)
    return shown


def _length(text: str) -> int:
    """Characters as GitHub counts them (UTF-16 code units: a character beyond U+FFFF counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def _md(text: str) -> str:
    """Text for a list item or a table cell: Markdown's and HTML's special characters escaped, and anything that could
    end the line (CR, U+2028) or act on a terminal written as an escape."""
    return visible(_MARKDOWN_SPECIAL.sub(r"\\\1", text))


def as_json(results: Sequence[ChartReview]) -> str:
    report = {"changed": any(result.changed for result in results), "charts": [result.as_dict() for result in results]}
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


REPORTER_BY_NAME: dict[str, Callable[[Sequence[ChartReview]], str]] = {
    "text": as_text,
    "markdown": as_markdown,
    "json": as_json,
}

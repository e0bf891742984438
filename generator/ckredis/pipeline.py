"""The stages in a straight line, as plain functions the CLI (and tests) call.

One spec goes load → validate → model → plan → render in `render_spec`. A fleet runs a task over every spec
(`run`), on several processes when it pays, and gets back small Outcomes in input order; the cross-spec checks
(clashes) run on those. Tasks that compare with an output directory first ask the cache whether the spec and
the chart on disk are exactly as an earlier run left them, and render only when not.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from ckredis import cache, clashes, model, parallel
from ckredis.errors import CkredisError, Issue, SpecError
from ckredis.load import STDIN, load, read_bytes
from ckredis.plan import Plan

if TYPE_CHECKING:
    from ckredis import write
    from ckredis.review import comparison


@dataclass(frozen=True)
class Rendered:
    source: str
    name_position: tuple[int, int]
    plan: Plan
    manifests: dict[str, str]
    warnings: tuple[Issue, ...] = ()

    @property
    def cluster(self) -> model.Cluster:
        return self.plan.cluster

    @property
    def files(self) -> dict[str, str]:
        """The whole chart directory as written to `output/<name>`; only writes and checks need it,
        `--stdout` does not."""
        return self._chart(f"output/{self.name}")

    def chart_files(self, chart_dir: Path) -> dict[str, str]:
        """The whole chart directory as written to chart_dir (its README names where the chart lives)."""
        return self._chart(repository_path(chart_dir))

    def _chart(self, path: str) -> dict[str, str]:
        from ckredis import render

        if path not in self._charts:
            self._charts[path] = render.render_chart(self.plan, self.manifests, path)
        return self._charts[path]

    @cached_property
    def _charts(self) -> dict[str, dict[str, str]]:
        """Rendered chart directories by where they live (one per run, unless a test asks for more)."""
        return {}

    @property
    def name(self) -> str:
        return self.cluster.name

    def stream(self) -> str:
        from ckredis import stream

        return stream.manifest_stream(self.name, self.manifests)

    @cached_property
    def alert_tests(self) -> dict[str, str]:
        """The rules as a Prometheus rule file and promtool unit tests of every alert (not part of the chart)."""
        from ckredis import render

        return render.alert_tests(self.plan)

    @cached_property
    def claim(self) -> clashes.Claim:
        return clashes.Claim(self.source, self.name_position, self.name, clashes.objects_of(self.manifests.values()))


def render_spec(source: str, raw: bytes | None = None) -> Rendered:
    """One spec (its bytes when already read) through every stage; SpecError lists every problem in it."""
    from ckredis import render
    from ckredis.validate import validate, warnings

    document = load(source, raw)
    data = validate(document)
    plan = Plan(model.build(data))
    return Rendered(
        source, document.position(("metadata", "name")), plan, render.manifests(plan), tuple(warnings(document, data))
    )


def render_specs(sources: list[str]) -> list[Rendered]:
    """Render every spec in this process, or raise one SpecError with the problems of all of them."""
    rendered, issues = [], []
    for source in sources:
        try:
            rendered.append(render_spec(source))
        except SpecError as error:
            issues.extend(error.issues)
    issues.extend(clashes.clashes([item.claim for item in rendered]))
    if issues:
        raise SpecError(issues)
    return rendered


# ---- fleets -------------------------------------------------------------------------------------------------

Result = TypeVar("Result")


@dataclass(frozen=True)
class Outcome(Generic[Result]):
    """What one spec's run produced: small, so that it travels back from a worker process."""

    source: str
    claim: clashes.Claim | None = None  # None when the spec is invalid
    namespace: str = ""
    purpose: str = ""
    issues: tuple[Issue, ...] = ()
    warnings: tuple[Issue, ...] = ()
    result: Result | None = None  # what the task made of the spec; None when it is invalid or failed
    failure: tuple[str, ...] = ()  # an error that is not the spec's (the output directory's), as lines

    @property
    def name(self) -> str:
        return self.claim.chart if self.claim else ""


class Task(Generic[Result]):
    """What to do with each rendered spec. `unchanged` answers from the cache without rendering, or None."""

    def __call__(self, item: Rendered) -> Result:
        raise NotImplementedError

    def unchanged(self, entry: cache.Entry) -> Result | None:
        return None


class Validate(Task[bool]):
    def __call__(self, item: Rendered) -> bool:
        return True

    def unchanged(self, entry: cache.Entry) -> bool | None:
        return True  # validity does not depend on any output directory


class Stream(Task[str]):
    def __call__(self, item: Rendered) -> str:
        return item.stream()


class AlertTests(Task[dict[str, str]]):
    """The rule file and promtool tests of every alert; empty for a chart without alert rules."""

    def __call__(self, item: Rendered) -> dict[str, str]:
        return item.alert_tests


class Connectivity(Task[list[tuple[str, str, str, str]]]):
    """The flows the NetworkPolicies allow, as (from, to, ports, why) rows."""

    def __call__(self, item: Rendered) -> list[tuple[str, str, str, str]]:
        from ckredis import access

        return access.connectivity_table(access.flows(item.cluster))


class _ChartTask(Task[Result]):
    """A task on the chart in output/<name>; results are also recorded in the cache, by chart location."""

    def __init__(self, output: Path):
        self.output = output

    def chart_dir(self, name: str) -> Path:
        return self.output / name

    def unchanged(self, entry: cache.Entry) -> Result | None:
        chart_dir = self.chart_dir(entry.name)
        if chart_dir.is_symlink() or entry.charts.get(repository_path(chart_dir)) != _disk_digest(chart_dir):
            return None
        return self.as_wanted(entry)

    def as_wanted(self, entry: cache.Entry) -> Result:
        """The result for a chart on disk that is exactly what its spec renders."""
        raise NotImplementedError


class Check(_ChartTask[tuple[str, ...]]):
    """The chart's files that differ from what a render would write, relative to the chart directory."""

    def __call__(self, item: Rendered) -> tuple[str, ...]:
        from ckredis import write

        return tuple(write.differences(item.chart_files(self.chart_dir(item.name)), self.chart_dir(item.name)))

    def as_wanted(self, entry: cache.Entry) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True)
class Unchanged:
    """A chart already as its spec renders it: nothing to stage."""


class Stage(_ChartTask["write.Staged | Unchanged"]):
    """Write a changed chart beside its directory (a write.Staged), swapped in later if every spec is valid."""

    def __call__(self, item: Rendered) -> write.Staged | Unchanged:
        from ckredis import write

        return write.stage_chart(item.chart_files(self.chart_dir(item.name)), self.chart_dir(item.name)) or Unchanged()

    def as_wanted(self, entry: cache.Entry) -> write.Staged | Unchanged:
        return Unchanged()


class Review(_ChartTask["comparison.ChartReview"]):
    def __call__(self, item: Rendered) -> comparison.ChartReview:
        from ckredis.review import comparison

        chart_dir = self.chart_dir(item.name)
        return comparison.compare(
            item.name, comparison.committed_chart(chart_dir), item.chart_files(chart_dir), str(chart_dir)
        )

    def as_wanted(self, entry: cache.Entry) -> comparison.ChartReview:
        from ckredis.review import comparison

        return comparison.ChartReview(entry.name, "unchanged")


def run(
    task: Task[Result],
    sources: list[str],
    *,
    jobs: int = 1,
    use_cache: bool = True,
    advance: Callable[[], None] = lambda: None,
) -> list[Outcome[Result]]:
    """task over every spec, in input order; clashes between specs are added as issues of the specs involved."""
    work = functools.partial(_run_one, task, use_cache and STDIN not in sources)
    outcomes = []
    for outcome in parallel.ordered_map(work, sources, jobs):
        outcomes.append(outcome)
        advance()
    found = clashes.clashes([outcome.claim for outcome in outcomes if outcome.claim])
    by_source: dict[str, list[Issue]] = {}
    for issue in found:
        by_source.setdefault(issue.source, []).append(issue)
    return [replace(outcome, issues=outcome.issues + tuple(by_source.get(outcome.source, ()))) for outcome in outcomes]


def problems(outcomes: list[Outcome]) -> SpecError | None:
    """One SpecError with every spec's errors, or None when all are valid."""
    issues = [issue for outcome in outcomes for issue in outcome.issues]
    return SpecError(issues) if issues else None


def _run_one(task: Task[Result], use_cache: bool, source: str) -> Outcome[Result]:
    key = raw = entry = None
    if use_cache:
        try:
            raw = read_bytes(source)
            key = cache.key(source, raw)
        except OSError:
            pass  # unreadable: rendering says why, located
        entry = cache.read(key) if key else None
        if entry is not None and (raw is None or not _describes(entry, raw)):
            entry = None  # hand-made or damaged: it must not redirect --check or --prune to another chart
        if entry is not None:
            result = task.unchanged(entry)
            if result is not None:
                return Outcome(
                    source,
                    clashes.Claim(source, entry.name_position, entry.name, entry.objects),
                    entry.namespace,
                    entry.purpose,
                    warnings=entry.warnings,
                    result=result,
                )
    try:
        item = render_spec(source, raw)
    except SpecError as error:
        return Outcome(source, issues=tuple(error.issues))
    try:
        result = task(item)
    except CkredisError as error:
        return Outcome(source, item.claim, item.cluster.namespace, item.cluster.purpose, failure=tuple(error.lines()))
    if key:
        _remember(key, entry, item, task)
    return Outcome(
        source, item.claim, item.cluster.namespace, item.cluster.purpose, warnings=item.warnings, result=result
    )


def _describes(entry: cache.Entry, raw: bytes) -> bool:
    """Whether the entry is about the chart the spec renders: the spec's own metadata name and namespace."""
    import yaml

    try:
        data = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return False
    meta = data.get("metadata") if isinstance(data, dict) else None
    return isinstance(meta, dict) and meta.get("name") == entry.name and meta.get("namespace") == entry.namespace


def _remember(key: str, previous: cache.Entry | None, item: Rendered, task: Task) -> None:
    """Record what rendering the spec reported (previous: the entry this run read) and its chart's digest."""
    charts = dict(previous.charts) if previous else {}
    if isinstance(task, _ChartTask):
        chart_dir = task.chart_dir(item.name)
        files = item.chart_files(chart_dir)
        charts[repository_path(chart_dir)] = cache.chart_digest({path: text.encode() for path, text in files.items()})
    entry = cache.Entry(
        item.name,
        item.cluster.namespace,
        item.cluster.purpose,
        item.name_position,
        item.claim.objects,
        item.warnings,
        charts,
    )
    if entry != previous:
        cache.store(key, entry)


def _disk_digest(chart_dir: Path) -> str | None:
    from ckredis import write

    try:
        return cache.chart_digest(write.existing_files(chart_dir))
    except CkredisError:
        return None


def repository_path(chart_dir: Path) -> str:
    """Where a chart lives, as a Git repository (and so Argo CD) sees it: relative to the repository root when
    chart_dir is inside a work tree, else as given. Symlinks are not resolved, so the same command from the
    same place always gives the same path."""
    absolute = Path(os.path.abspath(chart_dir))
    for parent in absolute.parents:
        if (parent / ".git").exists():  # a directory, or a file in a linked work tree
            return absolute.relative_to(parent).as_posix()
    return chart_dir.as_posix()


__all__ = ["CkredisError", "Outcome", "Rendered", "render_spec", "render_specs", "run"]

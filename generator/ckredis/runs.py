"""Multi-spec runs: what each command does with a fleet of specs, as one function per command with a typed result.

The CLI finds the specs (`find`), calls one of these and prints what it returns; nothing here prints or exits.
Every run goes through `pipeline.run` with one task, so a spec is validated, cached and rendered the same way
whatever the command. A run refuses with a CkredisError (its lines are the message) when any spec is invalid,
after collecting the problems of all of them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ckredis import cache, discover, parallel, pipeline, write
from ckredis.errors import Issue, OutputError, SpecError

if TYPE_CHECKING:
    from ckredis.review import comparison

# What the CLI hands a run to draw progress: (verb, how many specs) -> a callback per finished spec, and a close.
ProgressFactory = Callable[[str, int], tuple[Callable[[], None], Callable[[], None]]]


def _no_progress(verb: str, total: int) -> tuple[Callable[[], None], Callable[[], None]]:
    return (lambda: None), (lambda: None)


@dataclass(frozen=True)
class Options:
    jobs: int | None = None  # None: one per CPU this process may use
    use_cache: bool = True
    progress: ProgressFactory = _no_progress


def find(targets: list[str]) -> discover.Discovery:
    """The specs named or held by folders (and the files a search ignored, with why)."""
    return discover.discover(targets)


@dataclass(frozen=True)
class Written:
    """A chart a render wrote (files: how many) or found already as wanted (files: None)."""

    chart_dir: Path
    files: int | None


@dataclass(frozen=True)
class Rendering:
    warnings: list[Issue]
    charts: list[Written]
    swept: list[Path] = field(default_factory=list)  # staging folders an interrupted render had left
    pruned: list[Path] = field(default_factory=list)


def render(found: discover.Discovery, output: Path, *, prune: bool, options: Options) -> Rendering:
    """Stage every changed chart while holding the output's lock; swap them in only when every spec is valid."""
    created = not os.path.lexists(output)
    try:
        with write.output_lock(output, exclusive=True):
            swept = write.sweep_staging(output)
            outcomes = _run(pipeline.Stage(output), found, "rendering", options)
            staged = [outcome.result for outcome in outcomes if isinstance(outcome.result, write.Staged)]
            try:
                warnings = _valid(outcomes)
                orphans = write.orphan_charts(output, _names(outcomes)) if prune else []
                for orphan in orphans:
                    write.check_writable(orphan)
            except BaseException:
                write.discard(staged)
                raise
            write.commit(output, staged)
            for orphan in orphans:
                write.remove_chart(orphan)
    except (SpecError, OutputError):
        if created and output.is_dir() and not any(output.iterdir()):
            output.rmdir()  # a refused render leaves no trace, not even the output directory it would have made
        raise
    charts = [
        Written(output / outcome.name, outcome.result.files if isinstance(outcome.result, write.Staged) else None)
        for outcome in outcomes
    ]
    return Rendering(warnings, charts, swept, orphans)


@dataclass(frozen=True)
class Checked:
    warnings: list[Issue]
    findings: write.Findings


def check(found: discover.Discovery, output: Path, options: Options) -> Checked:
    """What `--check` finds: stale files, leftover staging folders and orphan charts; nothing is written."""
    if not output.is_dir():
        outcomes = _run(pipeline.Check(output), found, "checking", options)
        warnings = _valid(outcomes)
        return Checked(warnings, write.Findings(stale=_stale(output, outcomes)))
    with write.output_lock(output, exclusive=False):
        outcomes = _run(pipeline.Check(output), found, "checking", options)
        warnings = _valid(outcomes)
        return Checked(
            warnings,
            write.Findings(
                stale=_stale(output, outcomes),
                leftovers=write.staging_folders(output),
                orphans=write.orphan_charts(output, _names(outcomes)),
            ),
        )


def _stale(output: Path, outcomes: list[pipeline.Outcome]) -> list[Path]:
    return [output / outcome.name / path for outcome in outcomes for path in outcome.result or ()]


@dataclass(frozen=True)
class Streamed:
    warnings: list[Issue]
    text: str  # every spec's manifests, as one YAML stream


def stream(found: discover.Discovery, options: Options) -> Streamed:
    outcomes = _run(pipeline.Stream(), found, "rendering", options)
    warnings = _valid(outcomes)
    return Streamed(warnings, "".join(outcome.result or "" for outcome in outcomes))


@dataclass(frozen=True)
class Validation:
    """Every spec's verdict: the valid ones (with their warnings) and the problems of the others."""

    valid: list[pipeline.Outcome]
    problems: list[Issue]

    @property
    def warnings(self) -> list[Issue]:
        return [warning for outcome in self.valid for warning in outcome.warnings]


def validate(found: discover.Discovery, options: Options) -> Validation:
    """Unlike the other runs, an invalid spec is a verdict here, not an error: the report lists it."""
    outcomes = _run(pipeline.Validate(), found, "validating", options)
    problems = [issue for outcome in outcomes for issue in outcome.issues]
    return Validation([outcome for outcome in outcomes if not outcome.issues], problems)


@dataclass(frozen=True)
class Comparison:
    warnings: list[Issue]
    reviews: list[comparison.ChartReview]  # one per chart


def diff(found: discover.Discovery, output: Path, *, orphans: bool, options: Options) -> Comparison:
    """What rendering would change in each chart under output (and, with orphans, which charts it would leave)."""
    from ckredis.review import comparison

    outcomes = _run(pipeline.Review(output), found, "comparing", options)
    warnings = _valid(outcomes)
    reviews = [outcome.result for outcome in outcomes if outcome.result is not None]  # all, when _valid passed
    if orphans and output.is_dir():
        reviews += [
            comparison.compare(chart.name, comparison.committed_chart(chart), None, str(chart))
            for chart in write.orphan_charts(output, _names(outcomes))
        ]
    return Comparison(warnings, reviews)


@dataclass(frozen=True)
class AlertProof:
    chart: str
    passed: bool | None  # None: the chart has no alert rules to test
    report: str = ""  # promtool's own words, when it failed


@dataclass(frozen=True)
class AlertProofs:
    warnings: list[Issue]
    proofs: list[AlertProof]


def test(found: discover.Discovery, *, keep_in: Path | None, promtool: str | None) -> AlertProofs:
    """Each spec's rules and promtool tests of every alert, run by promtool (kept in keep_in/<name>/ if given)."""
    from ckredis import prove

    runner = prove.find_promtool(promtool)
    outcomes = _run(pipeline.AlertTests(), found, "rendering", Options(jobs=1, use_cache=False))
    warnings = _valid(outcomes)
    proofs = []
    with tempfile.TemporaryDirectory(prefix="ckredis-test-") as scratch:
        for outcome in outcomes:
            if not outcome.result:
                proofs.append(AlertProof(outcome.name, None))
                continue
            proved = prove.run(outcome.result, (keep_in or Path(scratch)) / outcome.name, runner)
            proofs.append(AlertProof(outcome.name, proved.passed, "" if proved.passed else proved.output))
    return AlertProofs(warnings, proofs)


def connectivity(spec: str) -> list[tuple[str, str, str, str]]:
    """The flows the spec's NetworkPolicies allow, as (from, to, ports, why) rows."""
    (outcome,) = _run(
        pipeline.Connectivity(), discover.Discovery(specs=[spec]), "reading", Options(jobs=1, use_cache=False)
    )
    _valid([outcome])
    return outcome.result or []


def prune_cache(older_than_days: float) -> cache.Pruned:
    """Remove the cache entries no run has used for older_than_days."""
    return cache.prune(older_than_days)


def _run(task: pipeline.Task, found: discover.Discovery, verb: str, options: Options) -> list[pipeline.Outcome]:
    advance, close = options.progress(verb, len(found.specs))
    try:
        return pipeline.run(
            task,
            found.specs,
            jobs=options.jobs or parallel.default_jobs(),
            use_cache=options.use_cache,
            advance=advance,
        )
    finally:
        close()


def _valid(outcomes: list[pipeline.Outcome]) -> list[Issue]:
    """The warnings when every spec is valid and nothing failed; else the errors, raised."""
    error = pipeline.problems(outcomes)
    if error:
        raise error
    failures = [line for outcome in outcomes for line in outcome.failure]
    if failures:
        raise OutputError(*failures)
    return [warning for outcome in outcomes for warning in outcome.warnings]


def _names(outcomes: Iterable[pipeline.Outcome]) -> set[str]:
    return {outcome.name for outcome in outcomes}

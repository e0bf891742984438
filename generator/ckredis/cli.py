"""The command line: a thin Typer layer. It parses arguments, calls the pipeline and maps errors to exit codes.

Exit codes: 0 ok, 1 `--check` found stale files, 2 invalid input or usage.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer
from typer.core import TyperCommand

from ckredis import __version__, discover, facts, parallel, pipeline, progress, starter, write
from ckredis.errors import CkredisError, OutputError, SpecError

class _Command(TyperCommand):
    """A command whose usage line names its arguments plainly: `render [OPTIONS] SPEC...`."""

    def collect_usage_pieces(self, ctx: typer.Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = param.metavar or param.name.upper()
                pieces.append(name if param.required else f"[{name}]")
        return pieces


app = typer.Typer(
    add_completion=True,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="Render a hardened, reviewable Helm chart for a Redis Sentinel cluster from a short YAML spec.",
    epilog="Examples:\n\n  ckredis init cache > cache.yaml\n\n  ckredis validate cache.yaml\n\n"
           "  ckredis render examples/*.yaml -o output\n\n  ckredis render --check examples/*.yaml\n\n"
           "  ckredis render cache.yaml --stdout | kubectl apply -f -",
)

Purpose = Literal[tuple(facts.PURPOSES)]
Specs = Annotated[list[str], typer.Argument(help="Spec files, or directories searched recursively for specs; '-' reads one "
                                                 "from stdin.", metavar="SPEC...")]
Jobs = Annotated[Optional[int], typer.Option("--jobs", "-j", min=1, help="Processes to render with (default: one per CPU "
                                                                      "this process may use). Output is the same for any value.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Also list the YAML files a directory search ignored, and why.")]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Render every spec, even those the cache knows to match their chart.")]


def _reporting(command: Callable) -> Callable:
    """Turn ckredis errors into their message on stderr and exit code 2, never a traceback."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except CkredisError as error:
            for line in error.lines():
                typer.echo(line, err=True)
            raise typer.Exit(error.exit_code) from None

    return run


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ckredis {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True,
                                                    help="Print the version and exit.")] = None,
) -> None:
    """ckredis renders one Helm chart per Redis cluster spec."""


@app.command(cls=_Command, epilog="Examples:\n\n  ckredis render examples/*.yaml -o output\n\n  ckredis render specs/ -o charts\n\n"
                    "  ckredis render --check specs/ -o charts\n\n  ckredis render cache.yaml --stdout | kubectl apply -f -")
@_reporting
def render(
    specs: Specs,
    output: Annotated[Path, typer.Option("--output", "-o", help="Directory that receives one chart per spec, in <dir>/<name>/.")] = Path("output"),
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 and list the files that differ if a chart is stale.")] = False,
    stdout: Annotated[bool, typer.Option("--stdout", help="Print the manifests as one YAML stream (what `helm template` yields) instead of writing charts.")] = False,
    prune: Annotated[bool, typer.Option("--prune", help="Also remove charts ckredis generated in the output directory that no given spec renders.")] = False,
    jobs: Jobs = None,
    verbose: Verbose = False,
    no_cache: NoCache = False,
) -> None:
    """Validate specs and render one Helm chart per spec. Nothing is written unless every spec is valid."""
    if check and stdout:
        raise typer.BadParameter("--check and --stdout exclude each other")
    if prune and (check or stdout):
        raise typer.BadParameter("--prune writes; it excludes --check and --stdout")
    fleet = functools.partial(_fleet, specs, jobs=jobs, verbose=verbose, use_cache=not no_cache)
    if stdout:
        outcomes = _valid(fleet(pipeline.Stream(), "rendering"))
        sys.stdout.write("".join(outcome.result for outcome in outcomes))
    elif check:
        _report_check(_check(output, fleet))
    else:
        _write(output, fleet, prune)


def _write(output: Path, fleet: Callable, prune: bool) -> None:
    """Stage every changed chart while holding the output's lock; swap them in only when every spec is valid."""
    created = not os.path.lexists(output)
    try:
        with write.output_lock(output, exclusive=True):
            swept = write.sweep_staging(output)
            outcomes = fleet(pipeline.Stage(output), "rendering")
            staged = [outcome.result for outcome in outcomes if isinstance(outcome.result, write.Staged)]
            try:
                _valid(outcomes)
                orphans = write.orphan_charts(output, {outcome.name for outcome in outcomes}) if prune else []
                for orphan in orphans:
                    write.check_writable(orphan)
            except BaseException:
                write.discard(staged)
                raise
            write.commit(output, staged)
            for orphan in orphans:
                write.remove_chart(orphan)
    except CkredisError:
        if created and output.is_dir() and not any(output.iterdir()):
            output.rmdir()  # a refused render leaves no trace, not even the output directory it would have made
        raise
    for folder in swept:
        typer.echo(f"removed {folder}/ (an interrupted render left it)")
    for outcome in outcomes:
        chart = output / outcome.name
        typer.echo(f"wrote {chart}/ ({outcome.result.files} files)" if outcome.result else f"unchanged {chart}/")
    for chart in orphans:
        typer.echo(f"pruned {chart}/ (no spec renders it)")


def _check(output: Path, fleet: Callable) -> write.Findings:
    if not output.is_dir():
        outcomes = _valid(fleet(pipeline.Check(output), "checking"))
        return write.Findings(stale=[output / outcome.name / path for outcome in outcomes for path in outcome.result])
    with write.output_lock(output, exclusive=False):
        outcomes = _valid(fleet(pipeline.Check(output), "checking"))
        return write.Findings(stale=[output / outcome.name / path for outcome in outcomes for path in outcome.result],
                              leftovers=write.staging_folders(output),
                              orphans=write.orphan_charts(output, {outcome.name for outcome in outcomes}))


def _fleet(specs: list[str], task: pipeline.Task, verb: str, *, jobs: int | None, verbose: bool,
           use_cache: bool) -> list[pipeline.Outcome]:
    """Find the specs, run task over them (a progress bar on a terminal) and report what a search ignored."""
    found = discover.discover(specs)
    if verbose:
        for path, why in found.ignored:
            typer.echo(f"ignored {path}: {why}", err=True)
    bar = progress.Progress(verb, len(found.specs))
    try:
        return pipeline.run(task, found.specs, jobs=jobs or parallel.default_jobs(), use_cache=use_cache,
                            advance=bar.advance)
    finally:
        bar.close()


def _valid(outcomes: list[pipeline.Outcome]) -> list[pipeline.Outcome]:
    """The outcomes when every spec is valid and nothing failed (warnings printed); else the errors, raised."""
    error = pipeline.problems(outcomes)
    if error:
        raise error
    failures = [line for outcome in outcomes for line in outcome.failure]
    if failures:
        raise OutputError("\n".join(failures))
    for outcome in outcomes:
        for warning in outcome.warnings:
            typer.echo(str(warning), err=True)
    return outcomes


def _report_check(findings: write.Findings) -> None:
    for path in findings.stale:
        typer.echo(f"stale: {path}")
    for folder in findings.leftovers:
        typer.echo(f"leftover: {folder}/ (an interrupted render left it; `ckredis render` removes it)")
    for chart in findings.orphans:
        typer.echo(f"orphan: {chart}/ (generated by ckredis, but no spec given renders it; "
                   "`ckredis render --prune` removes it)")
    if findings.stale:
        typer.echo(f"{len(findings.stale)} file(s) differ; run `ckredis render` and commit the result", err=True)
    if findings.leftovers or findings.orphans:
        typer.echo(f"{len(findings.leftovers)} leftover staging folder(s), {len(findings.orphans)} orphan chart(s); "
                   "run `ckredis render --prune` with every spec and commit the result", err=True)
    if findings:
        raise typer.Exit(1)


@app.command(cls=_Command, epilog="Examples:\n\n  ckredis validate specs/\n\n  ckredis validate --format json specs/ > report.json")
@_reporting
def validate(
    specs: Specs,
    output_format: Annotated[str, typer.Option("--format", help="text, or json (for scripts; also on invalid input).")] = "text",
    jobs: Jobs = None,
    verbose: Verbose = False,
    no_cache: NoCache = False,
) -> None:
    """Check specs and report every problem as FILE:LINE:COL: PATH: message (warnings do not fail)."""
    if output_format not in ("text", "json"):
        raise typer.BadParameter(f"--format must be text or json, not {output_format!r}")
    if output_format == "json":
        _validate_json(specs, jobs, no_cache)
        return
    outcomes = _valid(_fleet(specs, pipeline.Validate(), "validating", jobs=jobs, verbose=verbose, use_cache=not no_cache))
    for outcome in outcomes:
        typer.echo(f"{outcome.source}: ok ({outcome.namespace}/{outcome.name}, {outcome.purpose})")


def _validate_json(specs: list[str], jobs: int | None, no_cache: bool) -> None:
    """{"ok", "specs": [...], "problems": [...], "ignored": [...]} on stdout; exit 2 when a spec is invalid."""
    try:
        found = discover.discover(specs)
        outcomes = pipeline.run(pipeline.Validate(), found.specs, jobs=jobs or parallel.default_jobs(), use_cache=not no_cache)
        problems = [issue for outcome in outcomes for issue in outcome.issues]
    except SpecError as error:
        found, outcomes, problems = discover.Discovery(), [], error.issues
    report = {
        "ok": not problems,
        "specs": [{"source": outcome.source, "name": outcome.name, "namespace": outcome.namespace,
                   "purpose": outcome.purpose, "warnings": [asdict(issue) for issue in outcome.warnings]}
                  for outcome in outcomes if not outcome.issues],
        "problems": [asdict(issue) for issue in problems],
        "ignored": [{"path": path, "reason": why} for path, why in found.ignored],
    }
    typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
    if problems:
        raise typer.Exit(2)


@app.command(cls=_Command)
@_reporting
def connectivity(spec: Annotated[str, typer.Argument(help="Spec file; '-' reads it from stdin.", metavar="SPEC")]) -> None:
    """Print the flows the NetworkPolicies allow (from, to, ports, why); everything else is denied."""
    from ckredis import access
    rows = [("FROM", "TO", "PORTS", "WHY"), *access.connectivity_table(access.flows(pipeline.build_model(spec)))]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3])


@app.command(cls=_Command, epilog="Examples:\n\n  ckredis diff specs/ -o charts\n\n"
                                  "  ckredis diff --format markdown specs/ -o charts > comment.md")
@_reporting
def diff(
    specs: Specs,
    output: Annotated[Path, typer.Option("--output", "-o", help="Directory holding the committed charts, <dir>/<name>/.")] = Path("output"),
    output_format: Annotated[str, typer.Option("--format", help="text, markdown (a pull-request comment) or json.")] = "text",
    orphans: Annotated[bool, typer.Option("--orphans", help="Also report charts in the output directory that no given spec renders, as removed.")] = False,
    jobs: Jobs = None,
    verbose: Verbose = False,
    no_cache: NoCache = False,
) -> None:
    """Show what rendering would change: impact, objects, flows, alerts and a unified diff. Exit 1 on changes."""
    from ckredis import review
    formats = {"text": review.as_text, "markdown": review.as_markdown,
               "json": lambda results: json.dumps(review.as_json(results), indent=2, ensure_ascii=False) + "\n"}
    if output_format not in formats:
        raise typer.BadParameter(f"--format must be one of {', '.join(formats)}, not {output_format!r}")
    try:
        outcomes = _valid(_fleet(specs, pipeline.Review(output), "comparing", jobs=jobs, verbose=verbose,
                                 use_cache=not no_cache))
    except SpecError as error:
        if output_format != "json":
            raise
        typer.echo(json.dumps({"ok": False, "problems": [asdict(issue) for issue in error.issues]}, indent=2, ensure_ascii=False))
        raise typer.Exit(2) from None
    results = [outcome.result for outcome in outcomes]
    if orphans:
        names = {outcome.name for outcome in outcomes}
        results += [review.review(name, review.committed_chart(output / name), None, str(output / name))
                    for name in review.committed_chart_names(output) if name not in names]
    sys.stdout.write(formats[output_format](results))
    if any(result.changed for result in results):
        raise typer.Exit(1)


@app.command(cls=_Command, epilog="Examples:\n\n  ckredis test examples/*.yaml\n\n  ckredis test --write alert-tests examples/cache.yaml")
@_reporting
def test(
    specs: Specs,
    write_to: Annotated[Optional[Path], typer.Option("--write", metavar="DIR", help="Keep the rule file and the tests in DIR/<name>/ (default: a temporary folder, removed).")] = None,
    promtool: Annotated[Optional[str], typer.Option("--promtool", metavar="PATH", help="The promtool to run (default: $PROMTOOL, else promtool on PATH).")] = None,
) -> None:
    """Prove each spec's alerts with promtool: each fires on its failures, stays silent when healthy. Exit 1 on a failure."""
    from ckredis import prove
    rendered = pipeline.render_specs(discover.discover(specs).specs)
    for item in rendered:
        for warning in item.warnings:
            typer.echo(str(warning), err=True)
    failed = False
    runner = prove.find_promtool(promtool)
    with tempfile.TemporaryDirectory(prefix="ckredis-test-") as scratch:
        for item in rendered:
            if not item.alert_tests:
                typer.echo(f"{item.name}: no alert rules to test")
                continue
            outcome = prove.run(item.alert_tests, (write_to or Path(scratch)) / item.name, runner)
            typer.echo(f"{item.name}: {'passed' if outcome.passed else 'FAILED'}")
            if not outcome.passed:
                failed = True
                typer.echo(outcome.output, err=True)
    if failed:
        raise typer.Exit(1)


@app.command(name="schema")
def print_schema(
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the reference table (docs/spec.md) instead.")] = False,
) -> None:
    """Print the JSON Schema of the spec."""
    from ckredis import docs
    from ckredis.validate import schema
    typer.echo(docs.spec_markdown() if markdown else json.dumps(schema(), indent=2), nl=not markdown)


@app.command(cls=_Command)
@_reporting
def init(
    name: Annotated[str, typer.Argument(help="Name of the Redis cluster.", metavar="NAME")],
    purpose: Annotated[Purpose, typer.Option(help="What the cluster stores.")] = "cache",
    namespace: Annotated[str, typer.Option(help="Namespace of the Redis pods.")] = "redis-system",
    schema_path: Annotated[str, typer.Option("--schema", help="Path (relative to the spec) or URL of the JSON Schema that "
                                             "the editor modeline names; write it with `ckredis schema > FILE`.")
                           ] = starter.SCHEMA_BESIDE,
) -> None:
    """Print a commented starter spec (redirect it to a file)."""
    import yaml

    from ckredis.validate import validate_data
    text = starter.starter_spec(name, purpose, namespace, schema_path)
    try:  # the starter must validate as written: refuse names and values that would not
        validate_data(yaml.safe_load(text), "ckredis init")
    except SpecError as error:
        raise typer.BadParameter("; ".join(f"{issue.path}: {issue.message}" + (f" (hint: {issue.hint})" if issue.hint else "")
                                          for issue in error.issues)) from None
    except yaml.YAMLError:
        raise typer.BadParameter(f"{name!r} and {namespace!r} must be plain DNS names") from None
    typer.echo(text, nl=False)


def main() -> None:
    app(prog_name="ckredis")  # also under `python -m ckredis`

"""The command line: a thin Typer layer. Each command parses its options, calls one function of `runs` and prints
what it returns; errors become their message on stderr and an exit code.

Exit codes: 0 ok, 1 `--check` or `diff` found differences (or `test` a failing alert), 2 invalid input or usage,
70 an internal error (a bug in ckredis: never 1, which CI reads as "changes", nor 2).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import click
import typer
from typer.core import TyperCommand

from ckredis import __version__, discover, facts, progress, runs, starter, write
from ckredis.errors import CkredisError, Issue, SpecError, visible


class _Command(TyperCommand):
    """A command whose usage line names its arguments plainly: `render [OPTIONS] SPEC...`."""

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
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

Specs = Annotated[
    list[str],
    typer.Argument(
        help="Spec files, or directories searched recursively for specs; '-' reads one from stdin.", metavar="SPEC..."
    ),
]
Jobs = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        "-j",
        min=1,
        help="Processes to render with (default: one per CPU this process may use). Output is the same for any value.",
    ),
]
Verbose = Annotated[
    bool, typer.Option("--verbose", "-v", help="Also list the YAML files a directory search ignored, and why.")
]
NoCache = Annotated[
    bool, typer.Option("--no-cache", help="Render every spec, even those the cache knows to match their chart.")
]


def _say(line: str, err: bool = False) -> None:
    """One line of a report. What a terminal would act on instead of showing (a newline or ESC in a file name, a
    carriage return in a committed chart) is printed as an escape, so no input can forge or hide a line."""
    typer.echo(visible(line), err=err)


def _show(text: str, err: bool = False) -> None:
    """Text of many lines (a diff, a report), escaped as _say does but for its newlines and tabs."""
    typer.echo(visible(text, keep="\n\t"), err=err, nl=False)


def _json(data: object) -> str:
    # json escapes C0 controls itself; the rest of the unsafe characters become \\uXXXX escapes, still valid JSON.
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _reporting(command: Callable) -> Callable:
    """Turn ckredis errors into their message on stderr and exit code 2, never a traceback."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except CkredisError as error:
            for line in error.lines():
                _say(line, err=True)
            raise typer.Exit(error.exit_code) from None

    return run


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ckredis {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool | None, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = None,
) -> None:
    """ckredis renders one Helm chart per Redis cluster spec."""


def _options(jobs: int | None, no_cache: bool) -> runs.Options:
    return runs.Options(jobs=jobs, use_cache=not no_cache, progress=_progress)


def _progress(verb: str, total: int) -> tuple[Callable[[], None], Callable[[], None]]:
    bar = progress.Progress(verb, total)
    return bar.advance, bar.close


def _find(specs: list[str], verbose: bool) -> discover.Discovery:
    found = runs.find(specs)
    if verbose:
        for path, why in found.ignored:
            _say(f"ignored {path}: {why}", err=True)
    return found


def _warn(warnings: list[Issue]) -> None:
    for warning in warnings:
        _say(str(warning), err=True)


@app.command(
    cls=_Command,
    epilog="Examples:\n\n  ckredis render examples/*.yaml -o output\n\n  ckredis render specs/ -o charts\n\n"
    "  ckredis render --check specs/ -o charts\n\n  ckredis render cache.yaml --stdout | kubectl apply -f -",
)
@_reporting
def render(
    specs: Specs,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Directory that receives one chart per spec, in <dir>/<name>/.")
    ] = Path("output"),
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 and list the files that differ if a chart is stale.")
    ] = False,
    stdout: Annotated[
        bool,
        typer.Option(
            "--stdout",
            help="Print the manifests as one YAML stream (what `helm template` yields) instead of writing charts.",
        ),
    ] = False,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune", help="Also remove charts ckredis generated in the output directory that no given spec renders."
        ),
    ] = False,
    jobs: Jobs = None,
    verbose: Verbose = False,
    no_cache: NoCache = False,
) -> None:
    """Validate specs and render one Helm chart per spec. Nothing is written unless every spec is valid."""
    if check and stdout:
        raise typer.BadParameter("--check and --stdout exclude each other")
    if prune and (check or stdout):
        raise typer.BadParameter("--prune writes; it excludes --check and --stdout")
    found, options = _find(specs, verbose), _options(jobs, no_cache)
    if stdout:
        streamed = runs.stream(found, options)
        _warn(streamed.warnings)
        sys.stdout.write(streamed.text)
    elif check:
        checked = runs.check(found, output, options)
        _warn(checked.warnings)
        _report_check(checked.findings)
    else:
        rendering = runs.render(found, output, prune=prune, options=options)
        _warn(rendering.warnings)
        for folder in rendering.swept:
            _say(f"removed {folder}/ (an interrupted render left it)")
        for chart in rendering.charts:
            _say(
                f"unchanged {chart.chart_dir}/"
                if chart.files is None
                else f"wrote {chart.chart_dir}/ ({chart.files} files)"
            )
        for folder in rendering.pruned:
            _say(f"pruned {folder}/ (no spec renders it)")


def _report_check(findings: write.Findings) -> None:
    for path in findings.stale:
        _say(f"stale: {path}")
    for folder in findings.leftovers:
        _say(f"leftover: {folder}/ (an interrupted render left it; `ckredis render` removes it)")
    for chart in findings.orphans:
        _say(
            f"orphan: {chart}/ (generated by ckredis, but no spec given renders it; "
            "`ckredis render --prune` removes it)"
        )
    if findings.stale:
        _say(f"{len(findings.stale)} file(s) differ; run `ckredis render` and commit the result", err=True)
    if findings.leftovers or findings.orphans:
        _say(
            f"{len(findings.leftovers)} leftover staging folder(s), {len(findings.orphans)} orphan chart(s); "
            "run `ckredis render --prune` with every spec and commit the result",
            err=True,
        )
    if findings:
        raise typer.Exit(1)


@app.command(
    cls=_Command,
    epilog="Examples:\n\n  ckredis validate specs/\n\n  ckredis validate --format json specs/ > report.json",
)
@_reporting
def validate(
    specs: Specs,
    output_format: Annotated[
        str, typer.Option("--format", help="text, or json (for scripts; also on invalid input).")
    ] = "text",
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
    verdict = runs.validate(_find(specs, verbose), _options(jobs, no_cache))
    if verdict.problems:
        raise SpecError(verdict.problems)
    _warn(verdict.warnings)
    for outcome in verdict.valid:
        _say(f"{outcome.source}: ok ({outcome.namespace}/{outcome.name}, {outcome.purpose})")


def _validate_json(specs: list[str], jobs: int | None, no_cache: bool) -> None:
    """{"ok", "specs": [...], "problems": [...], "ignored": [...]} on stdout; exit 2 when a spec is invalid."""
    try:
        found = runs.find(specs)
        verdict = runs.validate(found, runs.Options(jobs=jobs, use_cache=not no_cache))
    except SpecError as error:
        found, verdict = discover.Discovery(), runs.Validation([], error.issues)
    report = {
        "ok": not verdict.problems,
        "specs": [
            {
                "source": outcome.source,
                "name": outcome.name,
                "namespace": outcome.namespace,
                "purpose": outcome.purpose,
                "warnings": [asdict(issue) for issue in outcome.warnings],
            }
            for outcome in verdict.valid
        ],
        "problems": [asdict(issue) for issue in verdict.problems],
        "ignored": [{"path": path, "reason": why} for path, why in found.ignored],
    }
    _show(_json(report))
    if verdict.problems:
        raise typer.Exit(2)


@app.command(cls=_Command)
@_reporting
def connectivity(
    spec: Annotated[str, typer.Argument(help="Spec file; '-' reads it from stdin.", metavar="SPEC")],
) -> None:
    """Print the flows the NetworkPolicies allow (from, to, ports, why); everything else is denied."""
    rows = [("FROM", "TO", "PORTS", "WHY"), *runs.connectivity(spec)]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        _say("  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3])


@app.command(
    cls=_Command,
    epilog="Examples:\n\n  ckredis diff specs/ -o charts\n\n"
    "  ckredis diff --format markdown specs/ -o charts > comment.md",
)
@_reporting
def diff(
    specs: Specs,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Directory holding the committed charts, <dir>/<name>/.")
    ] = Path("output"),
    output_format: Annotated[
        str, typer.Option("--format", help="text, markdown (a pull-request comment) or json.")
    ] = "text",
    orphans: Annotated[
        bool,
        typer.Option(
            "--orphans", help="Also report charts in the output directory that no given spec renders, as removed."
        ),
    ] = False,
    jobs: Jobs = None,
    verbose: Verbose = False,
    no_cache: NoCache = False,
) -> None:
    """Show what rendering would change: impact, objects, flows, alerts and a unified diff. Exit 1 on changes."""
    from ckredis.review.reporter import REPORTER_BY_NAME

    if output_format not in REPORTER_BY_NAME:
        raise typer.BadParameter(f"--format must be one of {', '.join(REPORTER_BY_NAME)}, not {output_format!r}")
    try:
        comparison = runs.diff(_find(specs, verbose), output, orphans=orphans, options=_options(jobs, no_cache))
    except SpecError as error:
        if output_format != "json":
            raise
        _show(_json({"ok": False, "problems": [asdict(issue) for issue in error.issues]}))
        raise typer.Exit(2) from None
    _warn(comparison.warnings)
    _show(REPORTER_BY_NAME[output_format](comparison.reviews))
    if any(result.changed for result in comparison.reviews):
        raise typer.Exit(1)


@app.command(
    cls=_Command,
    epilog="Examples:\n\n  ckredis test examples/*.yaml\n\n  ckredis test --write alert-tests examples/cache.yaml",
)
@_reporting
def test(
    specs: Specs,
    write_to: Annotated[
        Path | None,
        typer.Option(
            "--write",
            metavar="DIR",
            help="Keep the rule file and the tests in DIR/<name>/ (default: a temporary folder, removed).",
        ),
    ] = None,
    promtool: Annotated[
        str | None,
        typer.Option(
            "--promtool", metavar="PATH", help="The promtool to run (default: $PROMTOOL, else promtool on PATH)."
        ),
    ] = None,
) -> None:
    """Prove each spec's alerts with promtool: each fires on its failures, stays silent when healthy.
    Exit 1 on a failure."""
    proofs = runs.test(runs.find(specs), keep_in=write_to, promtool=promtool)
    _warn(proofs.warnings)
    for proof in proofs.proofs:
        if proof.passed is None:
            _say(f"{proof.chart}: no alert rules to test")
            continue
        _say(f"{proof.chart}: {'passed' if proof.passed else 'FAILED'}")
        if not proof.passed:
            _show(proof.report + "\n", err=True)
    if any(proof.passed is False for proof in proofs.proofs):
        raise typer.Exit(1)


@app.command(name="schema")
def print_schema(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the reference table (docs/spec.md) instead.")
    ] = False,
) -> None:
    """Print the JSON Schema of the spec."""
    from ckredis import docs
    from ckredis.validate import schema

    typer.echo(docs.spec_markdown() if markdown else json.dumps(schema(), indent=2), nl=not markdown)


@app.command(cls=_Command)
@_reporting
def init(
    name: Annotated[str, typer.Argument(help="Name of the Redis cluster.", metavar="NAME")],
    purpose: Annotated[
        str, typer.Option(click_type=click.Choice(list(facts.PURPOSES)), help="What the cluster stores.")
    ] = "cache",
    namespace: Annotated[str, typer.Option(help="Namespace of the Redis pods.")] = "redis-system",
    schema_path: Annotated[
        str,
        typer.Option(
            "--schema",
            help="Path (relative to the spec) or URL of the JSON Schema that "
            "the editor modeline names; write it with `ckredis schema > FILE`.",
        ),
    ] = starter.SCHEMA_BESIDE,
) -> None:
    """Print a commented starter spec (redirect it to a file)."""
    import yaml

    from ckredis.validate import validate_data

    text = starter.starter_spec(name, purpose, namespace, schema_path)
    try:  # the starter must validate as written: refuse names and values that would not
        validate_data(yaml.safe_load(text), "ckredis init")
    except SpecError as error:
        raise typer.BadParameter(
            "; ".join(
                f"{issue.path}: {issue.message}" + (f" (hint: {issue.hint})" if issue.hint else "")
                for issue in error.issues
            )
        ) from None
    except yaml.YAMLError:
        raise typer.BadParameter(f"{name!r} and {namespace!r} must be plain DNS names") from None
    typer.echo(text, nl=False)


cache_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="The cache of unchanged specs ($CKREDIS_CACHE_DIR, else $XDG_CACHE_HOME/ckredis, else ~/.cache/ckredis).",
)
app.add_typer(cache_app, name="cache")


@cache_app.command("prune", epilog="Example:\n\n  ckredis cache prune --older-than 7")
@_reporting
def cache_prune(
    older_than: Annotated[
        float,
        typer.Option("--older-than", min=0, metavar="DAYS", help="Remove entries no run has used for this many days."),
    ] = 30,
) -> None:
    """Remove cache entries no run has used for a while (each use refreshes an entry); the cache otherwise grows
    with every spec version ever rendered."""
    pruned = runs.prune_cache(older_than)
    _say(
        f"removed {pruned.removed} cache file(s) ({pruned.freed / 1024:.0f} KiB) unused for {older_than:g} days; "
        f"kept {pruned.kept} in {pruned.folder}"
    )


INTERNAL_ERROR = 70  # EX_SOFTWARE of sysexits.h


def main() -> None:
    try:
        app(prog_name="ckredis")  # also under `python -m ckredis`
    except Exception as error:  # not the input's fault (that is a CkredisError, exit 2): a bug to report
        import traceback

        typer.echo(visible("".join(traceback.format_exception(error)), keep="\n"), err=True, nl=False)
        _say(
            f"ckredis {__version__}: internal error ({type(error).__name__}: {error}); this is a bug in ckredis, "
            "please report it with the command line and the traceback above",
            err=True,
        )
        sys.exit(INTERNAL_ERROR)

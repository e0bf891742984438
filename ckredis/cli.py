"""The command line: a thin Typer layer. It parses arguments, calls the pipeline and maps errors to exit codes.

Exit codes: 0 ok, 1 `--check` found stale files, 2 invalid input or usage.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Optional

import functools
from collections.abc import Callable
from typing import Literal

import typer
import yaml
from typer.core import TyperCommand

from ckredis import __version__, access, docs, pipeline, prove, review, starter, write
from ckredis.errors import CkredisError, SpecError
from ckredis.validate import schema, validate_data

class _Command(TyperCommand):
    """A command whose usage line names its arguments plainly: `render [OPTIONS] SPEC...`."""

    def collect_usage_pieces(self, ctx: typer.Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                pieces.append(param.display_name_raw if param.required else f"[{param.display_name_raw}]")
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

Purpose = Literal[tuple(schema()["properties"]["spec"]["properties"]["purpose"]["enum"])]
Specs = Annotated[list[str], typer.Argument(help="Spec files; '-' reads one from stdin.", metavar="SPEC...")]


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


@app.command(cls=_Command, epilog="Examples:\n\n  ckredis render examples/*.yaml -o output\n\n  ckredis render --check examples/*.yaml\n\n"
                    "  ckredis render cache.yaml --stdout | kubectl apply -f -")
@_reporting
def render(
    specs: Specs,
    output: Annotated[Path, typer.Option("--output", "-o", help="Directory that receives one chart per spec, in <dir>/<name>/.")] = Path("output"),
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 and list the files that differ if a chart is stale.")] = False,
    stdout: Annotated[bool, typer.Option("--stdout", help="Print the manifests as one YAML stream (what `helm template` yields) instead of writing charts.")] = False,
    prune: Annotated[bool, typer.Option("--prune", help="Also remove charts ckredis generated in the output directory that no given spec renders.")] = False,
) -> None:
    """Validate specs and render one Helm chart per spec."""
    if check and stdout:
        raise typer.BadParameter("--check and --stdout exclude each other")
    if prune and (check or stdout):
        raise typer.BadParameter("--prune writes; it excludes --check and --stdout")
    rendered = pipeline.render_specs(specs)
    _warn(rendered)
    if stdout:
        sys.stdout.write("".join(item.stream() for item in rendered))
        return
    charts = {item.name: item.chart_files(pipeline.chart_dir(output, item)) for item in rendered}
    if check:
        _report_check(write.check_charts(output, charts))
        return
    written = write.write_charts(output, charts, prune=prune)
    for folder in written.swept:
        typer.echo(f"removed {folder}/ (an interrupted render left it)")
    for chart, changed in written.changed.items():
        typer.echo(f"{'wrote' if changed else 'unchanged'} {chart}/ ({len(charts[chart.name])} files)")
    for chart in written.pruned:
        typer.echo(f"pruned {chart}/ (no spec renders it)")


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


@app.command(cls=_Command)
@_reporting
def validate(specs: Specs) -> None:
    """Check specs and report every problem as FILE:LINE:COL: PATH: message (warnings do not fail)."""
    rendered = pipeline.render_specs(specs)
    _warn(rendered)
    for item in rendered:
        typer.echo(f"{item.source}: ok ({item.cluster.namespace}/{item.name}, {item.cluster.purpose})")


def _warn(rendered: list[pipeline.Rendered]) -> None:
    for item in rendered:
        for warning in item.warnings:
            typer.echo(str(warning), err=True)


@app.command(cls=_Command)
@_reporting
def connectivity(spec: Annotated[str, typer.Argument(help="Spec file; '-' reads it from stdin.", metavar="SPEC")]) -> None:
    """Print the flows the NetworkPolicies allow (from, to, ports, why); everything else is denied."""
    rows = [("FROM", "TO", "PORTS", "WHY"), *access.connectivity_table(access.flows(pipeline.build_model(spec)))]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3])


@app.command(epilog="Examples:\n\n  ckredis diff examples/*.yaml\n\n  ckredis diff --format markdown examples/*.yaml > comment.md")
@_reporting
def diff(
    specs: Specs,
    output: Annotated[Path, typer.Option("--output", "-o", help="Directory holding the committed charts, <dir>/<name>/.")] = Path("output"),
    output_format: Annotated[str, typer.Option("--format", help="text, markdown (a pull-request comment) or json.")] = "text",
    orphans: Annotated[bool, typer.Option("--orphans", help="Also report charts in the output directory that no given spec renders, as removed.")] = False,
) -> None:
    """Show what rendering would change: impact, objects, flows, alerts and a unified diff. Exit 1 on changes."""
    formats = {"text": review.as_text, "markdown": review.as_markdown,
               "json": lambda results: json.dumps(review.as_json(results), indent=2, ensure_ascii=False) + "\n"}
    if output_format not in formats:
        raise typer.BadParameter(f"--format must be one of {', '.join(formats)}, not {output_format!r}")
    rendered = pipeline.render_specs(specs)
    results = []
    for item in rendered:
        chart_dir = pipeline.chart_dir(output, item)
        results.append(review.review(item.name, review.committed_chart(chart_dir), item.chart_files(chart_dir), str(chart_dir)))
    if orphans:
        names = {item.name for item in rendered}
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
    rendered = pipeline.render_specs(specs)
    _warn(rendered)
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

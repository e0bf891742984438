"""The stages in a straight line, as plain functions the CLI (and tests) call."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ckredis import model, render, stream
from ckredis.errors import CkredisError, Issue, SpecError
from ckredis.load import load
from ckredis.plan import Plan
from ckredis.validate import validate, warnings


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

    @cached_property
    def files(self) -> dict[str, str]:
        """The whole chart directory as written to `output/<name>`; only writes and checks need it, `--stdout` does not."""
        return render.render_chart(self.plan, self.manifests)

    def chart_files(self, chart_dir: Path) -> dict[str, str]:
        """The whole chart directory as written to chart_dir (its README names where the chart lives)."""
        path = repository_path(chart_dir)
        return self.files if path == f"output/{self.name}" else render.render_chart(self.plan, self.manifests, path)

    @property
    def name(self) -> str:
        return self.cluster.name

    def stream(self) -> str:
        return stream.manifest_stream(self.name, self.manifests)

    @cached_property
    def alert_tests(self) -> dict[str, str]:
        """The rules as a Prometheus rule file and promtool unit tests of every alert (not part of the chart)."""
        return render.alert_tests(self.plan)


def build_model(source: str) -> model.Cluster:
    """Load, validate and model one spec; SpecError lists every problem in it."""
    return model.build(validate(load(source)))


def render_specs(sources: list[str]) -> list[Rendered]:
    """Render every spec, or raise one SpecError with the problems of all of them (nothing is written)."""
    rendered, issues = [], []
    for source in sources:
        try:
            document = load(source)
            data = validate(document)
            plan = Plan(model.build(data))
        except SpecError as error:
            issues.extend(error.issues)
            continue
        rendered.append(Rendered(source, document.position(("metadata", "name")), plan, render.manifests(plan),
                                 tuple(warnings(document, data))))
    issues.extend(_name_clashes(rendered))
    if issues:  # errors only: warnings are for specs that could be rendered
        raise SpecError(issues)
    return rendered


def chart_dir(output: Path, item: Rendered) -> Path:
    return output / item.name


def repository_path(chart_dir: Path) -> str:
    """Where a chart lives, as a Git repository (and so Argo CD) sees it: relative to the repository root when
    chart_dir is inside a work tree, else as given. Symlinks are not resolved, so the same command from the
    same place always gives the same path."""
    absolute = Path(os.path.abspath(chart_dir))
    for parent in absolute.parents:
        if (parent / ".git").exists():  # a directory, or a file in a linked work tree
            return absolute.relative_to(parent).as_posix()
    return chart_dir.as_posix()


def _name_clashes(rendered: list[Rendered]) -> list[Issue]:
    first: dict[str, str] = {}
    clashes = []
    for item in rendered:
        if item.name in first:
            clashes.append(Issue(*item.name_position, "metadata.name", f"{item.name!r} is also the name in "
                                 f"{first[item.name]}; both would render the same chart directory",
                                 "give each cluster its own name", item.source))
        first.setdefault(item.name, item.source)
    return clashes


__all__ = ["CkredisError", "Rendered", "build_model", "chart_dir", "render_specs"]

"""Stage 4, render: the model becomes chart files in memory, `{relative path: text}`. No disk writes.

Chart templates are Jinja2 with bracket delimiters ([[ ]], [% %]) so that Go's {{ }} never needs raw
blocks. The chart uses no Helm templating at all: every `{{` in a file Helm evaluates is escaped, so
whatever text the model holds (including Prometheus `{{ $labels }}` templates) reaches the cluster verbatim.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from functools import cache

import jinja2

from ckredis import __version__, facts, prove
from ckredis.model import Cluster
from ckredis.paths import TEMPLATES_DIR
from ckredis.plan import Plan
from ckredis.quantity import human_bytes
from ckredis.yamltext import to_yaml

HEADER = f"# {facts.MARKER}: do not edit. Change the spec and run `ckredis render`."
HELM_LEFT_DELIM = re.compile(r"\{\{")


@cache
def environment() -> jinja2.Environment:
    # No bytecode cache on disk: compiled templates are code, and a cache folder others can write would run theirs
    # (a cold run compiles every template again, about 80 ms).
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        block_start_string="[%",
        block_end_string="%]",
        variable_start_string="[[",
        variable_end_string="]]",
        comment_start_string="[#",
        comment_end_string="#]",
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["yaml"] = to_yaml
    env.filters["human_bytes"] = human_bytes
    env.globals["header"] = HEADER
    env.globals["version"] = __version__
    env.globals["facts"] = facts  # ports, container names and labels, spelled once
    return env


def helm_literal(text: str) -> str:
    """Text that Helm's template engine reproduces exactly: each `{{` becomes the action printing it."""
    return HELM_LEFT_DELIM.sub('{{ "{{" }}', text)


def _plan(source: Cluster | Plan) -> Plan:
    return source if isinstance(source, Plan) else Plan(source)


# Which template makes which file, in one place. A template under templates/chart/ whose name starts with `_` is a
# partial that others include (Helm's convention); every other one is listed once below. A manifest template makes
# one file per item it gets (a client, a policy, a component) or one file when its condition holds.
Files = Callable[[Plan], Iterable[tuple[str, dict]]]


def _one(path: str, when: Callable[[Plan], object] = lambda plan: True) -> Files:
    return lambda plan: [(path, {})] if when(plan) else []


MANIFESTS: tuple[tuple[str, Files], ...] = (
    ("chart/templates/redisfailover.yaml.jinja", _one("templates/redisfailover.yaml")),
    (
        "chart/templates/connection.yaml.jinja",
        lambda plan: [(client.manifest_file, {"client": client}) for client in plan.cluster.clients],
    ),
    (
        "chart/templates/networkpolicy.yaml.jinja",
        lambda plan: [(policy.file_name, {"policy": policy}) for policy in plan.policies],
    ),
    (
        "chart/templates/poddisruptionbudget.yaml.jinja",
        lambda plan: [
            (f"templates/poddisruptionbudget-{component.kind}.yaml", {"c": component})
            for component in (plan.cluster.redis, plan.cluster.sentinel)
            if plan.cluster.own_disruption_budgets
        ],
    ),
    (
        "chart/templates/role-port-forward.yaml.jinja",
        _one("templates/role-port-forward.yaml", lambda plan: plan.cluster.port_forward_groups),
    ),
    (
        "chart/templates/rolebinding-port-forward.yaml.jinja",
        _one("templates/rolebinding-port-forward.yaml", lambda plan: plan.cluster.port_forward_groups),
    ),
    ("chart/templates/podmonitor.yaml.jinja", _one("templates/podmonitor.yaml", lambda plan: plan.monitoring.enabled)),
    (
        "chart/templates/prometheusrule.yaml.jinja",
        _one("templates/prometheusrule.yaml", lambda plan: plan.monitoring.enabled and plan.rule_groups),
    ),
    (
        "chart/templates/probe.yaml.jinja",
        _one("templates/probe.yaml", lambda plan: plan.monitoring.enabled and plan.monitoring.uptime_probe),
    ),
    (
        "chart/templates/dashboard.yaml.jinja",
        _one("templates/dashboard.yaml", lambda plan: plan.monitoring.enabled and plan.monitoring.dashboard),
    ),
)
# The chart's other files from templates, each made once (each may say where the chart lives: `chart_path`);
# Chart.yaml last, as its version digests all the others.
NOTES_TEMPLATE = "chart/templates/NOTES.txt.jinja"
CHART_FILES = {
    "chart/values.yaml.jinja": "values.yaml",
    "chart/README.md.jinja": "README.md",
    "chart/helmignore.jinja": ".helmignore",
}
CHART_YAML_TEMPLATE = "chart/Chart.yaml.jinja"


def manifests(source: Cluster | Plan) -> dict[str, str]:
    """Each Kubernetes object of the chart, as Helm will output it: `templates/<file>.yaml` -> YAML."""
    plan = _plan(source)
    return {path: _render(template, plan, **extra) for template, files in MANIFESTS for path, extra in files(plan)}


def render_chart(
    source: Cluster | Plan, objects: dict[str, str] | None = None, chart_path: str | None = None
) -> dict[str, str]:
    """Every file of the chart directory, keyed by its path relative to the chart root.

    `objects` are the cluster's manifests when the caller already rendered them; `chart_path` is where the
    chart lives in its repository, for the README's Argo CD example (default `output/<name>`).
    """
    plan = _plan(source)
    files = {path: helm_literal(text) for path, text in (objects or manifests(plan)).items()}
    files["templates/NOTES.txt"] = (
        "{{- /* " + facts.MARKER + ": do not edit. */ -}}\n" + helm_literal(_render(NOTES_TEMPLATE, plan))
    )
    for template, path in CHART_FILES.items():
        files[path] = _render(template, plan, chart_path=chart_path or f"output/{plan.cluster.name}")
    files["values.schema.json"] = _values_schema()
    if plan.monitoring.enabled:
        files[f"dashboards/{plan.dashboard_file}"] = plan.dashboard_json  # outside templates/: Helm never reads it
    files["Chart.yaml"] = _render(CHART_YAML_TEMPLATE, plan, chart_version=chart_version(files))
    return dict(sorted(files.items()))


def chart_version(files: dict[str, str]) -> str:
    """ckredis' version plus a digest of every other chart file as SemVer build metadata: it changes exactly
    when the chart's content does, so helm history and chart repositories tell chart revisions apart.

    Object labels (`helm.sh/chart`) carry the plain ckredis version, never the digest: otherwise every object
    would change with any change, and the digest would cover itself.
    """
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + files[path].encode() + b"\0")
    return f"{__version__}+{digest.hexdigest()[:12]}"


def _render(template: str, plan: Plan, **extra: object) -> str:
    # One context for every template: the plan, with its cluster and monitoring settings under short names.
    return _template(environment(), template).render(plan=plan, m=plan.cluster, mon=plan.monitoring, **extra)


@cache
def _template(env: jinja2.Environment, name: str) -> jinja2.Template:
    # Jinja checks a template's file on disk at every get_template (auto_reload); a render never edits templates.
    return env.get_template(name)


def alert_tests(plan: Plan) -> dict[str, str]:
    """The alert rules as a Prometheus rule file and promtool unit tests of every alert (`ckredis test`), file name ->
    text; empty when the cluster renders no alert rules."""
    if not (plan.monitoring.enabled and plan.rule_groups):
        return {}
    header = f"# {facts.MARKER} for {plan.cluster.namespace}/{plan.cluster.name}: do not edit; change the spec.\n"
    return {
        prove.RULES_FILE: header
        + "# The alert rules of templates/prometheusrule.yaml as a Prometheus rule file.\n"
        + to_yaml({"groups": plan.rule_groups})
        + "\n",
        prove.TESTS_FILE: header
        + f"# promtool unit tests of every alert. Run: promtool test rules {prove.TESTS_FILE}\n"
        + to_yaml(plan.unit_tests(prove.RULES_FILE))
        + "\n",
    }


def _values_schema() -> str:
    # Every setting lives in the ckredis spec; refusing values makes `--set` typos fail instead of being ignored.
    schema = {
        "$schema": "https://json-schema.org/draft-07/schema#",
        "$comment": f"{facts.MARKER}: this chart takes no values; change the ckredis spec instead.",
        "type": "object",
        "additionalProperties": False,
    }
    return json.dumps(schema, indent=2) + "\n"

"""Stage 4, render: the model becomes chart files in memory, `{relative path: text}`. No disk writes.

Chart templates are Jinja2 with bracket delimiters ([[ ]], [% %]) so that Go's {{ }} never needs raw
blocks. The chart uses no Helm templating at all: every `{{` in a file Helm evaluates is escaped, so
whatever text the model holds (including Prometheus `{{ $labels }}` templates) reaches the cluster verbatim.
"""

from __future__ import annotations

import json
import re
from functools import cache

import jinja2
import yaml

from ckredis import __version__, access, monitoring
from ckredis.facts import MARKER
from ckredis.model import Cluster
from ckredis.paths import TEMPLATES_DIR

HEADER = f"# {MARKER}: do not edit. Change the spec and run `ckredis render`."
HELM_LEFT_DELIM = re.compile(r"\{\{")


_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@cache
def _scalar_text(value: object) -> str:
    """One scalar as YAML, quoted exactly when a YAML reader would otherwise misread it."""
    if isinstance(value, str) and ("\n" in value or "\r" in value):
        return json.dumps(value, ensure_ascii=False)  # a double-quoted scalar that stays on one line
    return yaml.dump(value, Dumper=_Dumper, width=10**6, allow_unicode=True).removesuffix("...\n").rstrip("\n")


def _scalar(value: object) -> str:
    if isinstance(value, (dict, list, tuple)):
        return "{}" if isinstance(value, dict) else "[]"
    return _scalar_text(value)


def _lines(value: object, indent: int) -> list[str]:
    """Block-style lines of a non-empty mapping or sequence; list items are indented under their key."""
    pad, lines = " " * indent, []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list, tuple)) and item:
                lines += [f"{pad}{_scalar(key)}:", *_lines(item, indent + 2)]
            else:
                lines.append(f"{pad}{_scalar(key)}: {_scalar(item)}")
        return lines
    for item in value:
        if isinstance(item, (dict, list, tuple)) and item:
            nested = _lines(item, indent + 2)
            lines += [f"{pad}- {nested[0][indent + 2:]}", *nested[1:]]
        else:
            lines.append(f"{pad}- {_scalar(item)}")
    return lines


def to_yaml(value: object, indent: int = 0) -> str:
    """YAML for a value, continuation lines indented to sit under a key at `indent` spaces.

    Every value from a spec passes through here, so it is quoted exactly when YAML would misread it.
    """
    if isinstance(value, (dict, list, tuple)) and value:
        return ("\n" + " " * indent).join(_lines(value, 0))
    return _scalar(value)


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        block_start_string="[%", block_end_string="%]",
        variable_start_string="[[", variable_end_string="]]",
        comment_start_string="[#", comment_end_string="#]",
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["yaml"] = to_yaml
    env.globals["header"] = HEADER
    env.globals["version"] = __version__
    return env


def helm_literal(text: str) -> str:
    """Text that Helm's template engine reproduces exactly: each `{{` becomes the action printing it."""
    return HELM_LEFT_DELIM.sub('{{ "{{" }}', text)


def manifests(cluster: Cluster) -> dict[str, str]:
    """Each Kubernetes object of the chart, as Helm will output it: `templates/<file>.yaml` -> YAML."""
    files = {"templates/redisfailover.yaml": _render("chart/templates/redisfailover.yaml.jinja", cluster)}
    for client in cluster.clients:
        files[f"templates/connection-{client.file_stem}.yaml"] = _render(
            "chart/templates/connection.yaml.jinja", cluster, client=client)
    for policy in access.policies(cluster):
        files[policy.file_name] = _render("chart/templates/networkpolicy.yaml.jinja", cluster, policy=policy)
    files.update(_monitoring_manifests(cluster))
    return files


def render_chart(cluster: Cluster, objects: dict[str, str] | None = None) -> dict[str, str]:
    """Every file of the chart directory, keyed by its path relative to the chart root.

    `objects` are the cluster's manifests when the caller already rendered them.
    """
    files = {path: helm_literal(text) for path, text in (objects or manifests(cluster)).items()}
    files["templates/NOTES.txt"] = "{{- /* " + MARKER + ": do not edit. */ -}}\n" + helm_literal(
        _render("chart/templates/NOTES.txt.jinja", cluster))
    files["Chart.yaml"] = _render("chart/Chart.yaml.jinja", cluster)
    files["values.yaml"] = _render("chart/values.yaml.jinja", cluster)
    files["values.schema.json"] = _values_schema()
    files["README.md"] = _render("chart/README.md.jinja", cluster)
    files[".helmignore"] = _render("chart/helmignore.jinja", cluster)
    files.update(_monitoring_files(cluster))
    return dict(sorted(files.items()))


def _render(template: str, cluster: Cluster, **extra: object) -> str:
    # One set of names for every template: the cluster, its monitoring and the access flows.
    return environment().get_template(template).render(m=cluster, mon=cluster.monitoring, access=access, **extra)


def _monitoring_manifests(cluster: Cluster) -> dict[str, str]:
    """Monitoring objects: `templates/<file>.yaml` -> YAML as Helm outputs it."""
    mon = cluster.monitoring
    if not mon.enabled:
        return {}
    files = {"templates/podmonitor.yaml": _render("chart/templates/podmonitor.yaml.jinja", cluster)}
    if mon.rule_groups(cluster):
        files["templates/prometheusrule.yaml"] = _render("chart/templates/prometheusrule.yaml.jinja", cluster)
    if mon.uptime_probe:
        files["templates/probe.yaml"] = _render("chart/templates/probe.yaml.jinja", cluster)
    if mon.dashboard:
        files["templates/dashboard.yaml"] = _render("chart/templates/dashboard.yaml.jinja", cluster)
    return files


def _monitoring_files(cluster: Cluster) -> dict[str, str]:
    """Monitoring files outside templates/ (rule files and promtool tests), path -> text."""
    mon = cluster.monitoring
    if not mon.enabled:
        return {}
    files = {f"dashboards/{mon.dashboard_file(cluster)}": mon.dashboard_json(cluster)}
    groups = mon.rule_groups(cluster)
    if groups:
        header = (f"# {MARKER}: do not edit; change the spec and render again.\n"
                  f"# The alert rules of templates/prometheusrule.yaml as a Prometheus rule file, for promtool.\n")
        files["tests/rules.yaml"] = header + to_yaml({"groups": groups}) + "\n"
        header = (f"# {MARKER}: do not edit; change the spec and render again.\n"
                  "# Unit tests of every alert: it fires on its failures, stays silent on a healthy cluster and when\n"
                  "# only another RedisFailover in the namespace fails. Run: promtool test rules tests/alerts.test.yaml\n")
        files["tests/alerts.test.yaml"] = header + to_yaml(monitoring.unit_tests(cluster)) + "\n"
    return files


def _values_schema() -> str:
    # Every setting lives in the ckredis spec; refusing values makes `--set` typos fail instead of being ignored.
    schema = {
        "$schema": "https://json-schema.org/draft-07/schema#",
        "$comment": f"{MARKER}: this chart takes no values; change the ckredis spec instead.",
        "type": "object",
        "additionalProperties": False,
    }
    return json.dumps(schema, indent=2) + "\n"

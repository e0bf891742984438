"""Stage 4, render: the model becomes chart files in memory, `{relative path: text}`. No disk writes.

Chart templates are Jinja2 with bracket delimiters ([[ ]], [% %]) so that Go's {{ }} never needs raw
blocks. The chart uses no Helm templating at all: every `{{` in a file Helm evaluates is escaped, so
whatever text the model holds (including Prometheus `{{ $labels }}` templates) reaches the cluster verbatim.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache, lru_cache

import jinja2
import yaml

from ckredis import __version__, facts, prove
from ckredis import cache as run_cache
from ckredis.model import Cluster
from ckredis.paths import TEMPLATES_DIR
from ckredis.plan import Plan
from ckredis.quantity import human_bytes

HEADER = f"# {facts.MARKER}: do not edit. Change the spec and run `ckredis render`."
HELM_LEFT_DELIM = re.compile(r"\{\{")


_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


# Plain scalars that some reader takes for something other than text: YAML 1.1 (PyYAML) and YAML 1.2 booleans
# and nulls, and Go's yaml.v2 (sigs.k8s.io/yaml: Helm, kubectl, Argo CD), which also reads y/Y/n/N as booleans.
_NOT_TEXT = re.compile(r"y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"
                       r"|~|null|Null|NULL|<<|=|[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)")
# Numbers once underscores are dropped (Go drops every one): ints with a 0b/0o/0x/0 prefix or a sign, floats with
# only an exponent, YAML 1.1 base-60 numbers.
_NUMBER = re.compile(r"[-+]?(?:0[bBoOxX][0-9a-fA-F]+|[0-9]+(?::[0-9]+)*\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt \t].*)?")  # YAML 1.1 timestamps; PyYAML reads a date
_LINE_BREAKS = frozenset("\n\r\x85\u2028\u2029")  # YAML folds each of them inside a quoted scalar
_RESOLVER = yaml.resolver.Resolver()


def plain_is_text(text: str) -> bool:
    """True when every YAML reader that matters (PyYAML, Go's yaml.v2, YAML 1.2) reads `text`, written plain, as
    this very string. Saying False for a string that is safe only costs a pair of quotes."""
    pyyaml_tag = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))
    return not (pyyaml_tag != "tag:yaml.org,2002:str" or _NOT_TEXT.fullmatch(text) or _NUMBER.fullmatch(text.replace("_", ""))
                or _DATE.fullmatch(text) or has_line_break(text))


def has_line_break(text: str) -> bool:
    """Whether text holds one of _LINE_BREAKS; substring tests, several times faster than a set of the characters."""
    return "\n" in text or "\r" in text or not text.isascii() and ("\x85" in text or "\u2028" in text or "\u2029" in text)


# yaml.dump is most of the cost of a new scalar, and a fleet brings new names into hundreds of texts per spec. Printable
# ASCII on one line (no tabs, no line breaks: nothing PyYAML escapes) is written either plain or single-quoted, so
# for the texts matched below the outcome is known without dumping; tests/test_fast_writers.py proves each shortcut
# against yaml.dump, and anything else is dumped.
_SHORT_ASCII = re.compile(r"[ -~]{1,1000}")
_PLAIN_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_(/$")
_INDICATOR_FIRST = frozenset(" #,[]{}&*!|>'\"%@`")


def _plain_as_is(text: str) -> bool:
    """Printable one-line ASCII that PyYAML writes plain and unchanged: no '#', no ':' before a space or at the end,
    not starting with an indicator, '.', '-', '?' (of '...', '- ', '? ') or a space, not ending with a space.
    Substring tests, not a regular expression: they cost the same on long expressions as on names."""
    return text[0] in _PLAIN_FIRST and text[-1] not in " :" and "#" not in text and ": " not in text


def _never_plain(text: str) -> bool:
    """Printable one-line ASCII that PyYAML refuses to write plain: an indicator or space first, a document marker,
    '- ', '? ' or ': ' first (or alone), ': ' or ' #' inside, ':' or a space last."""
    return (text[0] in _INDICATOR_FIRST or text.startswith(("---", "...")) or text[0] in "-?:" and text[1:2] in ("", " ")
            or ": " in text or " #" in text or text[-1] in ": ")


@lru_cache(maxsize=8192, typed=True)  # typed: True == 1 == 1.0 are one key, but each is written differently; bounded: a fleet brings new names without end
def _scalar_text(value: object) -> str:
    """One scalar as YAML, quoted exactly when a YAML reader would otherwise misread it."""
    if type(value) is str and _SHORT_ASCII.fullmatch(value):
        return _ascii_text(value)
    return _dumped_scalar(value)


def _ascii_text(text: str) -> str:
    """What _dumped_scalar writes for printable ASCII on one line, without dumping when the outcome is known."""
    plain = plain_is_text(text)
    if plain and _plain_as_is(text):
        return text
    if not plain or _never_plain(text):  # single quotes, PyYAML's choice (and ours when plain misreads)
        return "'" + text.replace("'", "''") + "'"
    return _dumped_scalar(text)


def _dumped_scalar(value: object) -> str:
    """One scalar as YAML, written by PyYAML: the reference for _scalar_text's shortcut."""
    style = None
    if isinstance(value, str) and not plain_is_text(value):
        # Double quotes escape line breaks (so the scalar stays on one line); single quotes are PyYAML's own choice.
        style = '"' if _LINE_BREAKS.intersection(value) else "'"
    text = yaml.dump(value, Dumper=_Dumper, width=10**6, allow_unicode=True, default_style=style)
    return text.removesuffix("...\n").rstrip("\n")


_CONTAINERS = (dict, list, tuple)


def _scalar(value: object) -> str:
    if isinstance(value, _CONTAINERS):
        return "{}" if isinstance(value, dict) else "[]"
    return _scalar_text(value)


def _emit(value: object, pad: str, lines: list[str]) -> None:
    """Append the block-style lines of a non-empty mapping or sequence, indented by `pad`; list items are
    indented under their key. One shared list and inlined scalars: this runs for every node of every manifest."""
    if isinstance(value, dict):
        for key, item in value.items():
            key_text = _scalar_text(key) if type(key) is str else _scalar(key)
            if isinstance(item, _CONTAINERS):
                if item:
                    lines.append(f"{pad}{key_text}:")
                    _emit(item, pad + "  ", lines)
                    continue
                text = "{}" if isinstance(item, dict) else "[]"
            else:
                text = _scalar_text(item)
            lines.append(f"{pad}{key_text}: {text}")
        return
    inner = pad + "  "
    for item in value:
        if isinstance(item, _CONTAINERS):
            if item:  # the item's first line goes after the dash
                first = len(lines)
                _emit(item, inner, lines)
                lines[first] = f"{pad}- {lines[first][len(inner):]}"
                continue
            text = "{}" if isinstance(item, dict) else "[]"
        else:
            text = _scalar_text(item)
        lines.append(f"{pad}- {text}")


def to_yaml(value: object, indent: int = 0) -> str:
    """YAML for a value, continuation lines indented to sit under a key at `indent` spaces.

    Every value from a spec passes through here, so it is quoted exactly when YAML would misread it.
    """
    if isinstance(value, _CONTAINERS) and value:
        lines: list[str] = []
        _emit(value, "", lines)
        return ("\n" + " " * indent).join(lines)
    return _scalar(value)


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        bytecode_cache=_bytecode_cache(),
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
    env.filters["human_bytes"] = human_bytes
    env.globals["header"] = HEADER
    env.globals["version"] = __version__
    env.globals["facts"] = facts  # ports, container names and labels, spelled once
    return env


class _BytecodeCache(jinja2.FileSystemBytecodeCache):
    """Compiled templates kept between runs: compiling them all costs a cold run more than rendering does.

    Jinja checks a compiled template against its source only, not against the environment's settings
    (delimiters, trim_blocks), so the folder is this ckredis's fingerprint; and a cache that cannot be read or
    written only costs speed."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, EOFError, ValueError):
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    folder = run_cache.folder() / "jinja" / run_cache.fingerprint()[:16]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return _BytecodeCache(str(folder))


def helm_literal(text: str) -> str:
    """Text that Helm's template engine reproduces exactly: each `{{` becomes the action printing it."""
    return HELM_LEFT_DELIM.sub('{{ "{{" }}', text)


def _plan(source: Cluster | Plan) -> Plan:
    return source if isinstance(source, Plan) else Plan(source)


def manifests(source: Cluster | Plan) -> dict[str, str]:
    """Each Kubernetes object of the chart, as Helm will output it: `templates/<file>.yaml` -> YAML."""
    plan = _plan(source)
    files = {"templates/redisfailover.yaml": _render("chart/templates/redisfailover.yaml.jinja", plan)}
    for client in plan.cluster.clients:
        files[client.manifest_file] = _render(
            "chart/templates/connection.yaml.jinja", plan, client=client)
    for policy in plan.policies:
        files[policy.file_name] = _render("chart/templates/networkpolicy.yaml.jinja", plan, policy=policy)
    if plan.cluster.own_disruption_budgets:
        for component in (plan.cluster.redis, plan.cluster.sentinel):
            files[f"templates/poddisruptionbudget-{component.kind}.yaml"] = _render(
                "chart/templates/poddisruptionbudget.yaml.jinja", plan, c=component)
    files.update(_monitoring_manifests(plan))
    return files


def render_chart(source: Cluster | Plan, objects: dict[str, str] | None = None, chart_path: str | None = None) -> dict[str, str]:
    """Every file of the chart directory, keyed by its path relative to the chart root.

    `objects` are the cluster's manifests when the caller already rendered them; `chart_path` is where the
    chart lives in its repository, for the README's Argo CD example (default `output/<name>`).
    """
    plan = _plan(source)
    files = {path: helm_literal(text) for path, text in (objects or manifests(plan)).items()}
    files["templates/NOTES.txt"] = "{{- /* " + facts.MARKER + ": do not edit. */ -}}\n" + helm_literal(
        _render("chart/templates/NOTES.txt.jinja", plan))
    files["values.yaml"] = _render("chart/values.yaml.jinja", plan)
    files["values.schema.json"] = _values_schema()
    files["README.md"] = _render("chart/README.md.jinja", plan, chart_path=chart_path or f"output/{plan.cluster.name}")
    files[".helmignore"] = _render("chart/helmignore.jinja", plan)
    files.update(_monitoring_files(plan))
    files["Chart.yaml"] = _render("chart/Chart.yaml.jinja", plan, chart_version=chart_version(files))
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


def _monitoring_manifests(plan: Plan) -> dict[str, str]:
    """Monitoring objects: `templates/<file>.yaml` -> YAML as Helm outputs it."""
    mon = plan.monitoring
    if not mon.enabled:
        return {}
    files = {"templates/podmonitor.yaml": _render("chart/templates/podmonitor.yaml.jinja", plan)}
    if plan.rule_groups:
        files["templates/prometheusrule.yaml"] = _render("chart/templates/prometheusrule.yaml.jinja", plan)
    if mon.uptime_probe:
        files["templates/probe.yaml"] = _render("chart/templates/probe.yaml.jinja", plan)
    if mon.dashboard:
        files["templates/dashboard.yaml"] = _render("chart/templates/dashboard.yaml.jinja", plan)
    return files


def _monitoring_files(plan: Plan) -> dict[str, str]:
    """Monitoring files outside templates/ (the Grafana dashboard), path -> text."""
    if not plan.monitoring.enabled:
        return {}
    return {f"dashboards/{plan.dashboard_file}": plan.dashboard_json}


def alert_tests(plan: Plan) -> dict[str, str]:
    """The alert rules as a Prometheus rule file and promtool unit tests of every alert (`ckredis test`), file name ->
    text; empty when the cluster renders no alert rules."""
    if not (plan.monitoring.enabled and plan.rule_groups):
        return {}
    header = f"# {facts.MARKER} for {plan.cluster.namespace}/{plan.cluster.name}: do not edit; change the spec.\n"
    return {
        prove.RULES_FILE: header + "# The alert rules of templates/prometheusrule.yaml as a Prometheus rule file.\n"
                          + to_yaml({"groups": plan.rule_groups}) + "\n",
        prove.TESTS_FILE: header + f"# promtool unit tests of every alert. Run: promtool test rules {prove.TESTS_FILE}\n"
                          + to_yaml(plan.unit_tests(prove.RULES_FILE)) + "\n",
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

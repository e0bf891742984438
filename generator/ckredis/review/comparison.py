"""The checker of a review: compare a committed chart with a fresh render, and the result it gives (`ChartReview`).

Everything here is derived from the chart files alone (NetworkPolicies give the flows, the PrometheusRule the
alerts, the RedisFailover and connection objects the impact), so the committed side, which has no spec, and the
fresh side are read the same way and stay comparable.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ckredis.errors import OutputError
from ckredis.facts import NAMESPACE_LABEL
from ckredis.review.impact import impact
from ckredis.write import existing_files

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, order=True)
class PolicyFlow:
    source: str
    target: str
    ports: str

    def __str__(self) -> str:
        return f"{self.source} → {self.target} {self.ports}"


@dataclass(frozen=True)
class AlertFields:
    severity: str
    for_: str
    expr: str


@dataclass
class ChartReview:
    """What changed between two versions of one chart, and what applying it does."""

    chart: str
    status: str  # "added", "removed", "changed" or "unchanged"
    diff: list[str] = field(default_factory=list)
    objects: dict[str, list[str]] = field(default_factory=lambda: {"added": [], "changed": [], "removed": []})
    flows: dict[str, list[str]] = field(default_factory=lambda: {"added": [], "removed": []})
    alerts: list[str] = field(default_factory=list)
    impact: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.status != "unchanged"

    def as_dict(self) -> dict:
        return {
            "chart": self.chart,
            "status": self.status,
            "impact": self.impact,
            "objects": self.objects,
            "flows": self.flows,
            "alerts": self.alerts,
            "diff": "".join(self.diff),
        }


def compare(chart: str, old: dict[str, str] | None, new: dict[str, str] | None, old_location: str = "") -> ChartReview:
    """Compare chart files; None stands for a chart that does not exist on that side.

    old_location names the committed chart (its directory) in errors; the chart name by default."""
    status = "added" if old is None else "removed" if new is None else "changed" if old != new else "unchanged"
    old, new = old or {}, new or {}
    result = ChartReview(chart, status, diff=unified_diff(chart, old, new))
    if not result.changed:
        return result
    before, after = objects(old_location or chart, old), objects(chart, new)
    result.objects = {
        "added": sorted(after.keys() - before.keys()),
        "changed": sorted(key for key in before.keys() & after.keys() if before[key] != after[key]),
        "removed": sorted(before.keys() - after.keys()),
    }
    old_flows, new_flows = flows(before.values()), flows(after.values())
    result.flows = {
        "added": [str(flow) for flow in sorted(new_flows - old_flows)],
        "removed": [str(flow) for flow in sorted(old_flows - new_flows)],
    }
    result.alerts = alert_changes(alerts(before.values()), alerts(after.values()))
    result.impact = impact(before, after)
    return result


def unified_diff(chart: str, old: dict[str, str], new: dict[str, str]) -> list[str]:
    """One unified diff per file that differs, in path order."""
    lines: list[str] = []
    for path in sorted(old.keys() | new.keys()):
        if old.get(path) != new.get(path):
            lines += difflib.unified_diff(
                (old.get(path) or "").splitlines(keepends=True),
                (new.get(path) or "").splitlines(keepends=True),
                f"a/{chart}/{path}" if path in old else "/dev/null",
                f"b/{chart}/{path}" if path in new else "/dev/null",
            )
            if lines and not lines[-1].endswith("\n"):
                lines[-1] += "\n"
    return lines


def objects(location: str, files: dict[str, str]) -> dict[str, dict]:
    """Every Kubernetes object in the chart's templates, keyed `Kind namespace/name`;
    location names the chart in errors."""
    found = {}
    for path, text in sorted(files.items()):
        if not (path.startswith("templates/") and path.endswith((".yaml", ".yml"))):
            continue
        try:
            documents = list(yaml.load_all(text, Loader=_Loader))
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
            raise OutputError(
                f"{location}/{path}{where}: the committed chart is not valid YAML "
                f"({getattr(error, 'problem', None) or error}); restore it from Git or render again"
            ) from None
        for data in documents:
            if isinstance(data, dict) and "kind" in data:
                meta = data.get("metadata") or {}
                found[f"{data['kind']} {meta.get('namespace', '')}/{meta.get('name', '')}"] = data
    return found


def flows(documents: Iterable[dict]) -> set[PolicyFlow]:
    """The flows the NetworkPolicies allow, seen from both ends (an ingress and the matching egress are one flow)."""
    found = set()
    for policy in documents:
        if policy.get("kind") != "NetworkPolicy":
            continue
        namespace = policy["metadata"].get("namespace", "")
        spec = policy.get("spec") or {}
        selected = _pods(namespace, spec.get("podSelector") or {})
        for rule in spec.get("ingress") or []:
            for peer in rule.get("from") or [{}]:
                found.add(PolicyFlow(_peer(namespace, peer), selected, _ports(rule)))
        for rule in spec.get("egress") or []:
            for peer in rule.get("to") or [{}]:
                found.add(PolicyFlow(selected, _peer(namespace, peer), _ports(rule)))
    return found


def _peer(namespace: str, peer: dict) -> str:
    if "ipBlock" in peer:
        return peer["ipBlock"].get("cidr", "?")
    labels = (peer.get("namespaceSelector") or {}).get("matchLabels") or {}
    if "namespaceSelector" in peer:
        namespace = labels.get(NAMESPACE_LABEL, "*")
    return _pods(namespace, peer.get("podSelector") or {})


def _pods(namespace: str, selector: dict) -> str:
    labels = selector.get("matchLabels") or {}
    if labels.get("app.kubernetes.io/part-of") == "redis-failover" and "app.kubernetes.io/component" in labels:
        return labels["app.kubernetes.io/component"]  # this chart's own redis or sentinel pods
    if not labels:
        return f"{namespace}/*"
    if list(labels) == ["app.kubernetes.io/name"] or list(labels) == ["k8s-app"]:
        return f"{namespace}/{next(iter(labels.values()))}"
    return f"{namespace}/" + ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


def _ports(rule: dict) -> str:
    ports = rule.get("ports") or []
    if not ports:
        return "all ports"
    tcp_only = all(port.get("protocol", "TCP") == "TCP" for port in ports)
    return ", ".join(
        f"{port.get('port', 'all')}" + ("" if tcp_only else f"/{port.get('protocol', 'TCP')}") for port in ports
    )


def alerts(documents: Iterable[dict]) -> dict[str, AlertFields]:
    found = {}
    for rule_object in documents:
        if rule_object.get("kind") != "PrometheusRule":
            continue
        for group in (rule_object.get("spec") or {}).get("groups") or []:
            for rule in group.get("rules") or []:
                if "alert" in rule:
                    found[rule["alert"]] = AlertFields(
                        str((rule.get("labels") or {}).get("severity", "")),
                        str(rule.get("for", "0s")),
                        str(rule.get("expr", "")),
                    )
    return found


def alert_changes(old: dict[str, AlertFields], new: dict[str, AlertFields]) -> list[str]:
    lines = [f"{name}: added ({new[name].severity}, for {new[name].for_})" for name in sorted(new.keys() - old.keys())]
    lines += [f"{name}: removed" for name in sorted(old.keys() - new.keys())]
    for name in sorted(old.keys() & new.keys()):
        before, after = old[name], new[name]
        changes = [f"for {before.for_} → {after.for_}"] if before.for_ != after.for_ else []
        if before.severity != after.severity:
            changes.append(f"severity {before.severity} → {after.severity}")
        if before.expr != after.expr:
            changes.append(_threshold_change(before.expr, after.expr))
        if changes:
            lines.append(f"{name}: " + ", ".join(changes))
    return lines


_NUMBER = re.compile(r'"[^"]*"|(?<![\w.])(\d+(?:\.\d+)?)(?![\w.])')


def _threshold_change(before: str, after: str) -> str:
    """Name the changed numbers when only numbers outside label values changed, else say the expression changed."""

    def skeleton(expr: str) -> tuple[str, list[str]]:
        numbers = []

        def hole(match: re.Match) -> str:
            if match.group(1) is None:
                return match.group(0)
            numbers.append(match.group(1))
            return "#"

        return _NUMBER.sub(hole, expr), numbers

    (shape_before, numbers_before), (shape_after, numbers_after) = skeleton(before), skeleton(after)
    if shape_before != shape_after:
        return "expression changed"
    pairs = [f"{a} → {b}" for a, b in zip(numbers_before, numbers_after, strict=True) if a != b]  # same shape
    return "threshold " + ", ".join(pairs)


def committed_chart(chart_dir: Path) -> dict[str, str] | None:
    """The chart files on disk as text, or None when there is no chart directory."""
    if not chart_dir.is_dir():
        return None
    return {path: content.decode("utf-8", "replace") for path, content in existing_files(chart_dir).items()}

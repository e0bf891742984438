"""Review a change: compare a committed chart with a fresh render, as `{path: text}` chart files on both sides.

Everything here is derived from the chart files alone (NetworkPolicies give the flows, the PrometheusRule the
alerts, the RedisFailover and connection objects the impact), so the committed side, which has no spec, and the
fresh side are read the same way and stay comparable. Facts about what the operator does with a changed
RedisFailover come from shared/reference/spotahome-operator.md (sections 2.2, 4 and 5).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ckredis.errors import OutputError
from ckredis.facts import MARKER
from ckredis.write import existing_files

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# RedisFailover fields that do not reach the pod template (everything else under redis/sentinel rolls the pods).
_NOT_POD_TEMPLATE = {"replicas", "customConfig", "storage", "serviceAnnotations", "disablePodDisruptionBudget"}
_EVICTING = re.compile(r"^(allkeys|volatile)-")


@dataclass(frozen=True, order=True)
class Flow:
    source: str
    target: str
    ports: str

    def __str__(self) -> str:
        return f"{self.source} → {self.target} {self.ports}"


@dataclass(frozen=True)
class Alert:
    severity: str
    for_: str
    expr: str


@dataclass
class Review:
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
        return {"chart": self.chart, "status": self.status, "impact": self.impact, "objects": self.objects,
                "flows": self.flows, "alerts": self.alerts, "diff": "".join(self.diff)}


def review(chart: str, old: dict[str, str] | None, new: dict[str, str] | None, old_location: str = "") -> Review:
    """Compare chart files; None stands for a chart that does not exist on that side.

    old_location names the committed chart (its directory) in errors; the chart name by default."""
    status = "added" if old is None else "removed" if new is None else "changed" if old != new else "unchanged"
    old, new = old or {}, new or {}
    result = Review(chart, status, diff=unified_diff(chart, old, new))
    if not result.changed:
        return result
    before, after = objects(old_location or chart, old), objects(chart, new)
    result.objects = {
        "added": sorted(after.keys() - before.keys()),
        "changed": sorted(key for key in before.keys() & after.keys() if before[key] != after[key]),
        "removed": sorted(before.keys() - after.keys()),
    }
    old_flows, new_flows = flows(before.values()), flows(after.values())
    result.flows = {"added": [str(flow) for flow in sorted(new_flows - old_flows)],
                    "removed": [str(flow) for flow in sorted(old_flows - new_flows)]}
    result.alerts = alert_changes(alerts(before.values()), alerts(after.values()))
    result.impact = impact(before, after)
    return result


def unified_diff(chart: str, old: dict[str, str], new: dict[str, str]) -> list[str]:
    """One unified diff per file that differs, in path order."""
    lines = []
    for path in sorted(old.keys() | new.keys()):
        if old.get(path) != new.get(path):
            lines += difflib.unified_diff(
                (old.get(path) or "").splitlines(keepends=True), (new.get(path) or "").splitlines(keepends=True),
                f"a/{chart}/{path}" if path in old else "/dev/null", f"b/{chart}/{path}" if path in new else "/dev/null")
            if lines and not lines[-1].endswith("\n"):
                lines[-1] += "\n"
    return lines


def objects(location: str, files: dict[str, str]) -> dict[str, dict]:
    """Every Kubernetes object in the chart's templates, keyed `Kind namespace/name`; location names the chart in errors."""
    found = {}
    for path, text in sorted(files.items()):
        if not (path.startswith("templates/") and path.endswith((".yaml", ".yml"))):
            continue
        try:
            documents = list(yaml.load_all(text, Loader=_Loader))
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
            raise OutputError(f"{location}/{path}{where}: the committed chart is not valid YAML "
                              f"({getattr(error, 'problem', None) or error}); restore it from Git or render again") from None
        for data in documents:
            if isinstance(data, dict) and "kind" in data:
                meta = data.get("metadata") or {}
                found[f"{data['kind']} {meta.get('namespace', '')}/{meta.get('name', '')}"] = data
    return found


def flows(documents) -> set[Flow]:
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
                found.add(Flow(_peer(namespace, peer), selected, _ports(rule)))
        for rule in spec.get("egress") or []:
            for peer in rule.get("to") or [{}]:
                found.add(Flow(selected, _peer(namespace, peer), _ports(rule)))
    return found


def _peer(namespace: str, peer: dict) -> str:
    if "ipBlock" in peer:
        return peer["ipBlock"].get("cidr", "?")
    labels = ((peer.get("namespaceSelector") or {}).get("matchLabels") or {})
    if "namespaceSelector" in peer:
        namespace = labels.get("kubernetes.io/metadata.name", "*")
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
    return ", ".join(f"{port.get('port', 'all')}" + ("" if tcp_only else f"/{port.get('protocol', 'TCP')}")
                     for port in ports)


def alerts(documents) -> dict[str, Alert]:
    found = {}
    for rule_object in documents:
        if rule_object.get("kind") != "PrometheusRule":
            continue
        for group in (rule_object.get("spec") or {}).get("groups") or []:
            for rule in group.get("rules") or []:
                if "alert" in rule:
                    found[rule["alert"]] = Alert(str((rule.get("labels") or {}).get("severity", "")),
                                                 str(rule.get("for", "0s")), str(rule.get("expr", "")))
    return found


def alert_changes(old: dict[str, Alert], new: dict[str, Alert]) -> list[str]:
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
    pairs = [f"{a} → {b}" for a, b in zip(numbers_before, numbers_after) if a != b]
    return "threshold " + ", ".join(pairs)


def committed_chart(chart_dir: Path) -> dict[str, str] | None:
    """The chart files on disk as text, or None when there is no chart directory."""
    if not chart_dir.is_dir():
        return None
    return {path: content.decode("utf-8", "replace") for path, content in existing_files(chart_dir).items()}


def committed_chart_names(output: Path) -> list[str]:
    """Names of the ckredis charts under output/ (a Chart.yaml carrying the generated-by marker)."""
    return sorted(chart.parent.name for chart in output.glob("*/Chart.yaml")
                  if MARKER in chart.read_text(encoding="utf-8", errors="replace")[:512])


# ---- impact -------------------------------------------------------------------------------------------------

def impact(before: dict[str, dict], after: dict[str, dict]) -> list[str]:
    """What applying the change does to running pods, data and clients, most disruptive first."""
    old_rf, new_rf = _failover(before), _failover(after)
    lines = []
    if old_rf and new_rf:
        lines += _storage_impact(old_rf, new_rf)
        lines += _data_impact(old_rf, new_rf)
        lines += _redis_roll(old_rf, new_rf)
        lines += _sentinel_roll(old_rf, new_rf)
        lines += _live_config(old_rf, new_rf)
        lines += _scaling(old_rf, new_rf)
        lines += _auth_change(old_rf, new_rf)
    elif old_rf and not new_rf:
        lines.append("the RedisFailover is deleted: the operator deletes every Redis and Sentinel pod and the data"
                     + (" (the PVCs stay: keepAfterDeletion)" if _spec(old_rf, "redis", "storage", "keepAfterDeletion")
                        else ", PVCs included"))
    lines += _client_impact(before, after)
    return lines


def _failover(found: dict[str, dict]) -> dict | None:
    return next((data for data in found.values() if data.get("kind") == "RedisFailover"), None)


def _spec(failover: dict, *path: str):
    value = failover.get("spec") or {}
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _config(failover: dict, role: str) -> dict[str, str]:
    """customConfig as {directive: value}; `save` may repeat, so values of a repeated directive are joined."""
    config: dict[str, str] = {}
    for entry in _spec(failover, role, "customConfig") or []:
        directive, _, value = str(entry).partition(" ")
        config[directive] = f"{config[directive]}; {value}" if directive in config else value
    return config


def _persists(failover: dict) -> bool:
    return _config(failover, "redis").get("appendonly") == "yes" or _pvc(failover) is not None


def _pvc(failover: dict) -> dict | None:
    return _spec(failover, "redis", "storage", "persistentVolumeClaim")


def _pod_fields(failover: dict, role: str) -> dict:
    settings = _spec(failover, role) or {}
    return {key: value for key, value in settings.items() if key not in _NOT_POD_TEMPLATE}


def _changed_fields(old: dict, new: dict, role: str) -> list[str]:
    before, after = _pod_fields(old, role), _pod_fields(new, role)
    fields = sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))
    if role == "redis" and _spec(old, "auth") != _spec(new, "auth"):
        fields.append("auth (REDIS_PASSWORD env)")
    if _spec(old, "labelWhitelist") != _spec(new, "labelWhitelist"):
        fields.append("labelWhitelist (pod labels)")
    return fields


def _redis_roll(old: dict, new: dict) -> list[str]:
    fields = _changed_fields(old, new, "redis")
    if not fields:
        return []
    replicas = _spec(new, "redis", "replicas") or 3
    return [f"rolls every Redis pod ({', '.join(fields)} changed): the operator deletes the {replicas} pods one at a "
            f"time, replicas first and the master last, so expect up to {replicas} failovers (clients reconnect "
            "through Sentinel)"]


def _sentinel_roll(old: dict, new: dict) -> list[str]:
    fields = _changed_fields(old, new, "sentinel")
    if not fields:
        return []
    return [f"rolls the Sentinel pods ({', '.join(fields)} changed): the Deployment replaces them one by one; "
            "no failover while a quorum of Sentinels stays up"]


def _live_config(old: dict, new: dict) -> list[str]:
    lines = []
    rolls = bool(_changed_fields(old, new, "redis"))
    for role, command in (("redis", "CONFIG SET"), ("sentinel", "SENTINEL SET")):
        before, after = _config(old, role), _config(new, role)
        changed = [f"{key} {before.get(key, '(unset)')} → {after[key]}" for key in sorted(after)
                   if before.get(key) != after[key]]
        dropped = sorted(before.keys() - after.keys())
        if changed:
            how = ("applied live by the operator with " + command + " at its next reconcile (within 30 s)"
                   + (", and at start-up by the rolled pods" if role == "redis" and rolls else ", no restart"))
            lines.append(f"{role} config {', '.join(changed)}: {how}")
        if dropped:
            lines.append(f"{role} config {', '.join(dropped)} removed: the operator never unsets a directive, so "
                         "running pods keep the old value until they restart")
    return lines


def _scaling(old: dict, new: dict) -> list[str]:
    lines = []
    for role in ("redis", "sentinel"):
        before, after = _spec(old, role, "replicas"), _spec(new, role, "replicas")
        if before != after:
            lines.append(f"{role} replicas {before} → {after}: pods are added or removed; the others keep running")
    return lines


def _auth_change(old: dict, new: dict) -> list[str]:
    before, after = _spec(old, "auth", "secretPath"), _spec(new, "auth", "secretPath")
    if before == after:
        return []
    return [f"password Secret {before or '(none)'} → {after or '(none)'}: the operator rewrites redis.conf but "
            "running pods keep the old password until they roll; while old and new pods mix, replicas cannot sync "
            "from a master with the other password and clients fail auth on one side: plan a maintenance window "
            "and restart the clients with the new password"]


def _storage_impact(old: dict, new: dict) -> list[str]:
    before, after = _pvc(old), _pvc(new)
    if before is None or after is None or before == after:
        if before is None and after is not None:
            return ["cannot be applied in place: the operator creates the StatefulSet's volumeClaimTemplates "
                    "once and Kubernetes refuses to add one to an existing StatefulSet; create the persistent "
                    "cluster under a new name, move the clients, then remove the old cluster"]
        return []
    def size(pvc: dict) -> str | None:
        return ((pvc.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage")

    def klass(pvc: dict) -> str | None:
        return (pvc.get("spec") or {}).get("storageClassName")

    lines = []
    if klass(before) != klass(after) or (before.get("spec") or {}).get("accessModes") != (after.get("spec") or {}).get("accessModes"):
        lines.append(f"cannot be applied in place: storage class {klass(before)} → {klass(after)}; the operator "
                     "cannot change volumeClaimTemplates and existing PVCs keep their class. Create a new cluster "
                     "(new name) with the new storage, let it replicate or restore the data, move the clients, "
                     "then delete the old one; or keep the old class")
    if size(before) != size(after):
        if _quantity(size(after)) < _quantity(size(before)):
            lines.append(f"cannot be applied in place: PVC size {size(before)} → {size(after)}; volumes never "
                         "shrink. Keep the old size, or create a new cluster (new name) and move the data and clients")
        else:
            lines.append(f"PVC size {size(before)} → {size(after)}: the operator cannot resize the StatefulSet's "
                         "volumeClaimTemplates; it expands the existing PVCs, which works only if the storage "
                         "class has allowVolumeExpansion: true (check with `kubectl get storageclass`); otherwise "
                         "create a new cluster (new name) with the new size and move the data and clients")
    return lines


_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def _quantity(text) -> float:
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(text))
    return float(match.group(1)) * _UNITS.get(match.group(2), 1) if match else 0.0


def _data_impact(old: dict, new: dict) -> list[str]:
    lines = []
    if _persists(old):
        policy_before = _config(old, "redis").get("maxmemory-policy", "noeviction")
        policy_after = _config(new, "redis").get("maxmemory-policy", "noeviction")
        if policy_before == "noeviction" and _EVICTING.match(policy_after):
            lines.append(f"turns eviction on for data that was persisted: maxmemory-policy noeviction → "
                         f"{policy_after}; keys are deleted when memory is full")
    if _config(old, "redis").get("appendonly") == "yes" and _config(new, "redis").get("appendonly") != "yes":
        lines.append("turns persistence off: appendonly yes → no; a restarted pod loses what it held")
    if _pvc(old) is not None and _pvc(new) is None:
        lines.append("turns persistence off: the PVC is removed from the RedisFailover, so data no longer "
                     "survives pod restarts (existing PVCs are not deleted by this change)")
    return lines



def _payload(connection: dict) -> dict:
    return {**(connection.get("data") or {}), **(connection.get("stringData") or {})}

def _client_impact(before: dict[str, dict], after: dict[str, dict]) -> list[str]:
    lines = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        connection = old or new
        if connection.get("kind") not in ("Secret", "ConfigMap") or \
                (connection["metadata"].get("labels") or {}).get("app.kubernetes.io/component") != "connection":
            continue
        if old and not new:
            lines.append(f"{key} is removed: client pods that read it fail to start on their next restart")
        elif old and new and _payload(old) != _payload(new):
            changed = sorted(k for k in _payload(old).keys() | _payload(new).keys() if _payload(old).get(k) != _payload(new).get(k))
            lines.append(f"clients must restart to pick up {key} ({', '.join(changed)} changed): "
                         "environment variables are read only when a pod starts")
    return lines


# ---- formats ------------------------------------------------------------------------------------------------

def summary_rows(result: Review) -> list[tuple[str, str, str]]:
    """(object|flow|alert, what, change) rows, in that order."""
    rows = [("object", name, state) for state in ("added", "changed", "removed") for name in result.objects[state]]
    rows += [("flow", flow, state) for state in ("added", "removed") for flow in result.flows[state]]
    rows += [("alert", *line.split(": ", 1)) for line in result.alerts]
    return rows


def as_text(results: list[Review]) -> str:
    out = []
    for result in results:
        out.append(f"== {result.chart}: {result.status}\n")
        if not result.changed:
            continue
        out += [f"impact: {line}\n" for line in result.impact]
        out += [f"object {name}: {state}\n" for state in ("added", "changed", "removed")
                for name in result.objects[state]]
        out += [f"flow {flow}: {state}\n" for state in ("added", "removed") for flow in result.flows[state]]
        out += [f"alert {line}\n" for line in result.alerts]
        out += result.diff
    return "".join(out)


# GitHub refuses comments over 65,536 characters, GitLab notes over 1,000,000: keep the folded diffs under both.
_COMMENT_DIFF_BUDGET = 50_000


def as_markdown(results: list[Review]) -> str:
    changed = [result for result in results if result.changed]
    budget = _COMMENT_DIFF_BUDGET
    if not changed:
        return "### ckredis diff\n\nNo chart changes.\n"
    out = ["### ckredis diff\n"]
    for result in changed:
        out.append(f"\n#### `{result.chart}` ({result.status})\n\n")
        out.append("**Impact**\n\n" + "".join(f"- {_md(line)}\n" for line in result.impact) + "\n"
                   if result.impact else "**Impact**: none beyond the objects below.\n\n")
        out.append("| | What | Change |\n| --- | --- | --- |\n")
        out += [f"| {kind} | {_md(what)} | {_md(change)} |\n" for kind, what, change in summary_rows(result)]
        shown, budget = _within(result.diff, budget)
        fence = "~~~~" if any(line.startswith("~~~") for line in shown) else "~~~"
        cut = (f"({len(result.diff) - len(shown)} more lines: run `ckredis diff` to see them)\n"
               if len(shown) < len(result.diff) else "")
        out.append(f"\n<details><summary>Unified diff ({len(result.diff)} lines)</summary>\n\n{fence}diff\n"
                   + "".join(shown) + f"{fence}\n{cut}\n</details>\n")
    return "".join(out)


def _within(lines: list[str], budget: int) -> tuple[list[str], int]:
    """The leading lines that fit in budget characters, and the budget left."""
    shown = []
    for line in lines:
        if len(line) > budget:
            break
        shown.append(line)
        budget -= len(line)
    return shown, budget


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;")


def as_json(results: list[Review]) -> dict:
    return {"changed": any(result.changed for result in results), "charts": [result.as_dict() for result in results]}

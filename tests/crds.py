"""The upstream CRDs in ../shared as strict validators: a field the CRD does not list is an error, since the API
server would prune it silently."""

from __future__ import annotations

from functools import cache

import jsonschema
import yaml

from ckredis import model, render
from ckredis.validate import validate_data
from conftest import shared

# The RedisFailover CRD of each operator target, and the Prometheus Operator's CRDs of the kinds a chart holds.
OPERATOR_CRDS = {
    "v1.2.4": "upstream/spotahome/redisfailovers.v1.2.4.crd.yaml",
    "v1.3.0-rc1": "upstream/spotahome/redisfailovers.crd.yaml",
    "freshworks": "upstream/spotahome/redisfailovers.freshworks.crd.yaml",
    "freshworks-v3.3.5": "upstream/spotahome/redisfailovers.freshworks-v3.3.5.crd.yaml",
}
MONITORING_CRDS = {
    "PodMonitor": "upstream/prometheus-operator/monitoring.coreos.com_podmonitors.yaml",
    "Probe": "upstream/prometheus-operator/monitoring.coreos.com_probes.yaml",
    "PrometheusRule": "upstream/prometheus-operator/monitoring.coreos.com_prometheusrules.yaml",
}


def closed(node: object) -> object:
    """The schema with `additionalProperties: false` wherever it lists properties, as the API server prunes."""
    if isinstance(node, dict):
        node = {key: closed(value) for key, value in node.items()}
        if (
            "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [closed(item) for item in node]
    return node


@cache
def _validator(relative: str) -> jsonschema.Draft7Validator:
    crd = yaml.safe_load(shared(relative).read_text())
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return jsonschema.Draft7Validator(closed(served["schema"]["openAPIV3Schema"]))


def failover_validator(version: str) -> jsonschema.Draft7Validator:
    return _validator(OPERATOR_CRDS[version])


def monitoring_validator(kind: str) -> jsonschema.Draft7Validator:
    return _validator(MONITORING_CRDS[kind])


def failover_for(spec: dict) -> dict:
    """The RedisFailover a spec renders."""
    cluster = model.build(validate_data(spec))
    return yaml.safe_load(render.manifests(cluster)["templates/redisfailover.yaml"])


def failover_errors(version: str, failover: dict) -> list[str]:
    return [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in failover_validator(version).iter_errors(failover)
    ]

"""Who may talk to whom: the intended flows of one cluster, and the NetworkPolicies that allow exactly them.

The flows are the single source for the policies, the chart README's connectivity table and diagram,
and `ckredis connectivity`. A policy is derived per selected pod group: ingress rules from the flows
that end there, egress rules from the flows that start there.
"""

from __future__ import annotations

from dataclasses import dataclass

from ckredis.derive import egress_policy_name, policy_manifest
from ckredis.facts import NAMESPACE_LABEL
from ckredis.model import Client, Cluster, Component, Endpoint

SYNC_WAVE = {"argocd.argoproj.io/sync-wave": "-1"}  # before the RedisFailover's pods, which Gatekeeper checks


@dataclass(frozen=True)
class Port:
    protocol: str
    number: int

    def as_k8s(self) -> dict:
        return {"port": self.number, "protocol": self.protocol}

    def __str__(self) -> str:
        return f"{self.protocol}/{self.number}"


@dataclass(frozen=True)
class IntendedFlow:
    source: Endpoint
    destination: Endpoint
    ports: tuple[Port, ...]
    reason: str

    @property
    def port_text(self) -> str:
        return ", ".join(str(port) for port in self.ports)


@dataclass(frozen=True)
class Policy:
    name: str
    namespace: str
    pod_selector: dict
    ingress: tuple[dict, ...] | None  # None: this policy does not restrict the direction
    egress: tuple[dict, ...] | None
    description: str

    @property
    def policy_types(self) -> list[str]:
        # nca and kubectl accept either order; Ingress first matches the API documentation.
        return [kind for kind, rules in (("Ingress", self.ingress), ("Egress", self.egress)) if rules is not None]

    @property
    def spec(self) -> dict:
        spec: dict = {"podSelector": self.pod_selector, "policyTypes": self.policy_types}
        if self.ingress is not None:
            spec["ingress"] = list(self.ingress)
        if self.egress is not None:
            spec["egress"] = list(self.egress)
        return spec

    @property
    def file_name(self) -> str:
        return policy_manifest(self.namespace, self.name)


def tcp(number: int) -> Port:
    return Port("TCP", number)


DNS_PORTS = (Port("UDP", 53), Port("TCP", 53))


def flows(cluster: Cluster) -> tuple[IntendedFlow, ...]:
    """Every flow the policies allow, in reading order."""
    redis, sentinel, peers = cluster.redis, cluster.sentinel, cluster.peers
    r, s = redis.endpoint, sentinel.endpoint
    data, discovery = tcp(redis.port), tcp(sentinel.port)
    result = [
        IntendedFlow(r, r, (data,), "replication: replicas sync from the master"),
        IntendedFlow(s, r, (data,), "Sentinel monitors every Redis instance"),
        IntendedFlow(s, s, (discovery,), "Sentinels gossip and vote on failovers"),
        IntendedFlow(r, s, (discovery,), "the pre-stop script asks Sentinel for the master"),
        IntendedFlow(peers.operator, r, (data,), "the operator checks and configures Redis"),
        IntendedFlow(peers.operator, s, (discovery,), "the operator checks and configures Sentinel"),
        IntendedFlow(peers.prometheus, r, (tcp(redis.exporter_port),), "Prometheus scrapes the redis exporter"),
        IntendedFlow(peers.prometheus, s, (tcp(sentinel.exporter_port),), "Prometheus scrapes the sentinel exporter"),
    ]
    if cluster.monitoring.uptime_probe:
        result.append(IntendedFlow(peers.blackbox, s, (discovery,), "the uptime Probe connects to Sentinel"))
    for client in cluster.clients:
        result += [
            IntendedFlow(client.endpoint, s, (discovery,), f"{client.namespace} asks Sentinel for the master"),
            IntendedFlow(client.endpoint, r, (data,), f"{client.namespace} reads and writes the master it was given"),
        ]
    result += [
        IntendedFlow(r, peers.dns, DNS_PORTS, "name lookups"),
        IntendedFlow(s, peers.dns, DNS_PORTS, "name lookups"),
    ]
    result += [
        IntendedFlow(client.endpoint, peers.dns, DNS_PORTS, f"{client.namespace} resolves {cluster.sentinel_host}")
        for client in cluster.clients
        if client.egress_policy
    ]
    return tuple(result)


def policies(cluster: Cluster, all_flows: tuple[IntendedFlow, ...]) -> tuple[Policy, ...]:
    """The NetworkPolicies: a default deny for this cluster's pods, one allow policy per component, one per client."""
    result = [
        Policy(
            f"{cluster.name}-default-deny",
            cluster.namespace,
            cluster.pods_selector,
            (),
            (),
            f"Deny all traffic to and from the pods of {cluster.name}; "
            "the policies beside it allow exactly what it needs.",
        )
    ]
    for component in (cluster.redis, cluster.sentinel):
        result.append(_component_policy(cluster, component, all_flows))
    for client in cluster.clients:
        if client.egress_policy:
            result.append(_client_policy(cluster, client, all_flows))
    return tuple(result)


def _component_policy(cluster: Cluster, component: Component, all_flows: tuple[IntendedFlow, ...]) -> Policy:
    here = component.endpoint
    return Policy(
        f"{cluster.name}-{component.kind}",
        cluster.namespace,
        {"matchLabels": component.selector},
        tuple(_rule("from", f.source, f.ports, cluster.namespace) for f in all_flows if f.destination == here),
        tuple(_rule("to", f.destination, f.ports, cluster.namespace) for f in all_flows if f.source == here),
        f"What the {component.kind} pods of {cluster.name} accept and open.",
    )


def _client_policy(cluster: Cluster, client: Client, all_flows: tuple[IntendedFlow, ...]) -> Policy:
    here = client.endpoint
    return Policy(
        egress_policy_name(client.connection_name),
        client.namespace,
        _selector(here),
        None,
        tuple(_rule("to", f.destination, f.ports, client.namespace) for f in all_flows if f.source == here),
        f"Lets the client pods reach Redis {cluster.namespace}/{cluster.name}, and DNS to find it.",
    )


def _selector(endpoint: Endpoint) -> dict:
    return {"matchLabels": dict(endpoint.labels)} if endpoint.labels else {}


def _rule(direction: str, peer: Endpoint, ports: tuple[Port, ...], policy_namespace: str) -> dict:
    selector = {"podSelector": _selector(peer)}
    if peer.namespace != policy_namespace:
        selector = {"namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: peer.namespace}}, **selector}
    return {direction: [selector], "ports": [port.as_k8s() for port in ports]}


def connectivity_table(all_flows: tuple[IntendedFlow, ...]) -> list[tuple[str, str, str, str]]:
    """(from, to, ports, why) rows, as shown to reviewers."""
    return [(f.source.title, f.destination.title, f.port_text, f.reason) for f in all_flows]


def mermaid(all_flows: tuple[IntendedFlow, ...]) -> str:
    """A Mermaid flowchart of the allowed flows."""
    nodes: dict[str, Endpoint] = {}
    for flow in all_flows:
        nodes.setdefault(flow.source.key, flow.source)
        nodes.setdefault(flow.destination.key, flow.destination)
    lines = ["flowchart LR"]
    lines += [f'  {key}["{endpoint.title}"]' for key, endpoint in nodes.items()]
    lines += [f'  {f.source.key} -->|"{f.port_text}"| {f.destination.key}' for f in all_flows]
    return "\n".join(lines)

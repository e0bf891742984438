"""Proof with a real NetworkPolicy analyzer (nca): the rendered policies allow exactly the intended flows.

A synthetic cluster holds this Redis cluster's pods, a second RedisFailover in the same namespace, the
operator, Prometheus, the blackbox exporter, DNS, and per client namespace a client pod and a non-client
pod, plus a pod with the client's labels in an unrelated namespace. The intended matrix below is written
from the issue, pod by pod, not from ckredis's flow list; nca's full connectivity map must equal it.
"""

from __future__ import annotations

import copy
import re
import subprocess
from dataclasses import dataclass, field

import pytest
import yaml

from ckredis import model, render
from ckredis.validate import validate_data
from conftest import EXAMPLES, documents, load_example, tool

UNRELATED = "unrelated"
_LINE = re.compile(r"^(\S+) => (\S+) : (.+)$")
_BLOCK = re.compile(r"\{([^{}]*)\}")
_SUSPICIOUS = ("Missing named port", "missing from the peer container", "livesim", "Error")


@dataclass
class Inventory:
    pods: list[dict] = field(default_factory=list)
    namespaces: set[str] = field(default_factory=set)

    def add(self, namespace: str, name: str, labels: dict) -> str:
        self.namespaces.add(namespace)
        self.pods.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "namespace": namespace, "labels": labels},
                "spec": {"containers": [{"name": "main", "image": "busybox:1"}]},
            }
        )
        return f"{namespace}/{name}"


def operator_pod_labels(cluster: str, component: str) -> dict:
    return {
        "app.kubernetes.io/name": cluster,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "redis-failover",
        "app.kubernetes.io/managed-by": "redis-operator",
        "redisfailovers.databases.spotahome.com/name": cluster,
    }


def scenario(spec: dict):
    """The synthetic cluster and the intended flows {(src, dst, protocol, port)} for one spec."""
    name, namespace, body = spec["metadata"]["name"], spec["metadata"]["namespace"], spec["spec"]
    port = body["redis"].get("port", 6379)
    inv = Inventory()
    redis = [inv.add(namespace, f"rfr-{name}-{i}", operator_pod_labels(name, "redis")) for i in range(3)]
    sentinel = [inv.add(namespace, f"rfs-{name}-{i}", operator_pod_labels(name, "sentinel")) for i in range(3)]
    inv.add(namespace, "rfr-neighbour-0", operator_pod_labels("neighbour", "redis"))
    inv.add(namespace, "rfs-neighbour-0", operator_pod_labels("neighbour", "sentinel"))
    operator = inv.add("redis-operator", "redis-operator-0", {"app.kubernetes.io/name": "redis-operator"})
    prometheus = inv.add("monitoring", "prometheus-0", {"app.kubernetes.io/name": "prometheus"})
    blackbox = inv.add("monitoring", "blackbox-0", {"app.kubernetes.io/name": "prometheus-blackbox-exporter"})
    dns = inv.add("kube-system", "coredns-0", {"k8s-app": "kube-dns"})
    clients = []
    for index, entry in enumerate(body.get("clients", [])):
        labels = dict(entry.get("podSelector", {}))
        if entry.get("accessLabel"):
            engine = body.get("engine", "redis")
            labels = {f"elastisys.io/{engine}-{name}-access": "allow"}
            # Welkin's label of the other engine admits nothing here.
            other_engine = {"redis": "valkey", "valkey": "redis"}[engine]
            inv.add(
                entry["namespace"], f"other-engine-{index}", {f"elastisys.io/{other_engine}-{name}-access": "allow"}
            )
        client_labels = {**labels, "ckredis.test/pod": f"client-{index}"}
        clients.append(inv.add(entry["namespace"], f"client-{index}", client_labels))
        other = inv.add(entry["namespace"], f"bystander-{index}", {"ckredis.test/pod": f"bystander-{index}"})
        if entry.get("allowWholeNamespace"):
            clients.append(other)
        inv.add(UNRELATED, f"lookalike-{index}", client_labels)

    tcp = lambda number: {("TCP", number)}  # noqa: E731
    dns_ports = {("UDP", 53), ("TCP", 53)}
    wanted: dict[tuple[str, str], set] = {}

    def allow(sources, destinations, ports):
        for src in sources:
            for dst in destinations:
                if src != dst:
                    wanted.setdefault((src, dst), set()).update(ports)

    allow(redis, redis, tcp(port))  # replication
    allow(sentinel, redis, tcp(port))  # sentinel monitors redis
    allow(sentinel, sentinel, tcp(26379))  # sentinels talk
    allow(redis, sentinel, tcp(26379))  # pre-stop asks sentinel for the master
    allow([operator], redis, tcp(port))
    allow([operator], sentinel, tcp(26379))
    allow([prometheus], redis, tcp(9121))
    allow([prometheus], sentinel, tcp(9355))
    if body.get("monitoring", {}).get("uptimeProbe", {}).get("enabled", True):
        allow([blackbox], sentinel, tcp(26379))  # only while the uptime Probe exists
    allow(clients, redis, tcp(port))
    allow(clients, sentinel, tcp(26379))
    allow(redis + sentinel, [dns], dns_ports)
    allow(clients, [dns], dns_ports)
    intended = {(src, dst, proto, number) for (src, dst), ports in wanted.items() for proto, number in ports}
    return inv, set(redis + sentinel), set(clients), intended


def nca_flows(tmp_path, inv: Inventory, policies: list[dict]) -> set[tuple]:
    """Every allowed (src, dst, protocol, port) nca finds; ('ALL', 'ALL') for unrestricted pairs."""
    (tmp_path / "policies.yaml").write_text(yaml.safe_dump_all(policies))
    (tmp_path / "pods.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "PodList", "items": inv.pods}))
    namespaces = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
        }
        for ns in sorted(inv.namespaces)
    ]
    (tmp_path / "namespaces.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v1", "kind": "NamespaceList", "items": namespaces})
    )
    out = tmp_path / "connectivity.txt"
    result = subprocess.run(
        [
            tool("nca"),
            "--connectivity",
            str(tmp_path / "policies.yaml"),
            "--pod_list",
            str(tmp_path / "pods.yaml"),
            "--ns_list",
            str(tmp_path / "namespaces.yaml"),
            "--output_endpoints",
            "pods",
            "-o",
            "txt_no_fw_rules",
            "-f",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for word in _SUSPICIOUS:  # nca only warns when a policy refers to something it cannot resolve
        assert word not in result.stdout + result.stderr, result.stdout + result.stderr
    flows = set()
    for line in out.read_text().splitlines():
        match = _LINE.match(line.strip())
        if not match:
            continue
        src, dst, connection = match.groups()
        flows |= {(src, dst, proto, port) for proto, port in parse_connection(connection)}
    return flows


def parse_connection(text: str) -> set[tuple]:
    if text == "All connections":
        return {("ALL", "ALL")}
    blocks = _BLOCK.findall(text)
    assert blocks and not _BLOCK.sub("", text).strip(", "), f"unexpected nca connection {text!r}"
    found = set()
    for block in blocks:
        fields = dict(re.findall(r"(protocols|dst_ports):((?:(?!,(?:protocols|dst_ports):).)+)", block))
        assert set(fields) == {"protocols", "dst_ports"}, f"unexpected nca connection {text!r}"
        ports = [int(p) for p in fields["dst_ports"].split(",")]  # a range would fail here, as it should
        found |= {(proto.strip(), port) for proto in fields["protocols"].split(",") for port in ports}
    return found


def policies_for(spec: dict) -> list[dict]:
    cluster = model.build(validate_data(spec))
    return [
        doc for doc in documents("\n---\n".join(render.manifests(cluster).values())) if doc["kind"] == "NetworkPolicy"
    ]


def variants() -> list[tuple[str, dict]]:
    """Every example, plus the first one with its clients selected by the access label and by whole namespace."""
    cases = [(path.stem, load_example(path)) for path in EXAMPLES]
    base = load_example(EXAMPLES[0])
    for mode, selection in (
        ("access-label", {"accessLabel": True}),
        ("whole-namespace", {"allowWholeNamespace": True}),
    ):
        spec = copy.deepcopy(base)
        spec["spec"]["clients"] = [{"namespace": c["namespace"], **selection} for c in spec["spec"]["clients"]]
        cases.append((f"{EXAMPLES[0].stem}-{mode}", spec))
    valkey = copy.deepcopy(cases[-2][1])  # the access-label variant, on Valkey: Welkin's elastisys.io/valkey-... label
    valkey["spec"]["engine"] = "valkey"
    cases.append((f"{EXAMPLES[0].stem}-access-label-valkey", valkey))
    no_probe = copy.deepcopy(base)
    no_probe["spec"]["monitoring"] = {"uptimeProbe": {"enabled": False}}
    cases.append((f"{EXAMPLES[0].stem}-without-uptime-probe", no_probe))
    return cases


@pytest.mark.parametrize("spec", [spec for _, spec in variants()], ids=[case for case, _ in variants()])
def test_policies_allow_exactly_the_intended_flows(tmp_path, spec):
    inv, own_pods, client_pods, intended = scenario(spec)
    flows = nca_flows(tmp_path, inv, policies_for(spec))
    # Flows that involve this cluster's pods or start at its clients: everything else is not ours to decide.
    relevant = {f for f in flows if f[0] in own_pods or f[1] in own_pods or f[0] in client_pods}
    assert relevant - intended == set(), "allowed but not intended"
    assert intended - relevant == set(), "intended but not allowed"


def test_the_proof_can_fail(tmp_path):
    """A policy that admits one more peer is caught."""
    spec = load_example(EXAMPLES[0])
    inv, own_pods, client_pods, intended = scenario(spec)
    policies = policies_for(spec)
    sentinel_policy = next(p for p in policies if p["metadata"]["name"].endswith("-sentinel"))
    sentinel_policy["spec"]["ingress"].append(
        {"from": [{"namespaceSelector": {}}], "ports": [{"port": 26379, "protocol": "TCP"}]}
    )
    flows = nca_flows(tmp_path, inv, policies)
    relevant = {f for f in flows if f[0] in own_pods or f[1] in own_pods or f[0] in client_pods}
    extra = relevant - intended
    assert any(src.startswith(f"{UNRELATED}/") for src, *_ in extra)


def test_policies_come_before_the_pods(example):
    """Gatekeeper wants a selecting NetworkPolicy before pods start: Helm's order and Argo CD's sync waves agree."""
    from conftest import ckredis

    docs = documents(ckredis("render", "--stdout", str(example)).stdout)
    kinds = [doc["kind"] for doc in docs]
    assert max(i for i, kind in enumerate(kinds) if kind == "NetworkPolicy") < kinds.index("RedisFailover")
    wave = lambda doc: int(doc["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", "0"))  # noqa: E731
    failover_wave = wave(docs[kinds.index("RedisFailover")])
    assert all(wave(doc) < failover_wave for doc in docs if doc["kind"] == "NetworkPolicy")

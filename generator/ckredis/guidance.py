"""What application teams and reviewers are told about a rendered cluster: recovery and the go-live checklist.

Every sentence is built from the model (purpose record, sizes, alerts, clients), so the chart README and NOTES
say what this cluster really does. Templates only place these lines.
"""

from __future__ import annotations

from ckredis.facts import NOBACKUP_LABEL
from ckredis.model import Cluster
from ckredis.monitoring.scope import AlertRule


def backup_scope(cluster: Cluster) -> str:
    """What Compliant Kubernetes' daily Velero backup does and does not protect for this cluster."""
    if not cluster.backed_up:
        return (
            f"Its pods carry `{NOBACKUP_LABEL}`, so the platform's daily Velero backup skips their volumes: "
            "nothing of this cluster's data is backed up. Git holds the chart, which redeploys an empty cluster."
        )
    if cluster.persistence is None:
        return (
            "Velero backs up its pods' volumes, but this cluster keeps nothing on disk: "
            "there is nothing useful to restore."
        )
    return (
        "The platform's daily Velero backup includes its PersistentVolumes (append-only file and RDB snapshots): "
        "a restore returns the data as of the last backup, up to a day old, and loses every write since. "
        "It is a manual restore, not a failover; Sentinel failover is what keeps the cluster available."
    )


def full_restart(cluster: Cluster) -> str:
    """What happens when every redis pod stops at once, and where the manual recovery is (persisting stores)."""
    runbook = f"{cluster.monitoring.runbook_base_url}RedisMasterLostKeys.md"
    return (
        "Node drains evict one redis pod at a time (PodDisruptionBudget) and the operator rolls them one at a "
        "time, so only a failure stops all of them at once: nodes rebooting together, a zone lost, the StatefulSet "
        "deleted. Then the operator promotes the oldest pod, not the one with the newest data, and the others "
        "resynchronise from it, dropping theirs: scale the operator down and promote the pod with the most keys "
        f"first, as the runbook of alert RedisMasterLostKeys says ({runbook})."
    )


def recovery(cluster: Cluster) -> list[str]:
    """No disaster recovery: Redis (or Valkey) is never the primary store."""
    sentences = [
        f"{cluster.engine_facts.title} is not a primary store and this cluster has no disaster recovery. "
        f"{cluster.if_lost}",
        backup_scope(cluster),
    ]
    return sentences + ([full_restart(cluster)] if cluster.persistence else [])


def go_live(cluster: Cluster, alerts: list[AlertRule]) -> list[tuple[str, str]]:
    """The go-live checklist items that concern Redis, with this cluster's values: (item, what to check)."""
    redis, sentinel, placement = cluster.redis, cluster.sentinel, cluster.placement
    engine = cluster.engine_facts.title  # the server the pods run, as documents name it
    clients = "; ".join(client.endpoint.title for client in cluster.clients) or "none"
    return [
        (
            "High availability",
            f"{redis.replicas} {engine} pods (1 master, {redis.replicas - 1} replicas) "
            f"and {sentinel.replicas} Sentinels (quorum {cluster.quorum}), spread over nodes ({placement.node_spread}) "
            f"and zones ({placement.zone_spread}). "
            "Load test through a rolling node reboot: the application must follow the failover through Sentinel.",
        ),
        (
            "Capacity",
            f"maxmemory {cluster.maxmemory / 2**20:.0f} MiB per pod (memory limit {redis.resources.memory_limit}); "
            f"when full, {engine} {cluster.when_full}. Load test with production-sized data.",
        ),
        ("Alerts routed to someone", _alerts_item(cluster, alerts)),
        (
            "Access reviewed",
            f"only these pods may connect: {clients}. Confirm with each application team that these are its pods"
            + (", and that its copy of the password Secret is readable only by them." if cluster.auth_secret else "."),
        ),
        ("Disaster recovery", f"none by design (see above): check the application works with an empty {engine}."),
    ]


def _alerts_item(cluster: Cluster, alerts: list[AlertRule]) -> str:
    if not alerts:
        return "the spec turns alerting off: nobody is told when this cluster fails. Turn it on before going live."
    critical = [alert.name for alert in alerts if alert.setting.severity == "critical"]
    labels = ", ".join(f"{key}={value}" for key, value in cluster.monitoring.alert_labels.items())
    return (
        f"{len(alerts)} alerts, {len(critical)} critical ({', '.join(critical) or 'none'}), labelled "
        f"{labels or 'with severity only'}. Check that Alertmanager routes them to whoever is on call."
    )

"""Container probes (RedisFailover custom*Probe): timings per purpose and the exec commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ckredis.facts import SENTINEL_PORT
from ckredis.monitoring.settings import Monitoring, ProbeTiming

if TYPE_CHECKING:
    from ckredis.model import Cluster


def probe_timings(settings: Monitoring) -> dict[str, dict[str, ProbeTiming]]:
    """Each container probe's timing: its purpose-aware default, then what the spec sets."""
    session = settings.facts.session
    defaults = {
        "redis": {
            # Startup only waits for the server to answer at all (LOADING counts); generous, as it costs nothing
            # once passed. A session store may sit on a slow volume.
            "startup": ProbeTiming(5, 3, 60 if session else 24),
            # Restarting a session store costs a reload and a failover: be patient. A cache restarts cheaply.
            "liveness": ProbeTiming(10, 5, 6 if session else 3),
            # The operator's own readiness script and timings (k8s defaults), without its 30 s initial delay:
            # the startup probe gates it.
            "readiness": ProbeTiming(10, 5, 3),
        },
        "sentinel": {
            "startup": ProbeTiming(5, 3, 12),
            "liveness": ProbeTiming(10, 5, 3),
            # Readiness puts a sentinel into the rfs Service clients discover the master through: react fast.
            "readiness": ProbeTiming(5, 3, 2),
        },
    }
    timings: dict[str, dict[str, ProbeTiming]] = {}
    for kind, stages in defaults.items():
        timings[kind] = {}
        for stage, default in stages.items():
            given = settings.container_probe_timings[kind].get(stage, {})
            timings[kind][stage] = ProbeTiming(
                given.get("periodSeconds", default.period_seconds),
                given.get("timeoutSeconds", default.timeout_seconds),
                given.get("failureThreshold", default.failure_threshold),
            )
    return timings


def probe_commands(cluster: Cluster, kind: str) -> dict[str, list[str]]:
    """Exec commands. No probe sends a password: liveness needs none, readiness is the operator's own script.

    The CLI (redis-cli, or valkey-cli in the fork's Valkey mode) exits 0 on an error reply, so every check reads
    the reply. Liveness accepts any reply that proves the server is processing commands: PONG, LOADING (a large
    dataset is being loaded) and NOAUTH (auth is on;
    answering it needs no credentials, so a password rotation never gets pods killed).
    """
    cli = cluster.runs.cli  # the one the operator's own scripts call, so the image has it
    if kind == "redis":
        alive = (
            f"reply=$({cli} -h 127.0.0.1 -p {cluster.redis.port} ping 2>&1); "
            'case "$reply" in PONG|*LOADING*|*NOAUTH*) exit 0 ;; esac; echo "$reply"; exit 1'
        )
        # The operator mounts this script in every redis pod: a master is ready; a replica is ready unless its
        # master_host is 127.0.0.1 or a sync is in progress. It does not read master_link_status, so a replica of a
        # dead master stays ready. It authenticates with REDIS_PASSWORD.
        return {
            "liveness": ["sh", "-c", alive],
            "startup": ["sh", "-c", alive],
            "readiness": ["/bin/sh", "/redis-readiness/ready.sh"],
        }
    alive = (
        f"reply=$({cli} -h 127.0.0.1 -p {SENTINEL_PORT} ping 2>&1); "
        'case "$reply" in PONG) exit 0 ;; esac; echo "$reply"; exit 1'
    )
    # The operator's readiness (commit 156474af): ready once this sentinel knows a master that is not the
    # 127.0.0.1 placeholder. Stricter than the original: an empty or error reply is not an address.
    ready = (
        f"addr=$({cli} -h 127.0.0.1 -p {SENTINEL_PORT} sentinel get-master-addr-by-name {cluster.master_name} "
        '2>/dev/null | head -n 1); case "$addr" in ""|127.0.0.1|*" "*) echo "no master: $addr"; exit 1 ;; esac'
    )
    return {"liveness": ["sh", "-c", alive], "startup": ["sh", "-c", alive], "readiness": ["sh", "-c", ready]}

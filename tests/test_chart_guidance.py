"""The chart README and NOTES tell application teams what they need on the first day, for this cluster.

Checked against the model (connection object, purpose record, backup, sizes, alerts, clients), never against
copied sentences. The redis-py snippet itself is run through a failover in test_client_snippets.py.
"""

from __future__ import annotations

import re

import pytest
import yaml

from ckredis.facts import NOBACKUP_LABEL, PURPOSES
from ckredis.pipeline import render_specs
from ckredis.plan import Plan
from conftest import EXAMPLES

# One snippet per client library: (README heading, the library's Sentinel entry point).
LIBRARIES = {
    "redis-py": "sentinel.master_for(",
    "django-redis": "django_redis.client.SentinelClient",
    "ioredis (Node.js)": "sentinels:",
    "go-redis": "redis.NewFailoverClient(&redis.FailoverOptions{",
    "Lettuce / Spring Data Redis": "sentinel:",
}
SENTINEL_VARIABLES = ("SENTINEL_HOST", "SENTINEL_PORT", "MASTER_NAME")  # after the engine's prefix


def _rendered(path):
    (item,) = render_specs([str(path)])
    return item.cluster, item.files["README.md"], item.files["templates/NOTES.txt"]


def _snippets(readme: str) -> dict[str, str]:
    """The first code block under each `### ` heading of the README."""
    return dict(re.findall(r"^### (.+?)\n.*?^```\w*\n(.*?)^```", readme, re.MULTILINE | re.DOTALL))


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_readme_gives_a_sentinel_snippet_per_library_from_the_connection_object(path):
    cluster, readme, _ = _rendered(path)
    snippets = _snippets(readme)
    for heading, entry_point in LIBRARIES.items():
        code = snippets[heading]
        assert entry_point in code, heading
        for variable in (cluster.engine_facts.key_prefix + name for name in SENTINEL_VARIABLES):
            assert variable in cluster.connection_data and variable in code, f"{heading} does not read {variable}"
        if cluster.auth_secret:
            assert cluster.password_variable in code, f"{heading} does not send the password"
        else:
            assert "password" not in code.lower(), f"{heading} sends a password to a cluster without auth"
    if cluster.auth_secret:
        assert cluster.auth_secret in readme and cluster.password_variable in readme
    for client in cluster.clients:
        assert f"{{name: {client.connection_name}}}" in readme, client


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_readme_and_notes_warn_about_clients_without_sentinel(path):
    _, readme, notes = _rendered(path)
    for text in (readme, notes):
        assert re.search(r"without Sentinel support.{0,40}breaks on the first failover", text, re.DOTALL)
    assert "README.md" in notes and "## Connect an application" in readme


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_recovery_text_follows_the_purpose_record_and_the_backup_label(path):
    cluster, readme, notes = _rendered(path)
    recovery = _section(readme, "## If the data is lost")
    own = PURPOSES[cluster.purpose].if_lost
    others = [purpose.if_lost for name, purpose in PURPOSES.items() if name != cluster.purpose]
    for text in (recovery, notes):
        assert "not a primary store" in text and own in text
        assert not any(other in text for other in others)
        assert (NOBACKUP_LABEL in text) == (not cluster.backed_up)
        assert ("PersistentVolumes" in text) == (cluster.backed_up and cluster.persistence is not None)


def _checklist(notes: str) -> dict[str, str]:
    return dict(re.findall(r"^  \[ \] ([^:]+): (.*)$", notes, re.MULTILINE))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_notes_go_live_checklist_has_this_clusters_values(path):
    cluster, _, notes = _rendered(path)
    items = _checklist(notes)
    assert list(items) == [
        "High availability",
        "Capacity",
        "Alerts routed to someone",
        "Access reviewed",
        "Disaster recovery",
    ]
    assert f"{cluster.redis.replicas} {cluster.engine_facts.title} pods" in items["High availability"]
    assert f"{cluster.sentinel.replicas} Sentinels (quorum {cluster.quorum})" in items["High availability"]
    assert f"{round(cluster.maxmemory / 2**20)} MiB" in items["Capacity"]
    assert cluster.redis.resources.memory_limit in items["Capacity"]
    policy = cluster.redis_config_value("maxmemory-policy")
    assert ("refuses writes" in items["Capacity"]) == (policy == "noeviction")
    alerts = Plan(cluster).alerts
    assert f"{len(alerts)} alerts" in items["Alerts routed to someone"]
    for alert in alerts:
        assert (alert.name in items["Alerts routed to someone"]) == (alert.setting.severity == "critical")
    for key, value in cluster.monitoring.alert_labels.items():
        assert f"{key}={value}" in items["Alerts routed to someone"]
    for client in cluster.clients:
        assert client.endpoint.title in items["Access reviewed"]


def test_checklist_says_when_nobody_would_be_alerted(tmp_path):
    spec = yaml.safe_load(next(p for p in EXAMPLES if p.stem == "cache").read_text())
    spec["spec"]["monitoring"] = {"alerts": {"enabled": False}}
    path = tmp_path / "quiet.yaml"
    path.write_text(yaml.safe_dump(spec))
    cluster, _, notes = _rendered(path)
    assert Plan(cluster).alerts == []
    assert "alerting off" in _checklist(notes)["Alerts routed to someone"]


@pytest.mark.parametrize("down_after_ms", [1000, 2000, 4999, 5000, 10000, 600000])
def test_the_partitions_section_says_whether_the_fence_closes_before_a_failover(down_after_ms, tmp_path):
    """A session store's README states its write fence as rendered; below the lag floor it admits the overlap."""
    (session,) = [path for path in EXAMPLES if path.stem == "session"]
    spec = yaml.safe_load(session.read_text())
    spec["spec"]["sentinel"]["config"]["downAfterMilliseconds"] = down_after_ms
    path = tmp_path / "session.yaml"
    path.write_text(yaml.safe_dump(spec))
    (item,) = render_specs([str(path)])
    config = dict(line.split(" ", 1) for line in item.cluster.redis_config)
    lag = int(config["min-replicas-max-lag"])
    assert config["min-replicas-to-write"] == "1" and lag >= 2, "a lag of 1 refuses writes on one late ACK"
    section = _section(item.files["README.md"], "Network partitions")
    assert f"`min-replicas-max-lag {lag}`" in section and f"({down_after_ms})" in section
    # Redis closes the fence at most lag + 2 s after the cut; Sentinel promotes no earlier than down-after - 1 s.
    closes_in_time = lag + 2 <= down_after_ms // 1000 - 1
    assert ("stops before Sentinel can promote" in section) == closes_in_time
    assert ("may promote a replica" in section) == (not closes_in_time)


def test_a_cache_says_it_is_not_fenced():
    (cache,) = [path for path in EXAMPLES if path.stem == "cache"]
    cluster, readme, _ = _rendered(cache)
    assert "min-replicas-to-write 0" in cluster.redis_config
    assert "Deliberately not fenced" in _section(readme, "Network partitions")

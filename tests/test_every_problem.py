"""Every problem at once: reading problems, schema problems and cross-field rules in one report.

A user fixing a spec needs one round trip: a duplicate key or a tag does not hide the schema's complaints,
and a schema complaint does not hide a cross-field rule whose inputs are valid.
"""

from __future__ import annotations

import copy

import pytest
import yaml

from ckredis.errors import SpecError
from ckredis.validate import validate_data
from conftest import EXAMPLES, ckredis

SPEC = """\
apiVersion: ckredis.elastisys.io/v1alpha1
kind: RedisCluster
metadata:
  name: cache
  namespace: redis-system
  namespace: other
spec:
  purpose: cache
  replicas: 3
  persistence:
    size: 1Gi
  redis:
    resources:
      requests: {cpu: 100m, memory: 512Mi}
      limits: {memory: 256Mi}
  sentinel:
    replicas: 4
  monitoring: !!python/object:os.system {x: 1}
  clients:
    - namespace: redis-system
      podSelector:
        app.kubernetes.io/name: shop-web
"""


def test_one_run_reports_reading_schema_and_cross_field_problems_in_document_order(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    result = ckredis("validate", str(spec))
    assert result.returncode == 2
    assert [line.split(": ", 2)[1] for line in result.stderr.splitlines()] == [
        "metadata.namespace",  # duplicate key (reading)
        "spec.replicas",  # unknown key (schema)
        "spec.persistence",  # a cache keeps nothing on disk (cross-field)
        "spec.redis.resources.requests.memory",  # request above limit (cross-field)
        "spec.sentinel.replicas",  # even (schema)
        "spec.monitoring",  # a tag on a mapping (reading)
        "spec.clients[0].namespace",  # client in the Redis namespace (cross-field)
    ]
    assert [int(line.split(":")[1]) for line in result.stderr.splitlines()] == [6, 9, 10, 14, 17, 18, 20]


def test_a_rule_whose_inputs_are_invalid_stays_silent(tmp_path):
    spec = tmp_path / "spec.yaml"
    # The memory request is not a quantity: the request-above-limit rule cannot run, the client rule still does.
    spec.write_text(SPEC.replace("memory: 512Mi", "memory: lots").replace("  namespace: other\n", ""))
    lines = ckredis("validate", str(spec)).stderr.splitlines()
    assert any('"lots" is not a memory quantity' in line for line in lines), lines
    assert not any("above the limit" in line for line in lines)
    assert any("clients run in their own namespace" in line for line in lines)


def test_every_file_is_reported_in_the_order_given(tmp_path):
    first, second = tmp_path / "b.yaml", tmp_path / "a.yaml"
    first.write_text(SPEC.replace("name: cache", "name: one"))
    second.write_text("kind: [\n")  # unreadable YAML: reported alone, and after the first file
    lines = ckredis("render", str(first), str(second), "-o", str(tmp_path / "out")).stderr.splitlines()
    assert [line.split(":")[0] for line in lines] == [str(first)] * 7 + [str(second)]
    assert not (tmp_path / "out").exists()


def _mutations(data: object, path: tuple = ()):
    """Every spec with one value replaced by a value of another shape, or one key removed."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield path + (key,), "removed"
            yield from _mutations(value, path + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _mutations(value, path + (index,))
    if path:
        for replacement in (None, "x", 0, -1, 2.5, True, [], {}, ["x"], {"x": 1}):
            yield path, replacement


def _apply(data: dict, path: tuple, change: object) -> dict:
    mutated = copy.deepcopy(data)
    parent = mutated
    for part in path[:-1]:
        parent = parent[part]
    if change == "removed":
        del parent[path[-1]]
    else:
        parent[path[-1]] = copy.deepcopy(change)
    return mutated


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_every_single_mutation_ends_in_valid_data_or_located_problems(example):
    """Rules run on partly valid specs now: none of them may trip over an invalid value it did not ask for."""
    data = yaml.safe_load(example.read_text())
    count = 0
    for path, change in _mutations(data):
        count += 1
        try:
            validate_data(_apply(data, path, change), "spec.yaml")
        except SpecError as error:
            assert error.issues and all(issue.line >= 1 for issue in error.issues)
    assert count > 100

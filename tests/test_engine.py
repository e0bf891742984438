"""spec.engine: Redis or Valkey, and what each engine changes in the chart."""

from __future__ import annotations

import copy

from conftest import EXAMPLES, load_example
from ckredis import model
from ckredis.validate import validate_data

VALKEY_IMAGE = "docker.io/valkey/valkey:9.1.2-alpine"


def _cache(**spec_fields) -> dict:
    data = copy.deepcopy(load_example(next(path for path in EXAMPLES if path.stem == "cache")))
    data["spec"].update(spec_fields)
    return data


def test_the_default_engine_is_redis_with_the_redis_images():
    cluster = model.build(validate_data(_cache()))
    assert cluster.engine == "redis"
    assert cluster.redis.image.endswith("/library/redis:7.2.16-alpine")
    assert cluster.sentinel.image == cluster.redis.image


def test_valkey_runs_the_valkey_image_after_the_same_registry_rewrite():
    data = _cache(engine="valkey")
    cluster = model.build(validate_data(data))
    registry = data["spec"]["images"]["registry"]
    assert cluster.redis.image == cluster.sentinel.image == f"{registry}/valkey/valkey:9.1.2-alpine"
    assert cluster.exporter_image == f"{registry}/oliver006/redis_exporter:v1.91.1"


def test_valkey_exporter_has_the_valkey_fixes_of_v1_90():
    exporter = validate_data(_cache(engine="valkey"))["spec"]["images"]["exporter"]
    version = tuple(int(part) for part in exporter.rsplit(":v", 1)[1].split("."))
    assert version >= (1, 90)


def test_an_image_the_spec_pins_wins_over_the_engine_default():
    data = _cache(engine="valkey")
    data["spec"]["images"] = {"redis": "docker.io/valkey/valkey:9.0.6-alpine"}
    images = validate_data(data)["spec"]["images"]
    assert images["redis"] == "docker.io/valkey/valkey:9.0.6-alpine"
    assert images["sentinel"] == VALKEY_IMAGE

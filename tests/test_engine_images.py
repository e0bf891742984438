"""An image of the other engine: an error where the operator would run binaries the image lacks, else a warning."""

from __future__ import annotations

from conftest import ckredis

SPEC = """\
apiVersion: ckredis.elastisys.io/v1alpha1
kind: RedisCluster
metadata:
  name: cache
  namespace: redis-system
spec:
  purpose: cache
  engine: {engine}
  operator: {operator}
  images:
    registry: harbor.example.com/proxy
    redis: {image}
  redis:
    resources:
      requests: {{cpu: 100m, memory: 256Mi}}
      limits: {{memory: 256Mi}}
  clients:
    - namespace: shop
      podSelector:
        app.kubernetes.io/name: shop-web
"""
#  8 engine   9 operator   12 redis image
FORK = "{version: freshworks-v3.3.5, group: platform}"
REDIS_IMAGE, VALKEY_IMAGE = "docker.io/library/redis:7.2.16-alpine", "docker.io/valkey/valkey:9.1.2-alpine"


def _validate(tmp_path, **fields):
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.format(**fields))
    result = ckredis("validate", str(path))
    return path, result.returncode, result.stderr.splitlines()


def test_the_forks_valkey_mode_refuses_the_redis_image(tmp_path):
    path, code, lines = _validate(tmp_path, engine="valkey", operator=FORK, image=REDIS_IMAGE)
    assert code == 2
    assert lines == [
        f"{path}:12:12: spec.images.redis: the freshworks-v3.3.5 operator's Valkey mode runs valkey-server "
        "and valkey-cli, which the official redis image does not have: the pods would never start "
        "(hint: pin a valkey/valkey image, or leave images.redis unset for the Valkey default)"
    ]


def test_an_image_of_the_other_engine_elsewhere_is_a_warning(tmp_path):
    path, code, lines = _validate(tmp_path, engine="valkey", operator="{version: v1.2.4}", image=REDIS_IMAGE)
    assert code == 0
    assert lines == [
        f"{path}:12:12: spec.images.redis: warning: an official Redis image while spec.engine is valkey: "
        "the connection keys, the access label and the chart's documents say Valkey (hint: set "
        "spec.engine: redis, or pin a valkey image)"
    ]
    # Welkin's older way: engine redis with the Valkey image swapped in works (the image has the redis-* links)
    path, code, lines = _validate(tmp_path, engine="redis", operator=FORK, image=VALKEY_IMAGE)
    assert code == 0 and len(lines) == 1 and "an official Valkey image while spec.engine is redis" in lines[0]


def test_matching_images_draw_nothing(tmp_path):
    for engine, image in (("redis", REDIS_IMAGE), ("valkey", VALKEY_IMAGE)):
        _, code, lines = _validate(tmp_path, engine=engine, operator=FORK, image=image)
        assert (code, lines) == (0, [])

"""`ckredis init`: a commented starter spec that validates as written."""

from ckredis.paths import SCHEMA_FILE

# Where editors look for the schema, beside the spec: `ckredis schema > ckredis-spec.schema.json` puts it there.
SCHEMA_BESIDE = SCHEMA_FILE.name

_STARTER = """\
# yaml-language-server: $schema={schema}
# Editors validate as you type once the schema is beside this file: ckredis schema > {schema_file}
# A ckredis service spec: one Redis Sentinel cluster with one purpose.
# Validate with `ckredis validate FILE`, render with `ckredis render FILE`.
apiVersion: ckredis.elastisys.io/v1alpha1
kind: RedisCluster
metadata:
  name: {name}                # rfr-{name} / rfs-{name}; at most 48 characters
  namespace: {namespace}
spec:
  purpose: {purpose}             # cache: evicts, no disk; session: never evicts, persists to a PVC
  engine: redis               # or valkey (README, "Redis or Valkey")
  operator:
    version: v1.3.0-rc1       # v1.2.4, v1.3.0-rc1 or freshworks-v3.3.5 (with group: ...): output conforms to its CRD
  redis:
    replicas: 3               # at least 3
    resources:                # maxmemory is derived from limits.memory
      requests: {{cpu: 100m, memory: 256Mi}}
      limits: {{memory: 256Mi}}
  sentinel:
    replicas: 3               # odd, at least 3; quorum is derived
  # auth:
  #   secretPath: {name}-auth  # an existing Secret in {namespace} with the key `password`
  clients:                    # who may connect; each namespace gets a connection Secret
    - namespace: my-app
      podSelector:
        app.kubernetes.io/name: my-app
"""


def starter_spec(name: str, purpose: str, namespace: str, schema: str = SCHEMA_BESIDE) -> str:
    """The starter; `schema` is the path (relative to the spec) or URL its modeline points editors to."""
    return _STARTER.format(schema=schema, schema_file=SCHEMA_BESIDE, name=name, purpose=purpose, namespace=namespace)

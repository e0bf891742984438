"""`ckredis init`: a commented starter spec that validates as written."""

from ckredis.paths import SCHEMA_ID

_STARTER = """\
# yaml-language-server: $schema={schema}
# A ckredis service spec: one Redis Sentinel cluster with one purpose.
# Validate with `ckredis validate FILE`, render with `ckredis render FILE`.
apiVersion: ckredis.elastisys.io/v1alpha1
kind: RedisCluster
metadata:
  name: {name}                # rfr-{name} / rfs-{name}; at most 48 characters
  namespace: {namespace}
spec:
  purpose: {purpose}             # cache: evicts, no disk; session: never evicts, persists to a PVC
  operator:
    version: v1.3.0-rc1       # v1.2.4, v1.3.0-rc1 or freshworks: output conforms to its CRD
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


def starter_spec(name: str, purpose: str, namespace: str) -> str:
    return _STARTER.format(schema=SCHEMA_ID, name=name, purpose=purpose, namespace=namespace)

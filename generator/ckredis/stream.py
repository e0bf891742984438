"""The chart's manifests as one multi-document YAML stream, in the order and format of `helm template`.

Helm sorts template files by path, then stably by kind in its install order (unknown kinds last, by kind
name), trims each document and prints it as `---\\n# Source: <chart>/<path>\\n<document>\\n`.
"""

from __future__ import annotations

import re

import yaml

# helm/pkg/release/util/kind_sorter.go InstallOrder, up to the last kind ckredis renders (RoleBinding).
INSTALL_ORDER = (
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DOCUMENT_SEPARATOR = re.compile(r"(?:^|\s*\n)---\s*")


def _kind_rank(kind: str) -> tuple[int, str]:
    return (INSTALL_ORDER.index(kind), "") if kind in INSTALL_ORDER else (len(INSTALL_ORDER), kind)


def manifest_stream(chart_name: str, manifests: dict[str, str]) -> str:
    """What `helm template <name> <chart>` prints for these manifests."""
    documents = []
    for path in sorted(manifests):
        for document in _DOCUMENT_SEPARATOR.split(manifests[path].strip()):
            if document.strip():
                kind = (yaml.load(document, Loader=_Loader) or {}).get("kind", "")
                documents.append((_kind_rank(kind), f"{chart_name}/{path}", document.strip()))
    documents.sort(key=lambda item: item[0])  # stable: path order within a kind
    return "".join(f"---\n# Source: {source}\n{document}\n" for _, source, document in documents)

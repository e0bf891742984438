"""Specs that would fight over the same thing: one chart directory, or one Kubernetes object in one namespace
(a client's connection Secret, an egress NetworkPolicy). Each clash is a located error in both files."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import yaml

from ckredis.errors import Issue

_DOCUMENT = re.compile(r"^---$", re.MULTILINE)
_KIND = re.compile(r"^kind: (.+)$", re.MULTILINE)
_METADATA = re.compile(r"^metadata:\n((?:  .*\n)+)", re.MULTILINE)
_FIELD = {name: re.compile(rf"^  {name}: (.+)$", re.MULTILINE) for name in ("name", "namespace")}

Identity = tuple[str, str, str]  # kind, namespace, name


@dataclass(frozen=True)
class Claim:
    """What one spec renders: its chart name, and the objects of its manifests."""

    source: str
    position: tuple[int, int]  # of metadata.name, where a clash is reported
    chart: str
    objects: tuple[Identity, ...]


def objects_of(manifests: Iterable[str]) -> tuple[Identity, ...]:
    """(kind, namespace, name) of every object, read from the block-style header that every manifest ckredis
    renders starts with (`kind:` and `metadata:` at column 0, name and namespace two spaces in): a full YAML
    parse of every manifest would cost more than rendering it."""
    found = []
    for text in manifests:
        for document in _DOCUMENT.split(text):
            kind, metadata = _KIND.search(document), _METADATA.search(document)
            if kind and metadata:
                fields = {name: pattern.search(metadata.group(1)) for name, pattern in _FIELD.items()}
                namespace, name = (
                    _scalar(match.group(1)) if match else "" for match in (fields["namespace"], fields["name"])
                )
                found.append((_scalar(kind.group(1)), namespace, name))
    return tuple(sorted(found))


def _scalar(text: str) -> str:
    return str(yaml.safe_load(text)) if text[:1] in "'\"" else text


def clashes(claims: list[Claim]) -> list[Issue]:
    """A located error in each of two specs that render the same chart directory or the same object."""
    issues = []
    first_chart: dict[str, Claim] = {}
    first_object: dict[Identity, Claim] = {}
    for claim in claims:
        earlier = first_chart.setdefault(claim.chart, claim)
        if earlier is not claim:
            issues += _pair(
                earlier,
                claim,
                f"{claim.chart!r} is the cluster name in both; both would render the chart directory {claim.chart}/",
                "give each cluster its own name",
            )
            continue  # the same chart twice: its objects clash too, one error says it
        for identity in claim.objects:
            earlier = first_object.setdefault(identity, claim)
            if earlier is not claim:
                kind, namespace, name = identity
                issues += _pair(
                    earlier,
                    claim,
                    f"both render the {kind} {namespace}/{name}; the charts would overwrite each other's object",
                    "give one of the clients another clients[].connectionName, or rename one cluster",
                )
    return issues


def _pair(first: Claim, second: Claim, message: str, hint: str) -> list[Issue]:
    return [
        Issue(*first.position, "metadata.name", f"{message} (with {second.source})", hint, first.source),
        Issue(*second.position, "metadata.name", f"{message} (with {first.source})", hint, second.source),
    ]

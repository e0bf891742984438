"""Every core Kubernetes object passes kubernetes-validate --strict for Kubernetes 1.30 to 1.34."""

from __future__ import annotations

import kubernetes_validate
import pytest

from conftest import ckredis, documents

CUSTOM_GROUPS = {"databases.spotahome.com", "monitoring.coreos.com"}  # checked against their CRDs elsewhere
VERSIONS = ["1.30.0", "1.31.0", "1.32.0", "1.33.0", "1.34.0"]


@pytest.mark.parametrize("version", VERSIONS)
def test_core_objects_are_valid(version, example):
    stream = ckredis("render", "--stdout", str(example)).stdout
    core = [doc for doc in documents(stream) if doc["apiVersion"].split("/")[0] not in CUSTOM_GROUPS]
    assert core, "every example renders core objects"
    for doc in core:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']}: no schema for {doc['apiVersion']} in {version}")
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']}: {list(error.path)}: {error.message}")


def test_strict_validation_can_fail():
    """The check above is not vacuous: a typo in a rendered object is caught."""
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "datta": {}}, "1.33.0", strict=True
        )


def test_the_chart_claims_the_oldest_kubernetes_it_is_checked_against():
    from ckredis import facts

    assert facts.KUBE_VERSION == f">={VERSIONS[0]}-0"

"""Resource quantities: every quantity Kubernetes accepts is accepted (bar the documented exclusions), read
exactly, rendered so the operator's CRD accepts it; the usual mistakes get a fix."""

from __future__ import annotations

import itertools
import re

import pytest

from ckredis.pipeline import render_specs
from ckredis.quantity import cpu_millicores, memory_bytes
from ckredis.validate import schema
from conftest import EXAMPLES, ckredis, load_example, shared
from crds import failover_errors, failover_for

NUMBERS = ["0", "1", "256", "1.5", ".5", "1.", "007"]
SUFFIXES = [
    "",
    "Ki",
    "Mi",
    "Gi",
    "Ti",
    "Pi",
    "Ei",
    "k",
    "M",
    "G",
    "T",
    "P",
    "E",
    "m",
    "n",
    "u",
    "e9",
    "E3",
    "e-1",
    "e+2",
    "e1.5",
    "e999",
    "K",
    "mi",
    "GB",
    " Gi",
]
CORPUS = ["".join(parts) for parts in itertools.product(["", "+", "-"], NUMBERS, SUFFIXES)]


@pytest.fixture(scope="module")
def kubernetes_quantity() -> re.Pattern:
    """The API server's quantity grammar, as the operator's CRD states it."""
    text = shared("upstream/spotahome/redisfailovers.crd.yaml").read_text()
    return re.compile(re.search(r"pattern: (\^\(\\\+\|-\)\?.*\$)", text)[1])


def _accepts(definition: str, text: str) -> bool:
    node = schema()["$defs"][definition]
    return re.search(node["pattern"], text) is not None and len(text) <= node["maxLength"]


def test_memory_accepts_every_kubernetes_quantity_with_a_unit(kubernetes_quantity):
    ours = {text for text in CORPUS if _accepts("memory", text)}
    theirs = {text for text in CORPUS if kubernetes_quantity.fullmatch(text)}
    assert ours <= theirs
    # Left out on purpose: signs, a bare number (bytes), and milli/micro/nano bytes.
    excluded = {text for text in theirs if text[0] in "+-" or re.fullmatch(r"[0-9.]+[mnu]?", text)}
    assert theirs - ours == excluded | {text for text in theirs if re.search(r"e[-+]?[0-9]{3}|e1\.5", text, re.I)}


def test_cpu_accepts_every_kubernetes_quantity_in_cores_or_millicores(kubernetes_quantity):
    ours = {text for text in CORPUS if _accepts("cpu", text)}
    theirs = {text for text in CORPUS if kubernetes_quantity.fullmatch(text)}
    assert ours <= theirs
    # Left out on purpose: signs, binary and decimal multipliers of whole cores, micro and nano cores.
    excluded = {
        text
        for text in theirs
        if text[0] in "+-"
        or re.search(r"([KMGTPE]i|[kMGTPEnu])$", text)
        or re.search(r"e[-+]?[0-9]{3}|e1\.5", text, re.I)
    }
    assert theirs - ours == excluded


@pytest.mark.parametrize(
    "text, expected",
    [
        ("256Mi", 256 * 2**20),
        ("1.5Gi", 3 * 2**29),
        ("500M", 500_000_000),
        ("1e9", 10**9),
        ("1E3", 1000),
        (".5Ki", 512),
        ("1.Gi", 2**30),
        ("0.1Ki", 103),
        ("2Ei", 2**61),
    ],
)
def test_memory_quantities_are_read_exactly(text, expected):
    assert memory_bytes(text) == expected


@pytest.mark.parametrize(
    "value, expected",
    [("250m", 250), ("0.5", 500), (0.5, 500), (2, 2000), ("1e-1", 100), ("0.0001", 1), ("1.5m", 2), ("2", 2000)],
)
def test_cpu_quantities_are_read_exactly(value, expected):
    assert cpu_millicores(value) == expected


def test_quantities_copied_from_other_manifests_render_and_the_crd_accepts_them():
    spec = load_example(next(path for path in EXAMPLES if path.stem == "session"))
    spec["spec"]["redis"]["resources"] = {
        "requests": {"cpu": "1e-1", "memory": "500M"},
        "limits": {"cpu": 0.5, "memory": "1.5Gi"},
    }
    spec["spec"]["persistence"]["size"] = "4e9"
    failover = failover_for(spec)
    assert failover["spec"]["redis"]["resources"]["limits"]["memory"] == "1.5Gi"
    (maxmemory,) = [
        int(line.split()[1]) for line in failover["spec"]["redis"]["customConfig"] if line.startswith("maxmemory ")
    ]
    assert 2**30 // 2 < maxmemory < 3 * 2**29, "maxmemory is a share of 1.5Gi"
    assert failover_errors(spec["spec"]["operator"]["version"], failover) == []


@pytest.mark.parametrize(
    "value, message",
    [
        ("1GB", '"1GB" is not a memory quantity (hint: did you mean 1Gi? Kubernetes writes units without B)'),
        ("512mb", '"512mb" is not a memory quantity (hint: did you mean 512Mi? Kubernetes writes units without B)'),
        ("1gi", '"1gi" is not a memory quantity (hint: did you mean 1Gi?)'),
        ("1024", "1024 has no unit (hint: add a unit, e.g. 1024Mi; a bare number counts bytes)"),
        ('"1024"', '"1024" is not a memory quantity (hint: add a unit, e.g. 1024Mi; a bare number counts bytes)'),
        (
            "500m",
            '"500m" is not a memory quantity '
            "(hint: m means thousandths (500m is 500/1000 of a byte); did you mean 500Mi?)",
        ),
    ],
)
def test_a_mistaken_memory_quantity_gets_a_fix(tmp_path, value, message):
    spec = tmp_path / "spec.yaml"
    spec.write_text(EXAMPLES[0].read_text().replace("limits: {memory: 256Mi}", f"limits: {{memory: {value}}}"))
    assert f"limits: {{memory: {value}}}" in spec.read_text()
    result = ckredis("validate", str(spec))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{spec}:{_line_of(spec, 'limits:')}:24: spec.redis.resources.limits.memory: {message}"
    ]


def test_a_cpu_quantity_in_capital_m_gets_a_fix(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(EXAMPLES[0].read_text().replace("cpu: 100m", "cpu: 100M"))
    result = ckredis("validate", str(spec))
    assert result.returncode == 2
    assert result.stderr.rstrip().endswith(
        '"100M" is not a CPU quantity (hint: did you mean 100m? millicores are written with a lowercase m)'
    )


def _line_of(path, text: str) -> int:
    return next(number for number, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_the_chart_readme_shows_maxmemory_in_mib_or_gib(example):
    (item,) = render_specs([str(example)])
    match = re.search(r"maxmemory ([0-9.]+) (MiB|GiB) \(([0-9]+) bytes\)", item.files["README.md"])
    assert match, "maxmemory is shown in MiB or GiB"
    shown, exact = float(match[1]) * {"MiB": 2**20, "GiB": 2**30}[match[2]], int(match[3])
    assert abs(shown - exact) <= exact / 1000

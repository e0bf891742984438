"""Kubernetes resource quantities (the API server's grammar), and hints for the usual ways to get one wrong.

The schema's `cpu` and `memory` patterns admit the same texts as CPU and MEMORY below (a test holds them
equal), except that a memory quantity needs a unit: a bare number counts bytes, which no Redis means.
"""

import math
import re
from decimal import Decimal

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_NUMBER = r"(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_EXPONENT = r"[eE](?P<exponent>[-+]?[0-9]{1,2})"
MEMORY = re.compile(rf"{_NUMBER}(?:(?P<suffix>[KMGTPE]i|[kMGTPE])|{_EXPONENT})")
CPU = re.compile(rf"{_NUMBER}(?:(?P<milli>m)|{_EXPONENT})?")
GIB = 2**30


def memory_bytes(quantity: str) -> int:
    """Bytes in a memory quantity such as '256Mi', '1.5Gi', '500M' or '1e9' (a fraction of a byte rounds up)."""
    match = MEMORY.fullmatch(quantity)
    if match is None:  # the schema's pattern admits only MEMORY's texts: a caller passed unvalidated data
        raise ValueError(f"not a memory quantity: {quantity!r}")
    return math.ceil(_scaled(match) * {**_BINARY, **_DECIMAL}.get(match["suffix"] or "", 1))


def cpu_millicores(quantity: str | float) -> int:
    """Millicores in a CPU quantity such as '250m', '0.5', '1e-1' or 2 (less than a millicore rounds up)."""
    if not isinstance(quantity, str):  # a YAML number, which may have any exponent (5.0e-324): the text form may not
        return math.ceil(Decimal(str(quantity)) * 1000)
    match = CPU.fullmatch(quantity)
    if match is None:
        raise ValueError(f"not a CPU quantity: {quantity!r}")
    return math.ceil(_scaled(match) * (1 if match["milli"] else 1000))


def _scaled(match: re.Match) -> Decimal:
    return Decimal(match["number"]) * Decimal(10) ** int(match["exponent"] or 0)


def memory_hint(text: str) -> str | None:
    """A fix for a memory quantity Kubernetes would refuse or misread, when the intent is plain."""
    number = r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    if match := re.fullmatch(rf"{number}\s*([kKmMgGtTpPeE])(i?)[bB]", text):
        return f"did you mean {match[1]}{match[2].upper()}i? Kubernetes writes units without B"
    if match := re.fullmatch(rf"{number}\s*([kmgtpe])i", text):
        return f"did you mean {match[1]}{match[2].upper()}i?"
    if match := re.fullmatch(rf"{number}m", text):
        return f"m means thousandths ({text} is {match[1]}/1000 of a byte); did you mean {match[1]}Mi?"
    if match := re.fullmatch(number, text):
        return unit_hint(match[1])
    if match := re.fullmatch(rf"{number}\s+(\S+)", text):
        return f"remove the space: {match[1]}{match[2]}"
    return None


def unit_hint(number: object) -> str:
    return f"add a unit, e.g. {number}Mi; a bare number counts bytes"


def cpu_hint(text: str) -> str | None:
    """A fix for a CPU quantity written in a way Kubernetes refuses, when the intent is plain."""
    if match := re.fullmatch(r"([0-9]+)\s*(M|mc|millis?|millicores?)", text):
        return f"did you mean {match[1]}m? millicores are written with a lowercase m"
    if match := re.fullmatch(r"([0-9]+(?:\.[0-9]*)?)\s*(cores?|cpus?)", text):
        return f"did you mean {match[1]}? cores are written as a plain number"
    return None


def whole_gibibytes(size_bytes: int) -> str:
    """The smallest whole number of Gi that holds size_bytes, as a quantity."""
    return f"{max(1, math.ceil(size_bytes / GIB))}Gi"


def human_bytes(size_bytes: int) -> str:
    """A short reading of a byte count for messages, e.g. '192 MiB'."""
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size_bytes >= factor:
            return f"{size_bytes / factor:.4g} {unit}"
    return f"{size_bytes} bytes"

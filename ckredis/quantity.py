"""Kubernetes resource quantities, only as far as the spec's schema admits them."""

import math
import re

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_MEMORY = re.compile(r"^([0-9]+)(Ki|Mi|Gi|Ti|k|M|G|T)?\Z")
GIB = 2**30


def memory_bytes(quantity: str) -> int:
    """Bytes in a memory quantity such as '256Mi' or '1G'."""
    number, suffix = _MEMORY.match(quantity).groups()
    return int(number) * {**_BINARY, **_DECIMAL}.get(suffix or "", 1)


def cpu_millicores(quantity: str | float) -> int:
    """Millicores in a CPU quantity such as '250m', '0.5' or 2."""
    if isinstance(quantity, str) and quantity.endswith("m"):
        return int(quantity[:-1])
    return round(float(quantity) * 1000)


def whole_gibibytes(size_bytes: int) -> str:
    """The smallest whole number of Gi that holds size_bytes, as a quantity."""
    return f"{max(1, math.ceil(size_bytes / GIB))}Gi"


def human_bytes(size_bytes: int) -> str:
    """A short reading of a byte count for messages, e.g. '192 MiB'."""
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size_bytes >= factor:
            return f"{size_bytes / factor:.4g} {unit}"
    return f"{size_bytes} bytes"

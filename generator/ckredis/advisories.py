"""Known vulnerabilities of Redis and Valkey server releases, so `validate` can warn when a spec pins an affected image.

A small, dated table reviewed by hand (see README, "Keeping images patched"). It covers the official Redis
and Valkey images (repository names `redis` and `valkey`); tags are read for their leading `MAJOR.MINOR.PATCH`.
Tags without a full version (`7.2-alpine`), digests and other images are not judged: no warning does not mean
"not affected". Redis and Valkey number their releases independently, so each entry names its product.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CHECKED_ON = "2026-12-05"
Version = tuple[int, int, int]

_TAG_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)(?![\d.])")


@dataclass(frozen=True)
class Advisory:
    id: str
    severity: str  # with the CVSS score where the source read on CHECKED_ON gave one; "?" marks a rating not re-read
    summary: str
    fixed: tuple[str, ...]  # the first fixed release of each release line that got a fix
    source: str
    introduced: str = "0.0.0"
    product: str = "redis"  # the repository name of the official image

    def affects(self, version: Version) -> bool:
        """Affected from `introduced` up to the fix of its release line; a line without a fix of its own is
        affected when it is older than the newest fixed line (it is out of support), unaffected when newer."""
        if version < parse(self.introduced):
            return False
        fixes = {fix[:2]: fix for fix in map(parse, self.fixed)}
        if version[:2] in fixes:
            return version < fixes[version[:2]]
        return version[:2] < max(fixes)


def parse(version: str) -> Version:
    major, minor, patch = version.split(".")
    return int(major), int(minor), int(patch)


_LUA_2025 = ("6.2.20", "7.2.11", "7.4.6", "8.0.4", "8.2.2")
# Valkey's own lines; 8.0.8 was revoked, 8.0.9 carries the May 2026 fixes.
_VALKEY_MAY_2026 = ("7.2.13", "8.0.9", "8.1.7", "9.0.4", "9.1.0")
_VALKEY_JULY_2026 = ("7.2.14", "8.0.10", "8.1.9", "9.0.5", "9.1.1")
_MAY_2026 = ("7.2.14", "7.4.9", "8.2.6", "8.4.3", "8.6.3")

ADVISORIES: tuple[Advisory, ...] = (
    Advisory(
        "CVE-2024-31449",
        "high?",
        "Lua bit library: stack overflow, potential remote code execution",
        ("6.2.16", "7.2.6", "7.4.1"),
        "https://github.com/redis/redis/releases/tag/7.2.6",
    ),
    Advisory(
        "CVE-2024-31227",
        "medium?",
        "malformed ACL selectors: denial of service",
        ("7.2.6", "7.4.1"),
        "https://github.com/redis/redis/releases/tag/7.2.6",
        introduced="7.0.0",
    ),
    Advisory(
        "CVE-2024-31228",
        "medium?",
        "unbounded pattern matching (KEYS, SCAN, PSUBSCRIBE, ...): denial of service",
        ("6.2.16", "7.2.6", "7.4.1"),
        "https://github.com/redis/redis/releases/tag/7.2.6",
    ),
    Advisory(
        "CVE-2024-46981",
        "high?",
        "Lua script commands manipulating the garbage collector: remote code execution",
        ("6.2.17", "7.2.7", "7.4.2"),
        "https://github.com/redis/redis/releases/tag/7.2.7",
    ),
    Advisory(
        "CVE-2024-51741",
        "medium?",
        "malformed ACL selectors: denial of service",
        ("7.2.7", "7.4.2"),
        "https://github.com/redis/redis/releases/tag/7.2.7",
        introduced="7.0.0",
    ),
    Advisory(
        "CVE-2025-21605",
        "high?",
        "unauthenticated clients grow output buffers without limit: denial of service",
        ("6.2.18", "7.2.8", "7.4.3"),
        "https://github.com/redis/redis/releases/tag/7.2.8",
    ),
    Advisory(
        "CVE-2025-27151",
        "low?",
        "redis-check-aof: stack overflow on a long file name",
        ("7.2.9", "7.4.4"),
        "https://github.com/redis/redis/releases/tag/7.2.9",
        introduced="7.0.0",
    ),
    Advisory(
        "CVE-2025-32023",
        "high?",
        "HyperLogLog commands: out-of-bounds write, potential remote code execution",
        ("6.2.19", "7.2.10", "7.4.5", "8.0.3"),
        "https://github.com/redis/redis/releases/tag/7.2.10",
    ),
    Advisory(
        "CVE-2025-48367",
        "high?",
        "unauthenticated connections causing repeated protocol errors: denial of service",
        ("6.2.19", "7.2.10", "7.4.5", "8.0.3"),
        "https://github.com/redis/redis/releases/tag/7.2.10",
    ),
    Advisory(
        "CVE-2025-49844",
        "CVSS 3.1 10.0 critical",
        "Lua garbage collector use-after-free: remote code execution",
        _LUA_2025,
        "https://github.com/redis/redis/releases/tag/7.2.11",
    ),
    Advisory(
        "CVE-2025-46817",
        "high?",
        "Lua unpack integer overflow: potential remote code execution",
        _LUA_2025,
        "https://github.com/redis/redis/releases/tag/7.2.11",
    ),
    Advisory(
        "CVE-2025-46818",
        "medium?",
        "Lua scripts can run in the context of another user",
        _LUA_2025,
        "https://github.com/redis/redis/releases/tag/7.2.11",
    ),
    Advisory(
        "CVE-2025-46819",
        "medium?",
        "Lua parser: out-of-bounds read, denial of service",
        _LUA_2025,
        "https://github.com/redis/redis/releases/tag/7.2.11",
    ),
    Advisory(
        "CVE-2026-23479",
        "CVSS 3.0 8.8 high",
        "unblock client flow use-after-free: potential remote code execution",
        _MAY_2026,
        "https://github.com/redis/redis/security/advisories/GHSA-93m2-935m-8rj3",
        introduced="7.2.0",
    ),
    Advisory(
        "CVE-2026-25243",
        "high?",
        "RESTORE: invalid memory access, potential remote code execution",
        _MAY_2026,
        "https://github.com/redis/redis/releases/tag/7.2.14",
        introduced="7.2.0",
    ),
    Advisory(
        "CVE-2026-23631",
        "CVSS 4.0 6.1 medium",
        "Lua use-after-free: potential remote code execution",
        _MAY_2026,
        "https://github.com/redis/redis/security/advisories/GHSA-8ghh-qpmp-7826",
        introduced="7.2.0",
    ),
    Advisory(
        "CVE-2026-81934",
        "CVSS 4.0 9.2 critical",
        "TLS pending-data use-after-free (only with TLS enabled, which ckredis never renders): remote code execution",
        ("6.2.24", "7.2.16", "7.4.11", "8.2.9", "8.4.6", "8.6.6", "8.8.2", "8.10.1"),
        "https://www.cve.org/CVERecord?id=CVE-2026-81934",
    ),
    Advisory(
        "CVE-2026-23479",
        "high?",
        "unblock client flow use-after-free: potential remote code execution",
        _VALKEY_MAY_2026,
        "https://github.com/valkey-io/valkey/releases/tag/9.0.4",
        product="valkey",
    ),
    Advisory(
        "CVE-2026-25243",
        "high?",
        "RESTORE: invalid memory access, potential remote code execution",
        _VALKEY_MAY_2026,
        "https://github.com/valkey-io/valkey/releases/tag/9.0.4",
        product="valkey",
    ),
    Advisory(
        "CVE-2026-23631",
        "medium?",
        "full sync during a yielding Lua/function call: use-after-free",
        _VALKEY_MAY_2026,
        "https://github.com/valkey-io/valkey/releases/tag/9.0.4",
        product="valkey",
    ),
    Advisory(
        "CVE-2026-21863",
        "high?",
        "malformed cluster-bus ping extension: out-of-bounds read, crash (only in cluster mode, "
        "which ckredis never renders)",
        ("7.2.12", "8.0.7", "8.1.6", "9.0.2"),
        "https://nvd.nist.gov/vuln/detail/CVE-2026-21863",
        product="valkey",
    ),
    Advisory(
        "CVE-2026-27623",
        "CVSS 3.1 7.5 high",
        "a request after an empty one trips an assertion: unauthenticated crash",
        ("9.0.3",),
        "https://nvd.nist.gov/vuln/detail/CVE-2026-27623",
        introduced="9.0.0",
        product="valkey",
    ),
    Advisory(
        "CVE-2026-56684",
        "high?",
        "TLS connection handling use-after-free through CLIENT KILL (only with TLS, "
        "which ckredis never renders): remote code execution",
        _VALKEY_JULY_2026,
        "https://github.com/valkey-io/valkey/releases/tag/9.1.1",
        product="valkey",
    ),
    Advisory(
        "CVE-2026-63639",
        "high?",
        "corrupt stream RDB with a NACK shared across consumers: remote code execution",
        _VALKEY_JULY_2026,
        "https://github.com/valkey-io/valkey/releases/tag/9.1.1",
        product="valkey",
    ),
)
PRODUCTS = ("redis", "valkey")


def _repository_and_tag(image: str) -> tuple[str, str]:
    name, _, _ = image.partition("@")
    repository, _, tag = name.rpartition(":")
    return ("", "") if not repository or "/" in tag else (repository.rsplit("/", 1)[-1], tag)


def product(image: str) -> str | None:
    """`redis` or `valkey` for an official image reference with a tag, else None."""
    repository, _ = _repository_and_tag(image)
    return repository if repository in PRODUCTS else None


def server_version(image: str) -> Version | None:
    """The release an official `redis` or `valkey` image reference pins, or None when it cannot be told."""
    repository, tag = _repository_and_tag(image)
    match = _TAG_VERSION.match(tag) if repository in PRODUCTS else None
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def affecting(image: str) -> list[Advisory]:
    """The advisories of the table that apply to the release an image pins (none if it cannot be told)."""
    version = server_version(image)
    return (
        []
        if version is None
        else [advisory for advisory in ADVISORIES if advisory.product == product(image) and advisory.affects(version)]
    )

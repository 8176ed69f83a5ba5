"""DNS behind one small interface: TXT records, as dkimpy (DKIM keys) and the DMARC check ask
for them, and the MX, TXT and address records `mailhub doctor` reads. The system's resolver,
or one server named by MAILHUB_DNS_SERVER (host:port: an operator's validating resolver, or
the local zone a test serves).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import dns.exception
import dns.resolver

DnsTxt = Callable[..., bytes | None]  # dkimpy's dnsfunc: (name: bytes, timeout=…) -> TXT or None

# Top-level names that are never delegated (RFC 2606, RFC 6761): nothing to ask anyone.
RESERVED = frozenset({"example", "test", "invalid", "localhost", "local"})


@cache
def _resolver(server: str = "", timeout: float = 5.0) -> dns.resolver.Resolver:
    """One per server, made once: the system's resolver reads its configuration when it is
    made, not for every message whose sender's DMARC policy is asked for."""
    resolver = dns.resolver.Resolver(configure=not server)
    if server:
        host, _, port = server.rpartition(":")
        resolver.nameservers = [host]
        resolver.port = int(port)
    resolver.lifetime = timeout
    return resolver


def _reserved(name: str) -> bool:
    return name.rstrip(".").rpartition(".")[2].lower() in RESERVED


class Lookups:
    """The records of a name, each lookup a list (empty when there are none, the name does
    not exist or the server does not answer in time)."""

    def __init__(self, server: str = "", timeout: float = 5.0) -> None:
        self._resolver = _resolver(server, timeout)
        self.timeout = timeout

    def _answer(self, name: str, kind: str) -> list[object]:
        if _reserved(name):
            return []
        try:
            return list(self._resolver.resolve(name, kind, lifetime=self.timeout))
        except dns.exception.DNSException:
            return []

    def txt(self, name: str) -> list[str]:
        """Every TXT record, its strings joined (as SPF, DKIM and DMARC read them)."""
        return [
            b"".join(r.strings).decode("utf-8", "replace")  # type: ignore[attr-defined]
            for r in self._answer(name, "TXT")
        ]

    def mx(self, name: str) -> list[tuple[int, str]]:
        """(preference, host) of each MX record, most preferred first; hosts lower-cased
        without the final dot."""
        found = [
            (int(r.preference), str(r.exchange).rstrip(".").lower())  # type: ignore[attr-defined]
            for r in self._answer(name, "MX")
        ]
        return sorted(found)

    def addresses(self, name: str) -> set[str]:
        """The IPv4 and IPv6 addresses of a host."""
        return {str(r) for kind in ("A", "AAAA") for r in self._answer(name, kind)}


@cache
def txt_lookup(server: str = "", timeout: float = 5.0) -> DnsTxt:
    """A TXT lookup: the first record's strings joined, or None when there is none."""
    resolver = _resolver(server, timeout)

    def lookup(name: bytes | str, timeout: float = timeout, **_: object) -> bytes | None:
        text = name.decode() if isinstance(name, bytes) else name
        if _reserved(text):
            return None
        try:
            answer = resolver.resolve(text, "TXT", lifetime=timeout)
        except dns.exception.DNSException:
            return None
        for record in answer:
            return b"".join(record.strings)
        return None

    return lookup

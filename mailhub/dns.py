"""DNS behind one small interface: TXT records, as dkimpy (DKIM keys) and the DMARC check ask
for them. The system's resolver, or one server named by MAILHUB_DNS_SERVER (host:port: an
operator's validating resolver, or the local zone a test serves).
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
def txt_lookup(server: str = "", timeout: float = 5.0) -> DnsTxt:
    """A TXT lookup: the first record's strings joined, or None when there is none. One per
    server, made once: the system's resolver reads its configuration when it is made, not for
    every message whose sender's DMARC policy is asked for."""
    resolver = dns.resolver.Resolver(configure=not server)
    if server:
        host, _, port = server.rpartition(":")
        resolver.nameservers = [host]
        resolver.port = int(port)
    resolver.lifetime = timeout

    def lookup(name: bytes | str, timeout: float = timeout, **_: object) -> bytes | None:
        text = name.decode() if isinstance(name, bytes) else name
        if text.rstrip(".").rpartition(".")[2].lower() in RESERVED:
            return None
        try:
            answer = resolver.resolve(text, "TXT", lifetime=timeout)
        except dns.exception.DNSException:
            return None
        for record in answer:
            return b"".join(record.strings)
        return None

    return lookup

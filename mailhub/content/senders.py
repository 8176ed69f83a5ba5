"""Is the sender who the From header says? Trusted Authentication-Results, else DKIM.

The From header is trivially forged, so a mail that fails authentication never publishes
straight away; it waits for a moderator. Verdicts are taken from Authentication-Results
(RFC 8601) only when the header's authserv-id is one the operator trusts (their own border
MTA), since anyone can write such a header. Without one, DKIM signatures (RFC 6376) are
verified with dkimpy; DNS lookups go through a function passed in, so tests run offline.
A signature counts only when its d= domain is aligned with the From domain (RFC 7489 §3.1.1).

Mail with nothing to go by is judged by the From domain's own DMARC policy (RFC 7489 §6.3):
a domain that publishes p=quarantine or p=reject says its mail is always authenticated, so
unauthenticated mail in its name is treated as forged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser

import dkim

from mailhub.dns import DnsTxt, txt_lookup

_HEADERS = BytesHeaderParser(policy=policy.compat32)
_RESULT = re.compile(r"\b(dmarc|dkim|spf)\s*=\s*(\w+)", re.IGNORECASE)
_PROPERTY = re.compile(
    r"\b(header\.from|header\.d|header\.i|smtp\.mailfrom)\s*=\s*([^\s;]+)", re.IGNORECASE
)
MAX_DKIM_BYTES = 25 * 1024 * 1024  # verifying hashes the whole body in memory


@dataclass(frozen=True)
class Verdict:
    result: str  # "pass", "fail" or "none" (nothing to go by)
    detail: str


def dmarc_policy(from_domain: str, dnsfunc: DnsTxt | None = None) -> str | None:
    """The DMARC policy the From domain publishes ("none", "quarantine", "reject"), or None
    without a record. Looked up at the domain, then at its parents up to the last two labels
    (the organizational domain, whose sp= applies to its subdomains)."""
    lookup = dnsfunc or txt_lookup()
    labels = from_domain.lower().strip(".").split(".")
    for start in range(0, max(1, len(labels) - 1)):
        record = lookup(("_dmarc." + ".".join(labels[start:])).encode())
        if not record:
            continue
        text = record.decode("utf-8", "replace")
        tags = dict(
            (k.strip().lower(), v.strip().lower())
            for k, _, v in (part.partition("=") for part in text.split(";"))
        )
        if tags.get("v") != "dmarc1":
            continue
        policy = tags.get("sp", tags.get("p")) if start > 0 else tags.get("p")
        return policy if policy in ("none", "quarantine", "reject") else "none"
    return None


def aligned(domain: str, from_domain: str) -> bool:
    domain, from_domain = domain.lower().strip("."), from_domain.lower().strip(".")
    return from_domain == domain or from_domain.endswith("." + domain)


def authenticate(
    raw: bytes, from_domain: str, trusted_authserv_ids: Sequence[str], dnsfunc: DnsTxt | None = None
) -> Verdict:
    headers = _HEADERS.parsebytes(raw[:262144])
    trusted = {t.strip().lower() for t in trusted_authserv_ids if t.strip()}
    for value in headers.get_all("Authentication-Results", []):
        authserv_id = (
            str(value).split(";", 1)[0].strip().split()[0].lower() if str(value).strip() else ""
        )
        if authserv_id in trusted:
            return _from_results(str(value), from_domain, authserv_id)
    return _from_dkim(raw, from_domain, dnsfunc)


def _from_results(value: str, from_domain: str, authserv_id: str) -> Verdict:
    passes, fails = [], []
    for clause in value.split(";")[1:]:
        m = _RESULT.search(clause)
        if m is None:
            continue
        method, result = m.group(1).lower(), m.group(2).lower()
        props = {k.lower(): v.strip("<>").split("@")[-1] for k, v in _PROPERTY.findall(clause)}
        domain = props.get("header.from") or props.get("header.d") or props.get("smtp.mailfrom", "")
        if result == "pass" and (method == "dmarc" or aligned(domain, from_domain)):
            passes.append(method)
        elif result in ("fail", "permerror") and method in ("dmarc", "dkim"):
            fails.append(method)
    where = f"Authentication-Results of {authserv_id}"
    if "dmarc" in fails:
        return Verdict("fail", f"DMARC failed ({where})")
    if passes:
        return Verdict("pass", f"{passes[0]}=pass ({where})")
    if fails:
        return Verdict("fail", f"{fails[0]} failed ({where})")
    return Verdict("none", f"no aligned result ({where})")


def _from_dkim(raw: bytes, from_domain: str, dnsfunc: DnsTxt | None) -> Verdict:
    if len(raw) > MAX_DKIM_BYTES:
        return Verdict("none", "too large to verify DKIM")
    signatures = [
        v for k, v in _HEADERS.parsebytes(raw[:262144]).items() if k.lower() == "dkim-signature"
    ]
    if not signatures:
        return Verdict("none", "no DKIM signature and no trusted Authentication-Results")
    checker = dkim.DKIM(raw)
    failed = []
    for index, sig in enumerate(signatures):
        domain = _tag(sig, "d")
        try:
            ok = (
                checker.verify(idx=index, dnsfunc=dnsfunc) if dnsfunc else checker.verify(idx=index)
            )
        except Exception as exc:  # noqa: BLE001 - dkimpy raises many kinds on bad signatures
            ok, domain = False, f"{domain} ({type(exc).__name__})"
        if ok and aligned(domain, from_domain):
            return Verdict("pass", f"DKIM signature of {domain} verified")
        failed.append(domain)
    return Verdict(
        "fail", f"no valid DKIM signature aligned with {from_domain} (checked {', '.join(failed)})"
    )


def _tag(signature: str, name: str) -> str:
    m = re.search(
        rf"(?:^|;)\s*{name}\s*=\s*([^;\s]+)", str(signature).replace("\r\n", "").replace("\n", "")
    )
    return m.group(1) if m else ""

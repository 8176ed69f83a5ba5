"""`mailhub doctor`: each tenant's domain as the mail world sees it, one line per finding
with what to fix. DNS is read through mailhub.dns, as sender authentication reads it.

- MX: mail to the spaces must reach mailhub's SMTP (MAILHUB_MX_HOST, else the base URL's
  host), by name or by address, as the most preferred exchange.
- SPF: one record, ending in -all or ~all (RFC 7208: two records are an error for receivers).
- DKIM: mail from notifications@DOMAIN is signed, and SELECTOR._domainkey.DOMAIN publishes
  the public half of the very key mailhub signs with.
- DMARC: a record at _dmarc.DOMAIN (mailbox providers ask bulk senders for one).
- HTTPS: links, secure cookies and one-click actions need an https base URL.
- Gmail: action buttons show on DKIM-signed mail from the sender's domain whose markup is
  valid (checked here against schema/markup), from a sender registered with Google.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from functools import cache
from typing import Literal
from urllib.parse import urlsplit

import jsonschema

from mailhub import SCHEMA_DIR
from mailhub.dns import RESERVED, Lookups
from mailhub.i18n import N_
from mailhub.outbound.actions import confirm_action, view_action
from mailhub.outbound.signing import DkimSigner
from mailhub.routing import NOTIFICATIONS

Level = Literal["ok", "warn", "fix"]
_MARKUP = SCHEMA_DIR / "markup" / "email-message.schema.json"


@dataclass(frozen=True)
class Finding:
    """One line: what was found, and what to do about it. `template` is an English text of
    the catalogs (the admin page translates it), filled with `params`."""

    check: str  # DNS, MX, SPF, DKIM, DMARC, HTTPS, Gmail
    level: Level
    template: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.template.format(**self.params)

    def as_json(self) -> dict[str, str]:
        return {"check": self.check, "level": self.level, "text": self.text}


@dataclass(frozen=True)
class MailSetup:
    base_url: str
    mx_host: str  # the host name other servers deliver mailhub's mail to
    signer: DkimSigner | None
    selector: str
    relay: str  # the relay mail leaves through, host:port; "" for none


def check_domain(lookups: Lookups, setup: MailSetup, slug: str, domain: str) -> list[Finding]:
    domain = domain.lower()
    if domain.rpartition(".")[2] in RESERVED:
        note = Finding(
            "DNS",
            "warn",
            N_(
                "{domain} is a name reserved for examples and tests: there is no DNS to check, "
                "and no mail from outside reaches it"
            ),
            {"domain": domain},
        )
        signing = _signing(setup, domain, _our_key(setup, domain))
        return [note, signing, _https(setup), _gmail(setup, slug, domain, signing)]
    dkim = _dkim(lookups, setup, domain)
    findings = [
        _mx(lookups, setup, domain),
        _spf(lookups, setup, domain),
        dkim,
        _dmarc(lookups, domain),
        _https(setup),
    ]
    return [*findings, _gmail(setup, slug, domain, dkim)]


def _mx(lookups: Lookups, setup: MailSetup, domain: str) -> Finding:
    host = (setup.mx_host or urlsplit(setup.base_url).hostname or "").lower().rstrip(".")
    if _is_address(host):  # an MX names a host, never an address (RFC 5321 §5.1)
        host = ""
    records = lookups.mx(domain)
    if not records:
        if not host:
            return Finding(
                "MX",
                "fix",
                N_(
                    "{domain} has no MX record: publish {domain}. MX 10 and this server's host "
                    "name, and set MAILHUB_MX_HOST to it"
                ),
                {"domain": domain},
            )
        return Finding(
            "MX",
            "fix",
            N_("{domain} has no MX record: publish {domain}. MX 10 {host}."),
            {"domain": domain, "host": host},
        )
    ours = lookups.addresses(host) if host else set()

    def reaches_us(exchange: str) -> bool:
        return exchange == host or bool(ours and ours & lookups.addresses(exchange))

    best = records[0][0]
    preferred = [x for pref, x in records if pref == best]
    if any(reaches_us(x) for x in preferred):
        return Finding(
            "MX",
            "ok",
            N_("MX {preference} {exchange} reaches mailhub ({host})"),
            {"preference": str(best), "exchange": preferred[0], "host": host},
        )
    if any(reaches_us(x) for _, x in records):
        return Finding(
            "MX",
            "warn",
            N_(
                "mail goes first to {exchange} (MX {preference}), mailhub's {host} only after "
                "it: fine if that server passes the spaces' mail on, else give mailhub the "
                "lowest number"
            ),
            {"exchange": preferred[0], "preference": str(best), "host": host},
        )
    return Finding(
        "MX",
        "fix",
        N_(
            "MX points at {listed}, not at mailhub ({host}): mail to the spaces goes there, so "
            "that server must pass it on, or point MX at mailhub"
        ),
        {"listed": ", ".join(x for _, x in records), "host": host or "MAILHUB_MX_HOST?"},
    )


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _spf(lookups: Lookups, setup: MailSetup, domain: str) -> Finding:
    records = [t for t in lookups.txt(domain) if t.lower().startswith("v=spf1")]
    relay = setup.relay.rpartition(":")[0] if setup.relay else ""
    suggestion = f'"v=spf1 mx{f" a:{relay}" if relay else ""} -all"'
    if not records:
        return Finding(
            "SPF",
            "fix",
            N_("{domain} has no SPF record: publish TXT {record}"),
            {"domain": domain, "record": suggestion},
        )
    if len(records) > 1:
        return Finding(
            "SPF",
            "fix",
            N_(
                "{domain} has {count} SPF records, which receivers treat as an error: merge "
                "them into one"
            ),
            {"domain": domain, "count": str(len(records))},
        )
    record = records[0].strip()
    ending = record.rsplit(" ", 1)[-1].lower()
    if ending in ("+all", "all"):
        return Finding(
            "SPF",
            "fix",
            N_("SPF ends in {ending}, which lets anyone send as {domain}"),
            {"ending": ending, "domain": domain},
        )
    if ending not in ("-all", "~all"):
        return Finding(
            "SPF", "warn", N_("SPF “{record}” ends without -all or ~all"), {"record": record}
        )
    return Finding("SPF", "ok", N_("SPF “{record}”"), {"record": record})


def _tags(record: str) -> dict[str, str]:
    tags = {}
    for part in record.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            tags[name.strip().lower()] = "".join(value.split())
    return tags


def _our_key(setup: MailSetup, domain: str) -> str | None:
    """The public key mail from `domain` is signed with (base64), or None: unsigned."""
    return setup.signer.public_key(domain) if setup.signer is not None else None


def _signing(setup: MailSetup, domain: str, ours: str | None) -> Finding:
    """Whether mail from the domain is signed at all (the part of DKIM DNS is not needed for)."""
    if ours is None:
        return Finding(
            "DKIM",
            "fix",
            N_("mail from {sender} goes out unsigned: put a private key at {path}"),
            {"sender": f"{NOTIFICATIONS}@{domain}", "path": f"MAILHUB_DKIM_KEY_DIR/{domain}.pem"},
        )
    return Finding(
        "DKIM", "ok", N_("mail from {sender} is signed"), {"sender": f"{NOTIFICATIONS}@{domain}"}
    )


def _dkim(lookups: Lookups, setup: MailSetup, domain: str) -> Finding:
    ours = _our_key(setup, domain)
    if ours is None:
        return _signing(setup, domain, ours)
    name = f"{setup.selector}._domainkey.{domain}"
    where = {"name": name, "record": f'"v=DKIM1; k=rsa; p={ours}"'}
    published = [_tags(t) for t in lookups.txt(name)]
    keys = [t.get("p", "") for t in published if "p" in t]
    if not keys:
        return Finding("DKIM", "fix", N_("no DKIM key at {name}: publish TXT {record}"), where)
    if ours not in keys:
        return Finding(
            "DKIM",
            "fix",
            N_("the key at {name} is not the one mailhub signs with: publish TXT {record}"),
            where,
        )
    return Finding(
        "DKIM", "ok", N_("mail is signed with the key published at {name}"), {"name": name}
    )


def _dmarc(lookups: Lookups, domain: str) -> Finding:
    name = f"_dmarc.{domain}"
    records = [_tags(t) for t in lookups.txt(name) if t.upper().startswith("V=DMARC1")]
    if not records:
        return Finding(
            "DMARC",
            "fix",
            N_("no DMARC record: publish TXT at {name}: {record}"),
            {"name": name, "record": f'"v=DMARC1; p=none; rua=mailto:postmaster@{domain}"'},
        )
    policy = records[0].get("p", "none")
    return Finding(
        "DMARC", "ok", N_("DMARC policy p={policy} at {name}"), {"policy": policy, "name": name}
    )


def _https(setup: MailSetup) -> Finding:
    if setup.base_url.startswith("https://"):
        return Finding(
            "HTTPS", "ok", N_("pages and links are served at {url}"), {"url": setup.base_url}
        )
    return Finding(
        "HTTPS",
        "fix",
        N_(
            "MAILHUB_BASE_URL is {url}: links in mail, secure cookies and one-click actions "
            "need https"
        ),
        {"url": setup.base_url},
    )


@cache
def _markup_validator() -> jsonschema.Draft202012Validator:
    """schema/markup's validator, read once per process."""
    return jsonschema.Draft202012Validator(json.loads(_MARKUP.read_text()))


def _gmail(setup: MailSetup, slug: str, domain: str, dkim: Finding) -> Finding:
    base = f"{setup.base_url.rstrip('/')}/t/{slug}"
    samples = [
        view_action(f"{base}/pages/1", "View page", "A page changed", slug, setup.base_url),
        confirm_action(f"{base}/actions/TOKEN/gmail", "Unfollow", "Stop mail about this page"),
    ]
    https = setup.base_url.startswith("https://")
    validator = _markup_validator()
    wrong = [
        f"{sample['potentialAction']['@type']} markup: {error.message}"
        for sample in samples[: 2 if https else 1]  # without https, one-click is said below
        if (error := jsonschema.exceptions.best_match(validator.iter_errors(sample)))
    ]
    if dkim.level != "ok" or not https or wrong:
        missing = (
            (["DKIM-signed mail"] if dkim.level != "ok" else [])
            + ([] if https else ["an https base URL for one-click buttons"])
            + wrong
        )
        return Finding(
            "Gmail",
            "fix",
            N_("no action buttons in Gmail until this is fixed: {missing}"),
            {"missing": "; ".join(missing)},
        )
    return Finding(
        "Gmail",
        "ok",
        N_(
            "signed mail from {sender} with valid action markup; Gmail shows the buttons once "
            "Google has registered this sender"
        ),
        {"sender": f"{NOTIFICATIONS}@{domain}"},
    )

"""`mailhub doctor` reads each tenant's domain from DNS as the mail world would and says, one
line per finding, what to fix. DNS is real: a local server the test starts serves the zones,
asked through mailhub's ordinary resolver path (MAILHUB_DNS_SERVER)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from dnslib import AAAA, MX, QTYPE, TXT, A

from conftest import dns_zone
from helpers import MAILHUB, dkim_test_key

GOOD = dkim_test_key("mh1", "goodcorp.org")
OTHER = dkim_test_key("mh1", "badcorp.org")  # published for badcorp, but not its key


def _zone() -> dict[tuple[str, int], list[object]]:  # goodcorp right, badcorp wrong
    [(good_name, good_key)] = GOOD.records.items()
    return {
        ("goodcorp.org.", QTYPE.MX): [MX("mx.goodcorp.org.", 10), MX("backup.example.net.", 20)],
        ("goodcorp.org.", QTYPE.TXT): [TXT("v=spf1 mx a:relay.goodcorp.org -all"), TXT("x=1")],
        (good_name.decode(), QTYPE.TXT): [_txt(good_key.decode())],
        ("_dmarc.goodcorp.org.", QTYPE.TXT): [TXT("v=DMARC1; p=quarantine")],
        ("mx.goodcorp.org.", QTYPE.A): [A("192.0.2.10")],
        ("intranet.goodcorp.org.", QTYPE.A): [A("192.0.2.10")],
        ("intranet.goodcorp.org.", QTYPE.AAAA): [AAAA("2001:db8::10")],
        ("badcorp.org.", QTYPE.MX): [MX("mail.elsewhere.net.", 5)],
        ("badcorp.org.", QTYPE.TXT): [TXT("v=spf1 mx -all"), TXT("v=spf1 +all")],
        ("mh1._domainkey.badcorp.org.", QTYPE.TXT): [_txt(good_key.decode())],
        ("mail.elsewhere.net.", QTYPE.A): [A("198.51.100.7")],
    }


def _txt(value: str) -> TXT:
    """A TXT record as DNS holds a long one: strings of at most 255 bytes, joined by readers."""
    return TXT([value[i : i + 255] for i in range(0, len(value), 255)])


@pytest.fixture
def dns_server() -> Iterator[str]:
    with dns_zone(_zone()) as server:
        yield server


def _env(tmp_path: Path, dns_server: str, base_url: str) -> dict[str, str]:
    keys = tmp_path / "dkim"
    keys.mkdir(exist_ok=True)
    (keys / "goodcorp.org.pem").write_bytes(GOOD.pem)
    (keys / "badcorp.org.pem").write_bytes(OTHER.pem)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILHUB_")}
    env.update(
        {
            "MAILHUB_DATA_DIR": str(tmp_path / "var"),
            "MAILHUB_DNS_SERVER": dns_server,
            "MAILHUB_DKIM_KEY_DIR": str(keys),
            "MAILHUB_DKIM_SELECTOR": "mh1",
            "MAILHUB_BASE_URL": base_url,
            "MAILHUB_SECRET_KEY": "doctor-test-secret-0123456789abcdef",
        }
    )
    return env


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MAILHUB, *args], capture_output=True, text=True, env=env, timeout=60)


def test_a_domain_set_up_right_and_one_set_up_wrong(tmp_path: Path, dns_server: str) -> None:
    env = _env(tmp_path, dns_server, "https://intranet.goodcorp.org")
    for args in (
        ("migrate",),
        ("tenant", "add", "good", "--domain", "goodcorp.org"),
        ("tenant", "add", "bad", "--domain", "badcorp.org"),
    ):
        assert _run(env, *args).returncode == 0
    good = _run(env, "doctor", "good")
    assert good.returncode == 0, good.stdout + good.stderr
    lines = good.stdout.splitlines()
    assert [line.split()[1:3] for line in lines] == [
        ["ok", "MX"],
        ["ok", "SPF"],
        ["ok", "DKIM"],
        ["ok", "DMARC"],
        ["ok", "HTTPS"],
        ["ok", "Gmail"],
    ], good.stdout
    assert "MX 10 mx.goodcorp.org reaches mailhub (intranet.goodcorp.org)" in good.stdout
    assert "p=quarantine" in good.stdout

    bad = _run(env, "doctor", "bad", "--json")
    assert bad.returncode == 1
    found = {f["check"]: (f["level"], f["text"]) for f in json.loads(bad.stdout)["bad"]}
    assert found["MX"][0] == "fix" and "mail.elsewhere.net" in found["MX"][1]
    assert found["SPF"] == (
        "fix",
        "badcorp.org has 2 SPF records, which receivers treat as an error: merge them into one",
    )
    assert found["DKIM"][0] == "fix" and "not the one mailhub signs with" in found["DKIM"][1]
    [(_, wanted)] = OTHER.records.items()
    assert wanted.decode() in found["DKIM"][1]  # the exact record to publish
    assert found["DMARC"][0] == "fix" and "_dmarc.badcorp.org" in found["DMARC"][1]
    assert found["Gmail"][0] == "fix" and "DKIM-signed mail" in found["Gmail"][1]
    assert found["HTTPS"][0] == "ok"
    # Every finding is one line
    assert all("\n" not in text for _, text in found.values())


def test_http_and_an_mx_host_that_is_only_the_backup(tmp_path: Path, dns_server: str) -> None:
    env = _env(tmp_path, dns_server, "http://intranet.goodcorp.org")
    env["MAILHUB_MX_HOST"] = "backup.example.net"
    _run(env, "migrate")
    _run(env, "tenant", "add", "good", "--domain", "goodcorp.org")
    out = _run(env, "doctor").stdout
    assert "warn  MX     mail goes first to mx.goodcorp.org (MX 10)" in out, out
    assert "fix   HTTPS  MAILHUB_BASE_URL is http://intranet.goodcorp.org" in out
    assert "an https base URL for one-click buttons" in out


def test_the_admin_page_shows_the_same_findings(tmp_path: Path, dns_server: str) -> None:
    from fastapi.testclient import TestClient

    from mailhub.db import make_engine, migrate, unit_of_work
    from mailhub.dns import Lookups
    from mailhub.domain import directory
    from mailhub.domain.search import session_factory
    from mailhub.outbound.doctor import MailSetup, check_domain
    from mailhub.outbound.signing import DkimSigner
    from mailhub.stores.files import FileStore
    from mailhub.web.app import create_app

    from helpers import sign_in

    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    migrate(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    with unit_of_work(sessions) as s:
        t = directory.add_tenant(s, "bad", "badcorp.org", "Bad Corp")
        directory.add_user(s, t, "ann@badcorp.org", "Ann", admin=True)
        directory.add_user(s, t, "bob@badcorp.org", "Bob")
    setup = MailSetup(
        "https://intranet.badcorp.org",
        "",
        DkimSigner({"badcorp.org": OTHER.pem}, "mh1"),
        "mh1",
        "",
    )
    doctor = partial(check_domain, Lookups(dns_server), setup)
    web = TestClient(create_app(sessions, FileStore(tmp_path / "files"), doctor=doctor))
    sign_in(web, sessions, "bad", "bob@badcorp.org")
    assert web.get("/t/bad/admin/doctor").status_code == 404  # administrators only
    web = TestClient(create_app(sessions, FileStore(tmp_path / "files"), doctor=doctor))
    sign_in(web, sessions, "bad", "ann@badcorp.org")
    assert 'href="/t/bad/admin/doctor"' in web.get("/t/bad/admin").text
    page = web.get("/t/bad/admin/doctor").text
    assert "Mail setup of badcorp.org" in page
    assert "badcorp.org has 2 SPF records" in page and "needs fixing" in page
    assert "not the one mailhub signs with" in page
    # In the administrator's language, findings included
    german = web.get("/t/bad/admin/doctor", headers={"Accept-Language": "de"}).text
    assert "E-Mail-Einrichtung von badcorp.org" in german and "muss behoben werden" in german
    assert "badcorp.org hat 2 SPF-Einträge" in german
    engine.dispose()

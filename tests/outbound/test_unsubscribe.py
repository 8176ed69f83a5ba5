"""Acting from the inbox over real SMTP: List-Unsubscribe (RFC 8058 one-click POST and mailto),
the unfollow button and Gmail's ConfirmAction with Google's bearer, tokens that are single use,
bound to their tenant and expiring, and GETs that never change anything."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import extruct
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from mailhub.db import unit_of_work
from mailhub.domain import directory, preferences
from mailhub.models import ActionToken, Subscription, User, utcnow
from mailhub.tasks import Runtime
from mailhub.web.app import create_app
from mailhub.web.gmail import GMAIL_AZP, GoogleBearer

from conftest import free_port, relayed_runtime, wait_until
from helpers import fixture, settled, smtp_send
from smtp_sink import SmtpSink

GOOGLE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _bob_levels(rt: Runtime) -> dict[str, str | None]:
    with rt.sessions() as s:
        bob = s.scalars(select(User).where(User.email == "bob@acme.example")).one()
        return {
            f"{sub.subject_kind}:{sub.subject_id}": sub.level
            for sub in s.scalars(select(Subscription).where(Subscription.user_id == bob.id))
        }


def _post_page(rt: Runtime, port: int, sink: SmtpSink, subject: str) -> EmailMessage | None:
    """Ann mails a page; return Bob's notification, or None when he got none."""
    before = len(sink.received)
    raw = fixture("page_plain.eml").replace(b"Q3 pipeline review", subject.encode())
    raw = raw.replace(b"<CAF8k2xQ-q3review-1@", f"<{subject.replace(' ', '-')}@".encode())
    smtp_send(port, "ann@acme.example", ["sales@acme.example"], raw)
    wait_until(lambda: settled(rt))
    mails = [r.message for r in sink.received[before:] if "bob@acme.example" in r.rcpt_tos]
    return mails[0] if mails else None


def _html(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def _links(msg: EmailMessage) -> tuple[str, str, str]:
    """(https unsubscribe, mailto unsubscribe, unfollow button) of a notification."""
    https, mailto = re.findall(r"<([^>]+)>", str(msg["List-Unsubscribe"]))
    unfollow = re.search(r'href="([^"]+/actions/[^"]+)"', _html(msg))
    assert unfollow is not None
    return https, mailto, unfollow.group(1)


def _path(url: str) -> str:
    """The path of an absolute URL, for the test client."""
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


@pytest.fixture
def acme_relayed(tmp_path: Path) -> Iterator[tuple[Runtime, SmtpSink, int]]:
    with relayed_runtime(tmp_path) as (rt, sink, server):
        yield rt, sink, server.port


def test_one_click_unsubscribe_stops_exactly_that_subject(
    acme_relayed: tuple[Runtime, SmtpSink, int],
) -> None:
    rt, sink, port = acme_relayed
    # Given Bob's notification about a new page in Sales
    mail = _post_page(rt, port, sink, "First")
    assert mail is not None
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto, _ = _links(mail)
    assert https.startswith("https://intranet.acme.example/t/acme/unsubscribe/")
    assert mailto.startswith("mailto:unsubscribe+") and "@acme.example?subject=" in mailto
    # The footer says why and links to exactly this setting
    text = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "because you watch the Sales space" in text and https in text
    client = TestClient(create_app(rt.sessions, rt.files))
    before = _bob_levels(rt)

    # When a scanner or a person GETs the link, it only shows the choices
    page = client.get(_path(https))
    assert page.status_code == 200 and "Unsubscribe from the Sales space" in page.text
    assert "daily digest" in page.text and "not mandatory" in page.text
    assert _bob_levels(rt) == before

    # When the mail client POSTs RFC 8058's one-click body, with no cookies at all
    client.cookies.clear()
    done = client.post(_path(https), data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "unsubscribed from the Sales space" in done.text
    assert set(_bob_levels(rt).values()) == {"muted"}
    # Doing it again is harmless (clients retry)
    assert client.post(_path(https), data={"List-Unsubscribe": "One-Click"}).status_code == 200

    # Then the next page in Sales reaches Bob no more
    assert _post_page(rt, port, sink, "Second") is None


def test_mailto_unsubscribe_and_lower_frequency(
    acme_relayed: tuple[Runtime, SmtpSink, int],
) -> None:
    rt, sink, port = acme_relayed
    mail = _post_page(rt, port, sink, "First")
    assert mail is not None
    https, mailto, _ = _links(mail)
    client = TestClient(create_app(rt.sessions, rt.files))
    # The page's own form can ask for a weekly digest instead
    assert "weekly digest" in client.post(_path(https), data={"choice": "weekly"}).text
    with rt.sessions() as s:
        sub = s.scalars(select(Subscription)).one()
        assert (sub.level, sub.frequency) == ("watching", "weekly")
    # And mail to the mailto address (what Gmail sends when it has no https) unsubscribes
    address = mailto.removeprefix("mailto:").split("?")[0]
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "bob@acme.example", address, "unsubscribe"
    msg.set_content("This message was automatically generated by Gmail.")
    smtp_send(port, "bob@acme.example", [address], msg.as_bytes())
    wait_until(lambda: "muted" in _bob_levels(rt).values())


class _Jwks(BaseHTTPRequestHandler):
    body = b""
    hits = 0

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def google_certs() -> Iterator[str]:
    """Google's JWK set endpoint, played by a local server with a locally generated key."""
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(GOOGLE_KEY.public_key(), as_dict=True)
    _Jwks.body = json.dumps({"keys": [jwk | {"kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()
    server = HTTPServer(("127.0.0.1", free_port()), _Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/oauth2/v3/certs"
    finally:
        server.shutdown()


def _bearer(
    aud: str = "https://acme.example", azp: str = GMAIL_AZP, key: Any = None
) -> dict[str, str]:
    now = int(time.time())
    claims = {
        "iss": "https://accounts.google.com",
        "aud": aud,
        "azp": azp,
        "iat": now,
        "exp": now + 300,
    }
    token = jwt.encode(claims, key or GOOGLE_KEY, algorithm="RS256", headers={"kid": "k1"})
    return {"Authorization": f"Bearer {token}"}


def test_unfollow_by_gmail_confirm_action_with_google_bearer(
    acme_relayed: tuple[Runtime, SmtpSink, int], google_certs: str
) -> None:
    rt, sink, port = acme_relayed
    mail = _post_page(rt, port, sink, "First")
    assert mail is not None
    _, _, button = _links(mail)
    markup = extruct.extract(_html(mail), syntaxes=["json-ld"], uniform=False)["json-ld"]
    handler = next(
        m["potentialAction"]["handler"]["url"] for m in markup if "handler" in m["potentialAction"]
    )
    assert handler == f"{button}/gmail"
    client = TestClient(create_app(rt.sessions, rt.files, GoogleBearer(google_certs)))
    before = _bob_levels(rt)

    # GET on the button and on the handler shows a confirm page and changes nothing
    for url in (button, handler):
        shown = client.get(_path(url))
        assert shown.status_code == 200 and "Confirm" in shown.text
    assert _bob_levels(rt) == before

    # A POST without Google's bearer, for another audience, or not issued to Gmail is a 401
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for headers in (
        {},
        {"Authorization": "Basic Ym9iOnNlY3JldA=="},
        _bearer(aud="https://globex.example"),
        _bearer(azp="someone@example.iam.gserviceaccount.com"),
        _bearer(key=other_key),
    ):
        assert client.post(_path(handler), headers=headers).status_code == 401
    assert _bob_levels(rt) == before

    # With a valid bearer, Bob stops hearing about this page (and only this page)
    ok = client.post(_path(handler), headers=_bearer())
    assert ok.status_code == 200 and "no longer get mail about the page" in ok.text
    levels = _bob_levels(rt)
    assert [v for k, v in levels.items() if k.startswith("page:")] == ["muted"]
    assert [v for k, v in levels.items() if k.startswith("space:")] == ["watching"]
    assert _Jwks.hits >= 1

    # A replayed token is refused, by Gmail's route and by the button alike
    replay = client.post(_path(handler), headers=_bearer())
    assert replay.status_code == 400 and "already used" in replay.text
    assert "already used" in client.post(_path(button)).text
    assert "already used" in client.get(_path(button)).text


def test_tokens_are_bound_to_their_tenant_expire_and_respect_mandatory_mail(
    acme_relayed: tuple[Runtime, SmtpSink, int],
) -> None:
    rt, sink, port = acme_relayed
    with unit_of_work(rt.sessions) as s:
        directory.add_tenant(s, "globex", "globex.example", "Globex")
    mail = _post_page(rt, port, sink, "First")
    assert mail is not None
    https, _, button = _links(mail)
    client = TestClient(create_app(rt.sessions, rt.files))
    before = _bob_levels(rt)

    # Acme's token under Globex's address is no token at all
    for url in (https, button):
        crossed = _path(url).replace("/t/acme/", "/t/globex/")
        assert client.post(crossed, data={"List-Unsubscribe": "One-Click"}).status_code == 400
        assert "not valid" in client.get(crossed).text
    assert _bob_levels(rt) == before

    # Mail an administrator made mandatory cannot be unsubscribed, and the page says so
    with unit_of_work(rt.sessions) as s:
        t = directory.get_tenant(s, "acme")
        preferences.set_default(
            s,
            t,
            directory.get_space(s, t, "sales"),
            preferences.parse_level("watching"),
            None,
            True,
        )
    shown = client.get(_path(https)).text
    assert "mandatory" in shown and 'value="this"' not in shown
    refused = client.post(_path(https), data={"List-Unsubscribe": "One-Click"})
    assert refused.status_code == 400 and "mandatory" in refused.text
    assert _bob_levels(rt) == before
    # A lower frequency is still allowed
    assert client.post(_path(https), data={"choice": "daily"}).status_code == 200

    # An expired token is refused with a message that says so
    with unit_of_work(rt.sessions) as s:
        s.execute(update(ActionToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    expired = client.post(_path(https), data={"List-Unsubscribe": "One-Click"})
    assert expired.status_code == 400 and "expired" in expired.text

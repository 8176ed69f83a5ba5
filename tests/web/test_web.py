"""The server-rendered pages: content from mail shown safely, errors as pages, secure headers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailhub.ingress.smtp import SmtpServer
from mailhub.models import Page
from mailhub.tasks import Runtime
from mailhub.web.app import create_app

from conftest import wait_until
from helpers import final_count, fixture, outbox, reply_like_gmail, sign_in, smtp_send

pytestmark = [pytest.mark.parametrize("backend", ["sqlite"]), pytest.mark.usefixtures("acme")]


def test_a_page_from_mail_with_its_comment(runtime: Runtime, smtp: SmtpServer) -> None:
    smtp_send(
        smtp.port, "ann@acme.example", ["sales@acme.example"], fixture("page_html_script.eml")
    )
    wait_until(lambda: len(outbox(runtime)) == 2)
    bob_mail = next(m for m in outbox(runtime) if "bob@" in str(m["To"]))
    smtp_send(
        smtp.port,
        "bob@acme.example",
        [str(bob_mail["Reply-To"])],
        reply_like_gmail(
            bob_mail, "bob@acme.example", "<script>alert('reply')</script> Looks good"
        ),
    )
    wait_until(lambda: final_count(runtime) == 2)
    with runtime.sessions() as s:
        page_id = s.scalars(select(Page.id)).one()

    client = TestClient(create_app(runtime.sessions, runtime.files))
    sign_in(client, runtime.sessions, "acme", "cat@acme.example")
    response = client.get(f"/t/acme/pages/{page_id}")
    assert response.status_code == 200
    html = response.text
    assert "Präsentation für Kunden" in html and "<b>Präsentation</b>" in html
    assert "<script>" not in html and "onclick" not in html and "javascript:" not in html
    assert "&lt;script&gt;alert(&#x27;reply&#x27;)&lt;/script&gt; Looks good" in html
    assert "<details><summary>show quoted text</summary>" in html  # the history, collapsed
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    # Scripts only from mailhub's own files: an inline script from mail would never run
    assert "script-src 'self';" in response.headers["content-security-policy"]

    listing = client.get("/t/acme/pages")
    assert f'href="/t/acme/pages/{page_id}"' in listing.text and "1 comment<" in listing.text


@pytest.mark.parametrize(
    "path", ["/t/acme/pages/999", "/t/acme/pages/abc", "/t/nobody/pages", "/nowhere"]
)
def test_unknown_things_are_a_404_page(runtime: Runtime, path: str) -> None:
    client = TestClient(create_app(runtime.sessions, runtime.files))
    sign_in(client, runtime.sessions, "acme", "cat@acme.example")
    response = client.get(path)
    assert response.status_code == 404
    assert "<h1>Not found</h1>" in response.text and "Traceback" not in response.text


def test_health(runtime: Runtime) -> None:
    assert TestClient(create_app(runtime.sessions, runtime.files)).get("/healthz").json() == {
        "status": "ok"
    }

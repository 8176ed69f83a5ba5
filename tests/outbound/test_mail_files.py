"""Images and attachments survive the trip out: a page mailed in with a small inline image, a
large one and a PDF is notified with the small image inside the mail (multipart/related, by
cid:), the large one and the PDF behind links of the recipient's own that open without a
sign-in, only that file, and stop when the file or the person is gone."""

from __future__ import annotations

import io
import os
import re
from email.message import EmailMessage
from email.policy import SMTP

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from mailhub.ingress.smtp import SmtpServer
from mailhub.models import Attachment, User
from mailhub.outbound.files import INLINE_EACH, link_key
from mailhub.tasks import Runtime
from mailhub.web.app import create_app

from conftest import wait_until
from helpers import outbox, settled, smtp_send, to

pytestmark = [pytest.mark.parametrize("backend", ["sqlite"]), pytest.mark.usefixtures("acme")]

BASE = "https://intranet.acme.example"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n" + b"0" * 3000


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 20), (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


def _big_png() -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (400, 400), os.urandom(400 * 400 * 3)).save(out, "PNG")
    data = out.getvalue()
    assert len(data) > INLINE_EACH
    return data


def _page_with_files() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ann Author <ann@acme.example>"
    msg["To"] = "sales@acme.example"
    msg["Subject"] = "Whiteboard from Monday"
    msg["Message-ID"] = "<files-1@mail.acme.example>"
    msg.set_content("The board and the plan.")
    msg.add_alternative(
        '<p>The board:</p><img src="cid:small@ann"><p>Full photo:</p><img src="cid:big@ann">'
        '<img src="https://tracker.example/open.gif" width="1" height="1"><p>And the plan.</p>',
        subtype="html",
    )
    html = msg.get_payload()[1]
    html.add_related(_png(), "image", "png", cid="<small@ann>", filename="board.png")
    html.add_related(_big_png(), "image", "png", cid="<big@ann>", filename="photo.png")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="plan Q3.pdf")
    return msg.as_bytes(policy=SMTP)


def _bobs_mail(runtime: Runtime) -> EmailMessage:
    (mail,) = [m for m in outbox(runtime) if to(m) == "bob@acme.example"]
    return mail


def test_images_travel_inside_or_by_link_and_attachments_are_listed(
    runtime: Runtime, smtp: SmtpServer
) -> None:
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], _page_with_files())
    wait_until(lambda: settled(runtime) and len(outbox(runtime)) >= 2)
    mail = _bobs_mail(runtime)
    related = next(p for p in mail.walk() if p.get_content_type() == "multipart/related")
    html_part, *images = related.iter_parts()
    html = html_part.get_content()
    # The small image is inside the mail, and the HTML shows it by its Content-ID.
    (image,) = images
    cid = str(image["Content-ID"]).strip("<>")
    assert f'src="cid:{cid}"' in html and image.get_content() == _png_bytes_of(runtime, "board.png")
    # The large one is an absolute link of Bob's own; the tracking pixel left nothing behind.
    big = re.search(r'<img[^>]*src="(https://intranet\.acme\.example/t/acme/files/[^"]+)"', html)
    assert big is not None and "tracker.example" not in html and "<img>" not in html
    # The PDF is listed with its size, in both parts, with the same kind of link.
    text = mail.get_body(preferencelist=("plain",)).get_content()
    pdf = re.search(r"- plan Q3\.pdf \(3 KB\): (\S+)", text)
    assert pdf is not None and "plan Q3.pdf" in html and "3 KB" in html

    key = link_key(runtime.settings.secret_key)
    web = TestClient(create_app(runtime.sessions, runtime.files, base_url=BASE, file_key=key))
    photo = web.get(big.group(1).replace("&amp;", "&"))
    assert photo.status_code == 200 and photo.content == _png_bytes_of(runtime, "photo.png")
    got = web.get(pdf.group(1))
    assert got.status_code == 200 and got.content == PDF
    assert "attachment" in got.headers["content-disposition"]

    # Nothing else is reachable with it: another file's id, a changed signature, no key.
    pdf_url = pdf.group(1)
    other_file = re.sub(r"/files/(\d+)/", lambda m: f"/files/{int(m.group(1)) - 1}/", pdf_url)
    assert web.get(other_file).status_code == 404
    forged = re.sub(r"\.([A-Za-z0-9_-]{24})/", ".AAAAAAAAAAAAAAAAAAAAAAAA/", pdf_url)
    assert forged != pdf_url and web.get(forged).status_code == 404
    keyless = TestClient(create_app(runtime.sessions, runtime.files, base_url=BASE))
    assert keyless.get(pdf_url).status_code == 404

    # Revoked with the person…
    with runtime.sessions.begin() as s:
        s.scalars(select(User).where(User.email == "bob@acme.example")).one().active = False
    assert web.get(pdf_url).status_code == 404
    with runtime.sessions.begin() as s:
        s.scalars(select(User).where(User.email == "bob@acme.example")).one().active = True
    assert web.get(pdf_url).status_code == 200
    # …and with the file.
    with runtime.sessions.begin() as s:
        s.delete(s.scalars(select(Attachment).where(Attachment.filename == "plan Q3.pdf")).one())
    assert web.get(pdf_url).status_code == 404


def _png_bytes_of(runtime: Runtime, filename: str) -> bytes:
    with runtime.sessions() as s:
        a = s.scalars(select(Attachment).where(Attachment.filename == filename)).one()
        return runtime.files.path(a.path).read_bytes()

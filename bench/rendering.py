"""Outgoing mail: notifications rendered, inlined, built and DKIM-signed per second on one core.

A typical notification — a page of a few paragraphs, a list and a link, in the page_created
template with its JSON-LD — goes through everything a worker does after loading its rows:
render HTML and text, build the MIME message, serialize it and sign it with a 2048-bit key.
The same run measures the naive way for the ratio: premailer on every message, the stdlib's
EmailMessage, and dkimpy (with its RSA step in OpenSSL, as mailhub had it before).

    python bench/rendering.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from email import policy  # noqa: E402
from email.message import EmailMessage  # noqa: E402
from email.utils import formataddr, formatdate  # noqa: E402

import dkim  # noqa: E402
import jinja2  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from mailhub import TEMPLATES_DIR, i18n  # noqa: E402
from mailhub.outbound import actions  # noqa: E402
from mailhub.outbound.compose import Draft, compose  # noqa: E402
from mailhub.outbound.render import Rendered, Renderer, inline_css  # noqa: E402
from mailhub.outbound.signing import SIGNED_HEADERS, DkimSigner  # noqa: E402

BODY = (
    "<p>The Q3 pipeline review is on <b>Thursday</b> in room Ölberg.</p>"
    "<p>Please bring:</p><ul><li>your forecast</li><li>open deals over 50k</li>"
    "<li>risks</li></ul><p>The report is <a href='https://crm.acme.example/q3'>here</a>.</p>"
    "<blockquote>Numbers are final on Wednesday.</blockquote>"
)


def context(i: int) -> dict[str, object]:
    url = f"https://intranet.acme.example/t/acme/pages/{i}"
    markup = [
        actions.view_action(url, "View page", "Ann in Sales: Q3", "Acme", url),
        actions.confirm_action(f"{url}/actions/t0k3n/gmail", "Unfollow this page", "Ann: Q3"),
    ]
    return {
        "subject": f"[Sales] Q3 pipeline review {i}",
        "json_ld": actions.to_script(markup),
        "author_name": "Ann Author",
        "space_name": "Sales",
        "page_title": f"Q3 pipeline review {i}",
        "body_html": BODY,
        "body_text": "The Q3 pipeline review is on Thursday in room Ölberg.",
        "page_url": url,
        "buttons": [
            ("View page", url, True),
            ("Unfollow this page", f"{url}/actions/t0k3n", False),
        ],
        "reason": "you watch the Sales space",
        "mandatory": False,
        "manage_url": "https://intranet.acme.example/t/acme/unsubscribe/t0k3n",
        "tenant_name": "Acme",
        "files": [],
    }


def draft(i: int) -> Draft:
    return Draft(
        from_name="Ann Author (Acme)",
        from_addr="notifications@acme.example",
        to_name="Bob Reader",
        to_addr="bob@acme.example",
        subject=f"[Sales] Q3 pipeline review {i}",
        message_id=f"<acme/pages/{i}@acme.example>",
        reason="you watch the Sales space",
        reply_to="reply+k3y@acme.example",
        list_id='"Sales" <sales.acme.example>',
    )


class NaiveRenderer:
    """The per-message way: plain templates, premailer over every rendered message."""

    def __init__(self) -> None:
        root = TEMPLATES_DIR / "email"
        self.html = jinja2.Environment(loader=jinja2.FileSystemLoader(root), autoescape=True)
        self.text = jinja2.Environment(loader=jinja2.FileSystemLoader(root))

    def render(self, template: str, ctx: dict[str, object]) -> Rendered:
        ctx = {**ctx, "_": i18n.translator("en"), "ngettext": i18n.translator("en").n, "lang": "en"}
        html = self.html.get_template(f"{template}.html").render(ctx)
        text = self.text.get_template(f"{template}.txt").render(ctx)
        return Rendered(inline_css(html), text)


def stdlib_mail(d: Draft, body: Rendered, key: bytes | None) -> bytes:
    """The naive message: EmailMessage, serialized by its policy, signed by dkimpy."""
    msg = EmailMessage()
    msg["From"] = formataddr((d.from_name, d.from_addr))
    msg["To"] = formataddr((d.to_name, d.to_addr))
    msg["Subject"] = d.subject
    msg["Date"] = formatdate()
    msg["Message-ID"] = d.message_id
    msg["Reply-To"] = d.reply_to
    msg["List-Id"] = d.list_id
    msg["Auto-Submitted"] = d.auto_submitted
    msg["X-Mailhub-Reason"] = d.reason
    msg.set_content(body.text)
    msg.add_alternative(body.html, subtype="html")
    data = msg.as_bytes(policy=policy.SMTP)
    if key is None:
        return data
    headers = [h.encode() for h in SIGNED_HEADERS]
    sig = dkim.sign(
        data,
        b"mailhub",
        b"acme.example",
        key,
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=headers,
    )
    return bytes(sig) + data


Step = Callable[[int, Rendered], bytes] | None


def rate(
    render: Callable[[str, dict[str, object]], Rendered], build: Step, seconds: float
) -> float:
    """Mails per second; build None: render only (no MIME, no signature)."""
    render("page_created", context(0))  # templates compiled, as in a running worker
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        rendered = render("page_created", context(n))
        if build is not None:
            build(n, rendered)
        n += 1
    return n / elapsed


def _rsa_step_in_openssl() -> None:
    """dkimpy's pure-Python RSA takes 5.5 ms; give the naive way OpenSSL's, for a fair baseline."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, utils

    keys: dict[int, rsa.RSAPrivateKey] = {}

    def sign(digest: object, pk: dict[str, int]) -> bytes:
        key = keys.get(pk["modulus"])
        if key is None:
            public = rsa.RSAPublicNumbers(pk["publicExponent"], pk["modulus"])
            key = rsa.RSAPrivateNumbers(
                pk["prime1"],
                pk["prime2"],
                pk["privateExponent"],
                pk["exponent1"],
                pk["exponent2"],
                pk["coefficient"],
                public,
            ).private_key()
            keys[pk["modulus"]] = key
        return key.sign(digest.digest(), padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))  # type: ignore[attr-defined]

    dkim.RSASSA_PKCS1_v1_5_sign = sign


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    _rsa_step_in_openssl()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    signer = DkimSigner({"acme.example": key}, "mailhub")
    fast = Renderer().render
    naive = NaiveRenderer().render

    def naive_mime(n: int, body: Rendered) -> bytes:
        return stdlib_mail(draft(n), body, None)

    def naive_signed(n: int, body: Rendered) -> bytes:
        return stdlib_mail(draft(n), body, key)

    def fast_mime(n: int, body: Rendered) -> bytes:
        return compose(draft(n), body)[0]

    def fast_signed(n: int, body: Rendered) -> bytes:
        return signer.sign(compose(draft(n), body)[0], "acme.example")

    s = args.seconds
    rows = [
        ("render + inline", rate(naive, None, s), rate(fast, None, s)),
        ("+ MIME build", rate(naive, naive_mime, s), rate(fast, fast_mime, s)),
        ("+ DKIM sign", rate(naive, naive_signed, s), rate(fast, fast_signed, s)),
    ]
    print(f"{'mails/s on one core':<22}{'naive':>12}{'mailhub':>14}{'ratio':>8}")
    for name, slow, quick in rows:
        print(f"{name:<22}{slow:>12.0f}{quick:>14.0f}{quick / slow:>7.1f}x")
    same = rate(naive, fast_signed, s)
    print(
        f"premailer per message with mailhub's MIME and DKIM: {same:.0f}/s "
        f"(mailhub {rows[2][2] / same:.1f}x that)"
    )


if __name__ == "__main__":
    main()

"""Outgoing mail: notifications rendered, inlined, built and DKIM-signed per second on one core.

A typical notification — a page of a few paragraphs, a list and a link, in the page_created
template with its JSON-LD — goes through everything a worker does after loading its rows:
render HTML and text, build the MIME message, serialize it and sign it with a 2048-bit key.
The same run measures the naive way, premailer on every message, for the ratio.

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

import jinja2  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from mailhub import TEMPLATES_DIR, i18n  # noqa: E402
from mailhub.outbound import actions  # noqa: E402
from mailhub.outbound.compose import Draft, compose  # noqa: E402
from mailhub.outbound.render import Rendered, Renderer, inline_css  # noqa: E402
from mailhub.outbound.signing import DkimSigner, wire_bytes  # noqa: E402

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
        ctx = {**ctx, "_": i18n.translator("en"), "lang": "en"}
        html = self.html.get_template(f"{template}.html").render(ctx)
        text = self.text.get_template(f"{template}.txt").render(ctx)
        return Rendered(inline_css(html), text)


def rate(
    render: Callable[[str, dict[str, object]], Rendered],
    signer: DkimSigner | None,
    seconds: float,
) -> float:
    """Mails per second; signer None: render only (no MIME, no signature)."""
    render("page_created", context(0))  # templates compiled, as in a running worker
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        rendered = render("page_created", context(n))
        if signer is not None:
            msg, _ = compose(draft(n), rendered)
            wire_bytes(msg, signer)
        n += 1
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    signer = DkimSigner({"acme.example": key}, "mailhub")
    fast = Renderer().render
    naive = NaiveRenderer().render
    unsigned = DkimSigner({}, "mailhub")
    rows = [
        ("render + inline", rate(naive, None, args.seconds), rate(fast, None, args.seconds)),
        ("+ MIME build", rate(naive, unsigned, args.seconds), rate(fast, unsigned, args.seconds)),
        ("+ DKIM sign", rate(naive, signer, args.seconds), rate(fast, signer, args.seconds)),
    ]
    print(f"{'mails/s on one core':<22}{'per message':>12}{'per template':>14}{'ratio':>8}")
    for name, slow, quick in rows:
        print(f"{name:<22}{slow:>12.0f}{quick:>14.0f}{quick / slow:>7.1f}x")


if __name__ == "__main__":
    main()

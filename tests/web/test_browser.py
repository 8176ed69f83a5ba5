"""The web side in a real browser: Playwright for Python driving Debian's Chromium against
mailhub served by uvicorn, with mail going over real SMTP to a local sink.

A person signs in with a magic link, reads a page that arrived by email, comments, answers a
form, changes their mail settings, uses the one-click unsubscribe page (GET shows, POST acts),
and content full of script from inbound mail runs nothing. A screenshot of each main page is
saved under tests/output/screenshots for a person to look at.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from mailhub.db import unit_of_work
from mailhub.domain import directory, editing
from mailhub.models import FormResponse, Objection, Revision, Subscription
from mailhub.privacy import requests
from mailhub.web.app import create_app

from conftest import relayed_runtime, serving, wait_until
from helpers import CHROMIUM, TESTS, chromium, png, sign_in, smtp_send

SHOTS = TESTS / "output" / "screenshots"
MAIL_BASE = "https://intranet.acme.example"

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

# What an attacker might mail in, hoping a page runs it.
XSS = [
    "<script>window.__xss = 1</script>",
    '<img src=x onerror="window.__xss = 2">',
    '<svg onload="window.__xss = 3"></svg>',
    '<a href="javascript:window.__xss = 4">click</a>',
    '<iframe srcdoc="<script>parent.__xss = 5</script>"></iframe>',
    '<div style="background:url(javascript:window.__xss=6)">x</div>',
    '<math><mtext><table><mglyph><style><img src=x onerror="window.__xss=7">',
    '<form action="javascript:window.__xss=8"><button>go</button></form>',
    '"><script>window.__xss = 9</script>',
    '<object data="javascript:window.__xss=10"></object>',
]


def _mail(subject: str, to: str, text: str, html: str = "", n: int = 0) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ann <ann@acme.example>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<browser-{n}@acme.example>"
    msg.set_content(text)
    if html:
        msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[object, object, object, str]]:
    with relayed_runtime(tmp_path) as (rt, sink, smtp):
        app = create_app(rt.sessions, rt.files, notify=rt.enqueue_notifications)
        with serving(app) as base:
            yield rt, sink, smtp, base


@pytest.fixture
def page() -> Iterator[Page]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = chromium(p)
        context = browser.new_context(viewport={"width": 420, "height": 900})  # a phone
        yield context.new_page()
        browser.close()


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _link(sink: object, index: int, pattern: str, base: str) -> str:
    received = sink.received  # type: ignore[attr-defined]
    body = received[index].message.get_body(preferencelist=("plain",)).get_content()
    m = re.search(re.escape(MAIL_BASE) + pattern, body)
    assert m, body
    return base + m.group(0)[len(MAIL_BASE) :]


def test_a_member_reads_comments_answers_and_chooses_their_mail(site: tuple, page: Page) -> None:  # type: ignore[type-arg]
    rt, sink, smtp, base = site
    # Ann mails a page (with an attacker's markup in it) and a form to Sales
    html = "<p>Numbers are in.</p>" + "".join(XSS)
    smtp_send(
        smtp.port,
        "ann@acme.example",
        ["sales@acme.example"],
        _mail("Q3 review", "sales@acme.example", "Numbers are in.", html, 1),
    )
    smtp_send(
        smtp.port,
        "ann@acme.example",
        ["sales+form@acme.example"],
        _mail(
            "Offsite", "sales+form@acme.example", "1. Your name\n2. Which day? [Mon / Tue]\n", n=2
        ),
    )
    wait_until(
        lambda: len(sink.received) == 3
    )  # Bob's page mail, his invitation, Ann's confirmation

    # Bob opens the intranet: it asks him to sign in, and mails him a link
    page.goto(f"{base}/t/acme/pages")
    expect(page.get_by_role("heading", name="Sign in to Acme")).to_be_visible()
    _shot(page, "signin")
    page.get_by_label("Your email address").fill("bob@acme.example")
    page.get_by_role("button", name="Mail me a sign-in link").click()
    expect(page.get_by_role("status")).to_contain_text("a sign-in link is on its way")
    wait_until(lambda: len(sink.received) == 4)
    page.goto(_link(sink, 3, r"/t/acme/signin/\S+", base))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Pages")).to_be_visible()
    _shot(page, "pages")

    # He finds the page as he types: the hits come without pressing Enter
    page.get_by_role("link", name="Search").click()
    page.get_by_label("Pages, comments, forms and files").press_sequentially("revi", delay=40)
    expect(page.locator("#hits").get_by_role("link", name="Q3 review")).to_be_visible()
    assert "q=" not in page.url  # found by find-as-you-type, not a submitted form
    _shot(page, "search")
    page.get_by_role("link", name="Pages").first.click()

    # He reads the page that came by email: its text, and none of the script ran
    page.on(
        "dialog", lambda d: (_ for _ in ()).throw(AssertionError(f"a dialog opened: {d.message}"))
    )
    page.get_by_role("link", name="Q3 review").click()
    expect(page.get_by_text("Numbers are in.")).to_be_visible()
    page.wait_for_timeout(300)
    assert page.evaluate("window.__xss") is None
    # No script but mailhub's own files, no frame, object or SVG from the mail
    assert (
        page.evaluate(
            "document.querySelectorAll('script:not([src^=\"/static/\"]), iframe, object, svg')"
            ".length"
        )
        == 0
    )
    _shot(page, "page")

    # He comments
    page.get_by_label("Add a comment").fill("Looks good to me")
    page.get_by_role("button", name="Comment").click()
    expect(page.locator(".comment")).to_contain_text("Looks good to me")

    # He answers the form: a wrong submit shows the problem beside the question
    page.goto(f"{base}/t/acme/forms/1")
    page.get_by_label("1. Your name").fill("Bob")
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_role("alert")).to_contain_text("No answer was found; this one is required.")
    _shot(page, "form-problem")
    page.get_by_label("Tue").check()
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    with rt.sessions() as s:
        assert s.scalars(select(FormResponse)).one().answers == {"0": "Bob", "1": "Tue"}

    # He moves Sales to a daily digest
    page.get_by_role("link", name="My mail").click()
    row = page.locator("#space-sales")
    row.get_by_label("How often").select_option("daily")
    row.get_by_role("button", name="Save").click()
    expect(page.locator("#space-sales")).to_contain_text("in your daily digest")
    _shot(page, "preferences")
    with rt.sessions() as s:
        assert s.scalars(select(Subscription.frequency)).one() == "daily"

    # Signed out, the unsubscribe link of his first mail shows the choices, and only the
    # button acts
    page.get_by_role("button", name="Sign out").click()
    unsubscribe = _link(sink, 0, r"/t/acme/unsubscribe/\S+", base)
    page.goto(unsubscribe)
    expect(page.get_by_role("heading", name="Mail from Acme")).to_be_visible()
    _shot(page, "unsubscribe")
    with rt.sessions() as s:
        assert s.scalars(select(Subscription.level)).one() == "watching"
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Done")).to_be_visible()
    with rt.sessions() as s:
        assert s.scalars(select(Subscription.level)).one() == "muted"
        assert s.scalars(select(Objection)).all() == []


def test_an_administrator_makes_a_space_mandatory(site: tuple, page: Page) -> None:  # type: ignore[type-arg]
    rt, sink, _, base = site
    from mailhub.db import unit_of_work
    from mailhub.domain import directory
    from mailhub.models import SubscriptionDefault

    with unit_of_work(rt.sessions) as s:
        directory.get_user(s, directory.get_tenant(s, "acme"), "ann@acme.example").is_admin = True
    page.goto(f"{base}/t/acme/admin")
    page.get_by_label("Your email address").fill("ann@acme.example")
    page.get_by_role("button", name="Mail me a sign-in link").click()
    wait_until(lambda: len(sink.received) == 1)
    page.goto(_link(sink, 0, r"/t/acme/signin/\S+", base))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Administer Acme")).to_be_visible()
    row = page.locator("#default-sales")
    row.get_by_label("Level").select_option("watching")
    row.get_by_label("mandatory").check()
    row.get_by_role("button", name="Save default").click()
    expect(page.get_by_role("status")).to_contain_text("Default for Sales saved.")
    _shot(page, "admin")
    with rt.sessions() as s:
        d = s.scalars(select(SubscriptionDefault)).one()
        assert (d.level, d.mandatory) == ("watching", True)


class _CookieJar:
    """Where helpers.sign_in puts the session cookie, to hand to the browser."""

    def __init__(self) -> None:
        self.cookies = self
        self.values: dict[str, str] = {}

    def set(self, name: str, value: str) -> None:
        self.values[name] = value


RICH = (
    '<p>The <b>review</b> is on <a href="https://crm.acme.example/q3">Thursday</a> at ten.</p>'
    "<ul><li>North first</li><li>South second</li></ul>"
    "<table><tr><th>Region</th><th>Total</th></tr><tr><td>North</td><td>12</td></tr></table>"
    '<p><img src="cid:chart@ann" alt="Q3 chart"></p><p>Bring your laptop.</p>'
)


def test_a_page_mailed_as_html_is_edited_as_rich_text(site: tuple, page: Page) -> None:  # type: ignore[type-arg]
    rt, sink, smtp, base = site
    msg = EmailMessage()
    msg["From"] = "Ann <ann@acme.example>"
    msg["To"] = "sales@acme.example"
    msg["Subject"] = "Q3 review agenda"
    msg["Message-ID"] = "<rich-1@acme.example>"
    msg.set_content("The review is on Thursday at ten.")
    msg.add_alternative(RICH, subtype="html")
    msg.get_payload()[1].add_related(png(120, 80), "image", "png", cid="<chart@ann>")
    smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], msg.as_bytes())
    wait_until(lambda: _revisions(rt) == 1)
    jar = _CookieJar()
    sign_in(jar, rt.sessions, "acme", "bob@acme.example")
    page.context.add_cookies([{"name": k, "value": v, "url": base} for k, v in jar.values.items()])

    # Bob changes one word in the rich-text editor and saves
    page.goto(f"{base}/t/acme/pages")
    page.get_by_role("link", name="Q3 review agenda").click()
    page.get_by_role("link", name="Edit").click()
    editor = page.locator("#editor")
    expect(editor.locator("table")).to_be_visible()
    expect(editor.locator("img")).to_be_visible()
    assert page.locator("#text").is_hidden()  # the plain-text box is only for no JavaScript
    _shot(page, "edit-rich")
    editor.get_by_text("Bring your laptop.").click()
    page.keyboard.press("End")
    for _ in range(len("laptop.")):
        page.keyboard.press("Backspace")
    page.keyboard.type("notes.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Bring your notes.")).to_be_visible()
    with rt.sessions() as s:
        revs = list(s.scalars(select(Revision).order_by(Revision.number)))
    assert len(revs) == 2
    new = revs[-1].body_html
    assert "Bring your notes." in new and "laptop" not in new
    assert "<b>review</b>" in new and 'href="https://crm.acme.example/q3"' in new
    assert "<li>North first</li>" in new and "<li>South second</li>" in new
    assert "<table>" in new and "<td>12</td>" in new and "<th>Region</th>" in new
    assert re.search(r'<img [^>]*src="/t/acme/attachments/\d+"', new)
    assert "<script" not in page.content().split("</main>")[0].split("<main>")[1].replace(
        '<script src="', ""
    )  # no inline script: the policy allows only mailhub's own files

    # Saving again without a change makes no new revision
    page.get_by_role("link", name="Edit").click()
    expect(page.locator("#editor table")).to_be_visible()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Bring your notes.")).to_be_visible()
    assert _revisions(rt) == 2


def _revisions(rt: object) -> int:
    with rt.sessions() as s:  # type: ignore[attr-defined]
        return len(list(s.scalars(select(Revision))))


WIDE = (
    "<p>Figures:</p><table><tr>"
    + "".join(f"<th>Region number {i} total</th>" for i in range(10))
    + "</tr><tr>"
    + "<td>1234567.89</td>" * 10
    + "</tr></table><p>"
    + "x" * 300
    + "</p>"
)
OVERFLOW = "() => [document.documentElement.scrollWidth, window.innerWidth]"


def test_every_page_fits_a_phone_and_a_desktop(site: tuple, page: Page) -> None:  # type: ignore[type-arg]
    rt, sink, smtp, base = site
    smtp_send(
        smtp.port,
        "ann@acme.example",
        ["sales@acme.example"],
        _mail("Regional figures for the whole quarter", "sales@acme.example", "Figures.", WIDE, 31),
    )
    smtp_send(
        smtp.port,
        "ann@acme.example",
        ["sales+form@acme.example"],
        _mail(
            "Offsite",
            "sales+form@acme.example",
            "1. Your name\n2. Which day? [Mon / Tue]\n3. How many? (number)\n",
            n=32,
        ),
    )
    wait_until(lambda: _revisions(rt) == 1 and len(sink.received) >= 3)
    with rt.sessions() as s:
        page_id = s.scalars(select(Revision.page_id)).one()
    with unit_of_work(rt.sessions) as s:
        t = directory.get_tenant(s, "acme")
        ann = directory.get_user(s, t, "ann@acme.example")
        ann.is_admin = True
        editing.revise(s, t, page_id, ann, WIDE + "<p>Second version.</p>")
    jar = _CookieJar()
    sign_in(jar, rt.sessions, "acme", "ann@acme.example")
    page.context.add_cookies([{"name": k, "value": v, "url": base} for k, v in jar.values.items()])
    unsubscribe = _link(sink, 0, r"/t/acme/unsubscribe/\S+", base)
    # A privacy request's confirmation page, from the link mailed to the person
    with unit_of_work(rt.sessions) as s:
        _, verify = requests.request(
            s, directory.get_tenant(s, "acme"), "bob@acme.example", "access"
        )
    rt.enqueue_notifications([verify])
    wait_until(lambda: any("Please confirm" in str(r.message["Subject"]) for r in sink.received))
    confirm_at = next(
        i for i, r in enumerate(sink.received) if "Please confirm" in str(r.message["Subject"])
    )
    privacy = _link(sink, confirm_at, r"/t/acme/privacy/\S+", base)
    routes = {
        "home": "/t/acme",
        "pages": "/t/acme/pages",
        "new-page": "/t/acme/pages/new",
        "page": f"/t/acme/pages/{page_id}",
        "edit": f"/t/acme/pages/{page_id}/edit",
        "history": f"/t/acme/pages/{page_id}/history",
        "diff": f"/t/acme/pages/{page_id}/diff?a=1&b=2",
        "space": "/t/acme/s/sales",
        "forms": "/t/acme/forms",
        "form": "/t/acme/forms/1",
        "results": "/t/acme/forms/1/results",
        "search": "/t/acme/search?q=figures",
        "settings": "/t/acme/preferences",
        "my-data": "/t/acme/my-data",
        "admin": "/t/acme/admin",
        "unsubscribe": unsubscribe[len(base) :],
        "privacy-confirm": privacy[len(base) :],
    }
    for width in (375, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        for name, path in routes.items():
            response = page.goto(base + path)
            assert response is not None and response.status == 200, (name, response)
            scroll, inner = page.evaluate(OVERFLOW)
            page.screenshot(path=str(SHOTS / f"route-{name}-{width}.png"), full_page=True)
            assert scroll <= inner, f"{name} overflows at {width} px: {scroll} > {inner}"
    # Signed out: the sign-in page and the front door
    page.context.clear_cookies()
    for name, path in (("signin", "/t/acme/signin"), ("front-door", "/")):
        for width in (375, 1280):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(base + path)
            scroll, inner = page.evaluate(OVERFLOW)
            page.screenshot(path=str(SHOTS / f"route-{name}-{width}.png"), full_page=True)
            assert scroll <= inner, f"{name} overflows at {width} px"


def test_destructive_actions_look_destructive_and_ask_first(site: tuple, page: Page) -> None:  # type: ignore[type-arg]
    rt, _sink, _smtp, base = site
    jar = _CookieJar()
    sign_in(jar, rt.sessions, "acme", "bob@acme.example")
    page.context.add_cookies([{"name": k, "value": v, "url": base} for k, v in jar.values.items()])
    page.goto(f"{base}/t/acme/preferences")
    mute = page.get_by_role("button", name="Mute all mail that is not mandatory")
    erase = page.get_by_role("button", name="Erase my account")
    red = "rgb(207, 34, 46)"
    assert mute.evaluate("b => getComputedStyle(b).backgroundColor") == red
    assert erase.evaluate("b => getComputedStyle(b).backgroundColor") == red
    asked: list[str] = []

    def answer(dialog: object) -> None:
        asked.append(dialog.message)  # type: ignore[attr-defined]
        dialog.dismiss()  # type: ignore[attr-defined]

    page.on("dialog", answer)
    mute.click()
    page.wait_for_timeout(200)
    assert asked and "Mute all mail" in asked[0]
    with rt.sessions() as s:  # said no: nothing changed
        assert not any(sub.level == "muted" for sub in s.scalars(select(Subscription)))


def test_a_space_home_copies_its_address(site: tuple, page: Page) -> None:  # type: ignore[type-arg]
    rt, _sink, _smtp, base = site
    jar = _CookieJar()
    sign_in(jar, rt.sessions, "acme", "bob@acme.example")
    page.context.add_cookies([{"name": k, "value": v, "url": base} for k, v in jar.values.items()])
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page.goto(f"{base}/t/acme/s/sales")
    expect(page.get_by_role("link", name="sales@acme.example")).to_have_attribute(
        "href", "mailto:sales@acme.example"
    )
    page.get_by_role("button", name="Copy the address").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == "sales@acme.example"

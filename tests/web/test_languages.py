"""Every page in the member's language: their own setting, else what the browser asks for
(Accept-Language), else the tenant's default; dates and numbers written the way the language
writes them. German and French pages and the mail that goes with them are read in Chromium."""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path

from fastapi.testclient import TestClient

from mailhub.db import unit_of_work
from mailhub.domain import directory, editing
from mailhub.web.app import create_app

from conftest import relayed_runtime, serving, wait_until
from helpers import sign_in, smtp_send


def _page(rt: object) -> int:
    with unit_of_work(rt.sessions) as s:  # type: ignore[attr-defined]
        t = directory.get_tenant(s, "acme")
        page, _ = editing.create(
            s,
            t,
            directory.get_space(s, t, "sales"),
            directory.get_user(s, t, "ann@acme.example"),
            "Quartalszahlen",
            "Bitte bis Freitag.",
        )
        return page.id


def test_the_member_setting_then_the_browser_then_the_tenant(tmp_path: Path) -> None:
    with relayed_runtime(tmp_path) as (rt, _sink, _smtp):
        page_id = _page(rt)
        web = TestClient(create_app(rt.sessions, rt.files))
        sign_in(web, rt.sessions, "acme", "bob@acme.example")

        def get(path: str, languages: str = "") -> str:
            headers = {"Accept-Language": languages} if languages else {}
            return web.get(path, headers=headers).text

        # No setting and no browser wish: the tenant's default (English here)
        english = get("/t/acme/pages")
        assert '<html lang="en">' in english and "1 page · sorted by" in english
        # The browser asks for Swiss German before French: German, with German dates
        german = get("/t/acme/pages", "de-CH, fr;q=0.8, en;q=0.5")
        assert '<html lang="de">' in german
        assert ">Seiten</a>" in german and "1 Seite · sortiert nach" in german
        assert re.search(r"von Ann · \d{2}\.\d{2}\.\d{4}", german), german
        assert "Meine E-Mails" in german and "Abmelden" in german
        # An unknown language, or one asked with q=0, falls through to the next
        assert '<html lang="fr">' in get("/t/acme/pages", "pt-BR, de;q=0, fr;q=0.3")
        # The member's own setting comes before the browser's
        with unit_of_work(rt.sessions) as s:
            t = directory.get_tenant(s, "acme")
            directory.get_user(s, t, "bob@acme.example").locale = "fr"
        french = get(f"/t/acme/pages/{page_id}", "de")
        assert '<html lang="fr">' in french and "Ajouter un commentaire" in french
        assert "Commentaires (0)" in french and "Pas encore de commentaires." in french
        assert re.search(r"par Ann · \d{2}/\d{2}/\d{4}", french), french
        # Without a setting or a wish, a German tenant's pages are German, errors included
        with unit_of_work(rt.sessions) as s:
            t = directory.get_tenant(s, "acme")
            t.locale = "de"
            directory.get_user(s, t, "bob@acme.example").locale = None
        assert "Suche" in get("/t/acme/search?q=quartal")
        assert "Seite in Sales" in get("/t/acme/search?q=quartal")
        missing = web.get("/t/acme/pages/999999", headers={"Accept-Language": "fr"})
        assert missing.status_code == 404 and "Introuvable" in missing.text
        # Signed out (the front door leads to the one tenant): the browser's language
        stranger = TestClient(create_app(rt.sessions, rt.files))
        door = stranger.get("/", headers={"Accept-Language": "fr-FR,fr;q=0.9"}).text
        assert "Se connecter à Acme" in door and "Votre adresse e-mail" in door
        # A hostile header costs nothing and falls back to the tenant's default
        hostile = "x" * 5000 + "," + ";q=" * 2000
        assert '<html lang="de">' in stranger.get("/", headers={"Accept-Language": hostile}).text


def test_german_and_french_pages_and_mails_in_chromium(tmp_path: Path) -> None:
    import pytest

    from helpers import CHROMIUM, chromium

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import expect, sync_playwright

    with relayed_runtime(tmp_path) as (rt, sink, smtp):
        with unit_of_work(rt.sessions) as s:
            t = directory.get_tenant(s, "acme")
            directory.get_user(s, t, "bob@acme.example").locale = "de"
            cat = directory.add_user(s, t, "cat@acme.example", "Cat")
            cat.locale = "fr"
            from mailhub.domain import preferences

            preferences.follow(s, t, cat, directory.get_space(s, t, "sales"))
        msg = EmailMessage()
        msg["From"] = "Ann <ann@acme.example>"
        msg["To"] = "sales@acme.example"
        msg["Subject"] = "Budget 2027"
        msg["Message-ID"] = "<languages-1@acme.example>"
        msg.set_content("Die Zahlen sind da.")
        smtp_send(smtp.port, "ann@acme.example", ["sales@acme.example"], msg.as_bytes())
        wait_until(lambda: len(sink.received) == 2)  # Bob's mail and Cat's
        mails = {str(m.message["To"]): m.message for m in sink.received}
        bob_mail = next(m for to, m in mails.items() if "bob@" in to)
        cat_mail = next(m for to, m in mails.items() if "cat@" in to)

        app = create_app(rt.sessions, rt.files, notify=rt.enqueue_notifications)
        with serving(app) as base, sync_playwright() as p:
            browser = chromium(p)
            for who, locale, mail, words in (
                (
                    "bob@acme.example",
                    "de-DE",
                    bob_mail,
                    ("Bei Acme anmelden", "Kommentar schreiben", "Seite ansehen"),
                ),
                (
                    "cat@acme.example",
                    "fr-FR",
                    cat_mail,
                    ("Se connecter à Acme", "Ajouter un commentaire", "Voir la page"),
                ),
            ):
                signin_title, comment_label, mail_button = words
                context = browser.new_context(locale=locale, viewport={"width": 390, "height": 844})
                page = context.new_page()
                # Signed out: the browser's language
                page.goto(f"{base}/t/acme/pages")
                expect(page.get_by_role("heading", name=signin_title)).to_be_visible()
                # Signed in (the member's own language), at phone width
                web = TestClient(app)
                sign_in(web, rt.sessions, "acme", who)
                context.add_cookies(
                    [{"name": k, "value": v, "url": base} for k, v in web.cookies.items()]
                )
                page.goto(f"{base}/t/acme/pages")
                page.get_by_role("link", name="Budget 2027").click()
                expect(page.get_by_label(comment_label)).to_be_visible()
                assert page.evaluate("document.documentElement.lang") == locale[:2]
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= 390, f"{locale}: the page is {width}px wide on a phone"
                # The mail they got, in their language, as a mail client shows it
                html = mail.get_body(preferencelist=("html",)).get_content()
                page.set_content(html)
                expect(page.get_by_role("link", name=mail_button)).to_be_visible()
                context.close()
            browser.close()

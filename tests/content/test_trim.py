"""Reply trimming on the common forms, and on real reply bodies nobody here wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailhub.content.trim import split_reply

from conftest import CORPUS

CORPUS_DIR = CORPUS / "email_reply_parser"


def test_gmail_reply_with_wrapped_header() -> None:
    text = (
        "Sounds good, see you then.\n\n"
        "On Tue, Nov 24, 2026 at 10:02 AM Acme Notifications <notifications@acme.example>\n"
        "wrote:\n\n> The review is on Thursday.\n> Bring numbers.\n"
    )
    r = split_reply(text)
    assert r.body == "Sounds good, see you then."
    assert r.trimmed.startswith("On Tue, Nov 24") and "> Bring numbers." in r.trimmed


@pytest.mark.parametrize(
    ("header", "new"),
    [
        ("Am 24.11.2026 um 10:02 schrieb Ann Author <ann@acme.example>:", "Passt."),
        ("Le mar. 24 nov. 2026 à 10:02, Ann Author <ann@acme.example> a écrit :", "D'accord."),
        ("El mar, 24 nov 2026 a las 10:02, Ann (<ann@acme.example>) escribió:", "Vale."),
        ("Op di 24 nov. 2026 om 10:02 schreef Ann Author <ann@acme.example>:", "Prima."),
        ("-----Original Message-----", "Fine by me."),
    ],
)
def test_quote_headers(header: str, new: str) -> None:
    r = split_reply(f"{new}\n\n{header}\n> earlier text\n")
    assert r.body == new and "earlier text" in r.trimmed


def test_outlook_from_sent_block() -> None:
    text = (
        "Approved.\n\n________________________________\nFrom: Ann Author <ann@acme.example>\n"
        "Sent: Tuesday, November 24, 2026 10:02 AM\nTo: Bob\nSubject: Budget\n\nPlease approve.\n"
    )
    r = split_reply(text)
    assert r.body == "Approved." and "Please approve." in r.trimmed


def test_signature_is_set_apart() -> None:
    r = split_reply("See you there.\n\n-- \nBob Reader\nSales, Acme\n")
    assert r.body == "See you there." and r.trimmed.startswith("-- ")


def test_interleaved_quotes_are_kept() -> None:
    text = "> Can you come?\nYes.\n> And bring slides?\nNo, Ann has them.\n"
    assert split_reply(text).body == text.strip()


def test_a_mail_that_is_all_quote_is_not_emptied() -> None:
    assert split_reply("> only a quote\n").body == "> only a quote"


@pytest.mark.parametrize("path", sorted(CORPUS_DIR.glob("*.txt")), ids=lambda p: p.name)
def test_corpus_never_yields_empty_and_drops_quoted_history(path: Path) -> None:
    text = path.read_text(encoding="utf-8", errors="replace")
    r = split_reply(text)
    assert r.body.strip(), "a non-empty mail must never yield an empty body"
    assert len(r.body) <= len(text.strip())


@pytest.mark.parametrize(
    ("name", "expected_start", "not_in_body"),
    [
        ("email_2_1.txt", "Outlook with a reply", "From:"),
        ("email_BlackBerry.txt", "Here is another email", "Sent from my BlackBerry"),
        ("email_iPhone.txt", "Here is another email", "Sent from my iPhone"),
        (
            "email_multi_word_sent_from_my_mobile_device.txt",
            "Here is another email",
            "Sent from my",
        ),
    ],
)
def test_corpus_known_shapes(name: str, expected_start: str, not_in_body: str) -> None:
    r = split_reply((CORPUS_DIR / name).read_text(encoding="utf-8"))
    assert r.body.startswith(expected_start)
    assert not_in_body not in r.body


def test_corpus_interleaved_reply_keeps_the_answers() -> None:
    # email_1_2: "Hi," then a quote header, a quote, and the real answer below it.
    r = split_reply((CORPUS_DIR / "email_1_2.txt").read_text(encoding="utf-8"))
    assert r.body.startswith("Hi,")
    assert "You can list the keys for the bucket" in r.body


def test_quotes_without_markers_under_a_header_are_history() -> None:
    text = "Yes, Thursday works.\n\nOn Tue, Nov 24, 2026, Ann Author <ann@acme.example> wrote:\nCan you make Thursday?\n"
    r = split_reply(text)
    assert r.body == "Yes, Thursday works." and "Can you make Thursday?" in r.trimmed

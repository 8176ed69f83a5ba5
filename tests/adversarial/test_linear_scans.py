"""No scan of untrusted text can be slow: every entry point that reads mail, page, comment,
form, header or log text gets pathological input — a megabyte of one character, long runs
without the delimiter a pattern waits for, deeply nested quotes and tags, many "@" or "<" —
in a subprocess, and must finish within a generous bound. A quadratic scan of a megabyte
takes hours; a linear one, a second or two. This is a termination bound, not a timing."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SIZE = 1_000_000
BOUND = 120  # seconds for one entry point over every input; linear code needs a few

INPUTS: dict[str, Callable[[int], str]] = {
    "one letter": lambda n: "a" * n,
    "at signs": lambda n: "@" * n,
    "local@ runs": lambda n: "a@" * (n // 2),
    "dotted": lambda n: "a." * (n // 2),
    "angle brackets": lambda n: "<" * n,
    "tags": lambda n: "<div>" * (n // 5),
    "nested blockquotes": lambda n: "<blockquote>" * (n // 12),
    "quote marks": lambda n: "> " * (n // 2),
    "quoted lines": lambda n: "> \n" * (n // 3),
    "blank lines": lambda n: "\n" * n,
    "spaces": lambda n: " " * n,
    "dashes": lambda n: "-" * n,
    "soft breaks": lambda n: "=\n" * (n // 2),
    "headers": lambda n: "From: x\n" * (n // 8),
    "wrote": lambda n: "On Mon, Ann wrote " * (n // 18),
    "numbered": lambda n: "1. " * (n // 3),
    "quote headers": lambda n: "On 1 Jan, Ann <a@b> wrote:\n" * (n // 27),
    "wrapped headers": lambda n: "On 1 Jan 2026 Ann <\n" * (n // 20),
    "separators": lambda n: "-----Original Message-----\n" * (n // 27),
    "field blocks": lambda n: "From: a\nSent: 1\nTo: b\n" * (n // 22),
    "rules": lambda n: "***\ntext\n" * (n // 9),
    "brackets": lambda n: "[[" * (n // 2),
}

QUESTION = [{"text": "Which day?", "kind": "choice", "options": ["Mon", "Tue"], "required": True}]


def _mail(text: str, html: bool = False) -> Any:
    from mailhub.content.parse import parse_message

    kind = "html" if html else "plain"
    head = "From: Ann <ann@acme.example>\r\nTo: sales@acme.example\r\nSubject: Re: x\r\n"
    raw = f"{head}Content-Type: text/{kind}; charset=utf-8\r\n\r\n{text}"
    return parse_message(raw.encode())


def _processed_mail(text: str, html: bool) -> None:
    from mailhub.content import forward, noise, reply
    from mailhub.mailboxes.pages import body_of, title_of

    parsed = _mail(text, html)
    reply.reply_content(parsed)
    noise.classify(parsed, "ann@acme.example")
    forward.forwarded_of(parsed)
    _, body_text = body_of(parsed)
    title_of(parsed, body_text)


def entry_points() -> dict[str, Callable[[str], object]]:
    from mailhub.content import (
        answers,
        calendar,
        forward,
        html_trim,
        questions,
        sanitize,
        trim,
        wikilinks,
    )
    from mailhub.content.mentions import mentions_in
    from mailhub.content.parse import unflow
    from mailhub.domain.search import snippet, words
    from mailhub.privacy.logredact import redact
    from mailhub.privacy.proof import scrub
    from mailhub.routing import route

    return {
        "trim": trim.split_reply,
        "page links": lambda text: wikilinks.link_titles(text, lambda _: None),
        "html trim": html_trim.split_html_reply,
        "sanitize html": sanitize.clean_html,
        "html to text": sanitize.html_to_text,
        "text to html": sanitize.text_to_html,
        "questions": lambda t: questions.parse("A form", t),
        "answers": lambda t: answers.from_reply(QUESTION, t),
        "calendar": calendar.parse_events,
        "format=flowed": unflow,
        "mentions": mentions_in,
        "search words": words,
        "search snippet": lambda t: snippet(t, ["pipeline"]),
        "erasure scrub": lambda t: scrub(t, ["ann@acme.example", "Ann Example"]),
        "log redaction": redact,
        "routing": route,
        "forward prefix": forward.strip_prefix,
        "plain mail": lambda t: _processed_mail(t, html=False),
        "html mail": lambda t: _processed_mail(t, html=True),
    }


def run(name: str, size: int) -> None:
    """Feed one entry point every input (in the subprocess); print the slowest."""
    fn = entry_points()[name]
    slowest = (0.0, "")
    for label, make in INPUTS.items():
        text = make(size)
        started = time.perf_counter()
        with contextlib.suppress(Exception):  # refusing the input is fine; hanging is not
            fn(text)
        slowest = max(slowest, (time.perf_counter() - started, label))
    print(f"{name}: slowest {slowest[1]} in {slowest[0]:.2f}s")


@pytest.mark.parametrize("name", sorted(entry_points()))
def test_every_scan_of_untrusted_text_finishes(name: str) -> None:
    here = Path(__file__).parent
    code = f"import sys; sys.path.insert(0, {str(here)!r}); import test_linear_scans as t; t.run({name!r}, {SIZE})"
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=BOUND
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{name} did not finish on pathological input within {BOUND} s")
    assert done.returncode == 0, done.stderr[-2000:]

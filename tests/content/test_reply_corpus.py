"""Reply trimming on our own corpus of how clients write replies (tests/mail/replies): each
file is a reply body as a client writes it, expected/<same name> what the person wrote. Every
file must come out exact (whitespace folded), and nothing of any reply may be lost: what is not
in the body is in the trimmed part. bench/trimming.py prints the same figure."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mailhub.content.trim import split_reply

from helpers import MAIL

REPLIES = MAIL / "replies"
FILES = sorted(REPLIES.glob("*.txt"))


def fold(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_the_corpus_covers_the_shapes_the_clients_write() -> None:
    assert len(FILES) >= 80
    assert sorted(p.name for p in (REPLIES / "expected").glob("*.txt")) == [p.name for p in FILES]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_reply_is_trimmed_to_what_the_person_wrote(path: Path) -> None:
    reply = split_reply(path.read_text(encoding="utf-8"))
    assert fold(reply.body) == fold((REPLIES / "expected" / path.name).read_text("utf-8"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_nothing_of_the_reply_is_lost(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    reply = split_reply(text)
    kept = reply.body + "\n" + reply.trimmed
    for line in text.splitlines():
        assert line.strip() in kept

"""The outbox on a disk and in the database: a mail sent twice under one name is one mail,
each reads back as sent, only a mail's own name is accepted, and a scan leaves no copies."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mailhub.db import make_engine, migrate
from mailhub.errors import NotFound
from mailhub.stores.blobs import DatabaseBlobs
from mailhub.stores.outbox import Outbox


@pytest.fixture(params=["files", "postgres"])
def outbox(request: pytest.FixtureRequest, tmp_path: Path) -> Outbox:
    if request.param == "files":
        return Outbox(tmp_path / "outbox")
    url = request.getfixturevalue("pg_database")
    migrate(url)
    copies = tmp_path / "cache" / "outbox"
    return Outbox(copies, DatabaseBlobs(make_engine(url), "outbox", copies))


def test_mail_in_the_outbox_reads_back_and_goes(outbox: Outbox, tmp_path: Path) -> None:
    assert outbox.names() == []
    mail = b"To: bob@acme.example\r\nSubject: Hi\r\n\r\nBody\r\n"
    outbox.send("n1-abc", b"an earlier try", "bounce@acme.example", ["bob@acme.example"])
    outbox.send("n1-abc", mail, "bounce@acme.example", ["bob@acme.example"])  # a retry
    outbox.send("n2-def", b"To: cat@acme.example\r\n\r\nx\r\n", "b@acme.example", ["cat@x"])
    assert outbox.names() == ["n1-abc.eml", "n2-def.eml"]
    assert outbox.read("n1-abc.eml") == mail
    seen = {name: path.read_bytes() for name, path in outbox.files()}
    assert seen["n1-abc.eml"] == mail
    if outbox.blobs is not None:  # copies made for the scan are gone once it is done
        assert not [p for p in tmp_path.rglob("*") if p.is_file()]
    outbox.delete("n1-abc.eml")
    assert outbox.names() == ["n2-def.eml"]
    for bad in ("n1-abc.eml", "../outbox/n2-def.eml", "n2-def", ".eml"):
        with pytest.raises(NotFound):
            outbox.read(bad)


def test_old_mail_leaves_the_outbox_after_its_retention(outbox: Outbox) -> None:
    outbox.send("n1-abc", b"To: bob@acme.example\r\n\r\nx\r\n", "b@acme.example", ["bob@x"])
    assert outbox.prune(30) == 0 and outbox.names() == ["n1-abc.eml"]
    assert outbox.prune(30, now=time.time() + 29 * 86400) == 0
    assert outbox.prune(30, now=time.time() + 31 * 86400) == 1 and outbox.names() == []

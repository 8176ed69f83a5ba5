"""The raw store's spool: small mail never touches a spool file, large mail never sits in memory."""

from __future__ import annotations

import hashlib
from pathlib import Path

from mailhub.stores.rawstore import RawStore


def test_a_small_message_goes_from_memory_to_its_stored_name(tmp_path: Path) -> None:
    store = RawStore(tmp_path)
    spool = store.spool(in_memory=1024)
    spool.write(b"Subject: hi\r\n\r\n")
    spool.write(b"body\r\n")
    assert not spool.path.exists()  # no spool file was made on the receiving loop
    rel = store.place(spool, tenant_id=7, last=True)
    spool.discard()
    assert (tmp_path / rel).read_bytes() == b"Subject: hi\r\n\r\nbody\r\n"
    assert spool.sha256 == hashlib.sha256(b"Subject: hi\r\n\r\nbody\r\n").hexdigest()
    assert not (tmp_path / "incoming").exists()  # not even the spool folder was needed


def test_a_message_past_the_memory_bound_moves_to_a_spool_file(tmp_path: Path) -> None:
    store = RawStore(tmp_path)
    spool = store.spool(in_memory=100)
    spool.write(b"a" * 60)
    assert spool.memory is not None and not spool.path.exists()
    spool.write(b"b" * 60)  # past the bound: what was held and the rest go to the file
    assert spool.memory is None and spool.path.read_bytes() == b"a" * 60 + b"b" * 60
    spool.write(b"c" * 10)
    first = store.place(spool, tenant_id=1, last=False)
    second = store.place(spool, tenant_id=2, last=True)
    spool.discard()
    expected = b"a" * 60 + b"b" * 60 + b"c" * 10
    assert (tmp_path / first).read_bytes() == (tmp_path / second).read_bytes() == expected
    assert spool.size == 130 and spool.head == expected
    assert not spool.path.exists()  # its name was given to the last tenant's copy


def test_a_message_in_memory_for_two_tenants_is_stored_twice(tmp_path: Path) -> None:
    store = RawStore(tmp_path)
    spool = store.spool_bytes(b"x" * 5000)
    names = [store.place(spool, tenant_id=t, last=t == 2) for t in (1, 2)]
    spool.discard()
    assert [(tmp_path / n).read_bytes() for n in names] == [b"x" * 5000] * 2
    assert names[0].startswith("1/") and names[1].startswith("2/")


def test_a_discarded_spool_leaves_no_file(tmp_path: Path) -> None:
    store = RawStore(tmp_path)
    small, large = store.spool(in_memory=10), store.spool(in_memory=10)
    small.write(b"tiny")
    large.write(b"more than ten bytes")
    assert large.path.exists()
    small.discard()
    large.discard()
    assert not small.path.exists() and not large.path.exists()
    assert small.memory == b""  # the bytes held are let go

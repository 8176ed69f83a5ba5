"""The blob store in the database: streamed both ways, nothing kept of a refused write, and a
host's cached copy never outlives its blob."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from mailhub.db import make_engine, migrate
from mailhub.models import Blob, BlobChunk
from mailhub.stores.blobs import CHUNK, BlobTooLarge, DatabaseBlobs


@pytest.fixture
def blobs(pg_database: str, tmp_path: Path) -> DatabaseBlobs:
    migrate(pg_database)
    return DatabaseBlobs(make_engine(pg_database), "files", tmp_path / "cache")


def _count(blobs: DatabaseBlobs, model: object) -> int:
    with blobs.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(model)) or 0)  # type: ignore[arg-type]


def test_a_large_object_goes_in_and_out_a_chunk_at_a_time(blobs: DatabaseBlobs) -> None:
    data = os.urandom(2 * CHUNK + 12345)
    pieces = (data[i : i + 70000] for i in range(0, len(data), 70000))  # any sizes come in
    size, _sha = blobs.write(7, "7/a/big.bin", pieces)
    assert size == len(data) and _count(blobs, BlobChunk) == 3
    chunks = list(blobs.chunks("7/a/big.bin"))
    assert [len(c) for c in chunks] == [CHUNK, CHUNK, 12345] and b"".join(chunks) == data
    assert blobs.read_head("7/a/big.bin", 10) == data[:10]
    assert list(blobs.names(7)) == ["7/a/big.bin"] and list(blobs.names(8)) == []


def test_a_write_past_the_limit_keeps_nothing(blobs: DatabaseBlobs) -> None:
    with pytest.raises(BlobTooLarge):
        blobs.write(7, "7/a/huge.bin", iter([b"x" * CHUNK] * 3), max_size=2 * CHUNK)
    assert _count(blobs, Blob) == 0 and _count(blobs, BlobChunk) == 0


def test_a_cached_copy_goes_with_its_blob(blobs: DatabaseBlobs, tmp_path: Path) -> None:
    blobs.write(7, "7/a/photo.png", [b"png bytes"])
    copy = blobs.cached("7/a/photo.png")
    assert copy.read_bytes() == b"png bytes"
    # Deleted by another host: this host's copy is no longer handed out, and the next prune
    # (each sweep) removes it even though it was used a moment ago
    other = DatabaseBlobs(blobs.engine, "files", tmp_path / "other-host")
    other.delete("7/a/photo.png")
    assert copy.exists()
    with pytest.raises(FileNotFoundError):
        blobs.cached("7/a/photo.png")
    blobs.write(7, "7/b/kept.png", [b"kept"])
    kept = blobs.cached("7/b/kept.png")
    other.delete("7/b/kept.png")
    assert blobs.prune_cache(unused_for=3600) == 1 and not kept.exists()


def test_a_name_outside_the_cache_is_refused(blobs: DatabaseBlobs) -> None:
    with pytest.raises(ValueError):
        blobs.uncache("../../etc/passwd")


def test_a_blob_opens_as_a_seekable_file_that_fetches_only_what_is_read(
    blobs: DatabaseBlobs, tmp_path: Path
) -> None:
    """A ZIP in the database reads like one on a disk: its directory at the end, then one
    member, without the chunks in between (a restore of a large backup holds one chunk)."""
    member = os.urandom(1000)
    with zipfile.ZipFile(tmp_path / "a.zip", "w", zipfile.ZIP_STORED) as z:
        z.writestr("big.bin", os.urandom(3 * CHUNK))  # stored: 3 chunks nobody asks for
        z.writestr("small.bin", member)
    data = (tmp_path / "a.zip").read_bytes()
    blobs.write(7, "7/a.zip", [data])
    fetched: list[int] = []
    with blobs.open("7/a.zip") as fh:
        raw = fh.raw  # type: ignore[attr-defined]
        fetch = raw.readinto

        def counting(buffer: memoryview) -> int:
            if raw.pos // CHUNK != raw.seq:
                fetched.append(raw.pos // CHUNK)
            return int(fetch(buffer))

        raw.readinto = counting
        with zipfile.ZipFile(fh) as z:
            assert z.read("small.bin") == member
        assert set(fetched) == {3}  # the last chunk holds the member and the directory
        fh.seek(0)
        assert fh.read() == data  # and all of it reads back, in order
        fh.seek(-5, os.SEEK_END)
        assert fh.read() == data[-5:] and fh.read() == b""
    with pytest.raises(FileNotFoundError):
        blobs.open("7/none.zip")


def test_writing_a_name_again_replaces_it_only_when_asked(blobs: DatabaseBlobs) -> None:
    blobs.write(0, "a.eml", [b"first"])
    with pytest.raises(IntegrityError):
        blobs.write(0, "a.eml", [b"second"])
    blobs.write(0, "a.eml", [b"third " * CHUNK], replace=True)
    assert blobs.read("a.eml") == b"third " * CHUNK
    assert _count(blobs, Blob) == 1 and _count(blobs, BlobChunk) == 6

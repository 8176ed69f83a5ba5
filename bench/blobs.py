"""The blob store on PostgreSQL (MAILHUB_BLOB_STORE=postgres): write and read throughput.

500 objects of 32 KB (a typical message) and one of 50 MB (the largest message), each written
from a stream and read back as a stream (a megabyte a chunk), in a fresh database; the figures
are objects and megabytes per second, and how much the process's memory grew for the 50 MB one.

    python bench/blobs.py [--small 500] [--database postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from mailhub.db import make_engine, migrate  # noqa: E402
from mailhub.stores.blobs import CHUNK, DatabaseBlobs  # noqa: E402

PG_ADMIN = os.environ.get("MAILHUB_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--small", type=int, default=500)
    args = p.parse_args()
    name = f"mailhub_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name
    try:
        migrate(url)
        blobs = DatabaseBlobs(make_engine(url), "raw", Path(tempfile.mkdtemp()))
        small = os.urandom(32 * 1024)
        start = time.perf_counter()
        for i in range(args.small):
            blobs.write(1, f"1/small-{i}.eml", [small])
        wrote = time.perf_counter() - start
        start = time.perf_counter()
        for i in range(args.small):
            assert len(blobs.read(f"1/small-{i}.eml")) == len(small)
        read = time.perf_counter() - start
        mb = args.small * len(small) / 2**20
        print(
            f"{args.small} x 32 KB: write {args.small / wrote:.0f}/s ({mb / wrote:.1f} MB/s), "
            f"read {args.small / read:.0f}/s ({mb / read:.1f} MB/s)"
        )

        size = 50 * 2**20
        piece = os.urandom(CHUNK)
        before = peak_rss()
        start = time.perf_counter()
        blobs.write(1, "1/big.eml", (piece for _ in range(size // CHUNK)))
        wrote = time.perf_counter() - start
        start = time.perf_counter()
        total = sum(len(chunk) for chunk in blobs.chunks("1/big.eml"))
        read = time.perf_counter() - start
        assert total == size
        grew = peak_rss() - before
        print(
            f"1 x 50 MB: write {50 / wrote:.1f} MB/s, read {50 / read:.1f} MB/s, "
            f"peak memory grew {grew / 2**20:.0f} MB"
        )
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()

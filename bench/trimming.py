"""Reply trimming, measured: how many replies of a corpus come out exactly as the person wrote
them (whitespace folded), and how fast.

    .venv/bin/python bench/trimming.py [DIR]

DIR holds reply bodies (*.txt) and the expected body of each under DIR/expected/ (default:
tests/mail/replies, the project's own corpus).
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

from mailhub.content.trim import split_reply

ROOT = Path(__file__).resolve().parent.parent


def fold(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "mail" / "replies"
    files = sorted(folder.glob("*.txt"))
    exact, misses = 0, []
    for path in files:
        expected = (folder / "expected" / path.name).read_text("utf-8")
        if fold(split_reply(path.read_text("utf-8")).body) == fold(expected):
            exact += 1
        else:
            misses.append(path.stem)
    texts = [p.read_text("utf-8") for p in files]
    rounds, started = 50, time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            split_reply(text)
    per_reply = (time.perf_counter() - started) / (rounds * len(texts))
    print(f"exact: {exact} of {len(files)}; {per_reply * 1e6:.0f} µs per reply")
    for name in misses:
        print(f"  miss: {name}")


if __name__ == "__main__":
    main()

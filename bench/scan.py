"""How fast the erasure proof reads files through every encoding (mailhub/privacy/scan.py).

An erasure reads every raw message and file of the tenant this way, so its time is the
tenant's bytes divided by this rate.

    python bench/scan.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import time
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailhub.privacy.scan import found  # noqa: E402

NEEDLES = ["bob@acme.example", "bob builder"]


def samples() -> dict[str, bytes]:
    text = EmailMessage()
    text["From"] = "Ann <ann@acme.example>"
    text["Subject"] = "Plan"
    text.set_content("Hello there, the plan for the quarter is attached.\n" * 600)
    html = EmailMessage()
    html["From"] = "Ann <ann@acme.example>"
    html.set_content("Hi, see below.\n" * 50)
    html.add_alternative("<p>Hi&nbsp;there, see&hellip; below.</p>\n" * 800, subtype="html")
    photo = EmailMessage()
    photo["From"] = "Ann <ann@acme.example>"
    photo.set_content("A photo.")
    photo.add_attachment(os.urandom(1_000_000), maintype="image", subtype="jpeg", filename="a.jpg")
    return {
        "32 KB plain text mail": text.as_bytes(),
        "HTML mail (quoted-printable)": html.as_bytes(),
        "mail with a 1 MB photo (base64)": photo.as_bytes(),
        "JSON with escapes": ('{"a": "caf\\u00e9 %s"}\n' % ("x" * 60)).encode() * 2000,
        "1 MB of base64": base64.encodebytes(os.urandom(750_000)),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=float, default=3.0)
    args = p.parse_args()
    for label, data in samples().items():
        assert found(data, NEEDLES) is None
        start, n = time.process_time(), 0
        while time.process_time() - start < args.seconds:
            found(data, NEEDLES)
            n += 1
        rate = len(data) * n / (time.process_time() - start) / 1e6
        print(f"  {label:<34} {len(data) / 1024:8.0f} KB   {rate:6.1f} MB/s of CPU")


if __name__ == "__main__":
    main()

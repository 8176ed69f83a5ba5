"""Property: any bytes at all, random MIME or a mutated real mail, end in a final status.

The pipeline (store, parse, route, mailbox, answer) never raises on content, and whatever it
decides is recorded with a reason.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mailhub.ingress.accept import Envelope, store_inbound
from mailhub.mailboxes import process_inbound
from mailhub.models import InboundMessage, InboundStatus
from mailhub.tasks import Runtime

from helpers import MAIL

pytestmark = [pytest.mark.parametrize("backend", ["sqlite"]), pytest.mark.usefixtures("acme")]

# The realistic corpus: the fixtures and the mail of every client in every language.
SEEDS = [p.read_bytes() for p in sorted([*MAIL.glob("*.eml"), *MAIL.glob("clients/*.eml")])]
# Held for moderation is not final, but it is a decided state with a reason, not a crash.
FINAL = {s.value for s in InboundStatus.final()} | {"held"}

header_names = st.sampled_from(
    ["From", "To", "Subject", "Content-Type", "Content-Transfer-Encoding", "Message-ID",
     "Content-Disposition", "Auto-Submitted", "MIME-Version", "Reply-To", "X-Weird"]
)  # fmt: skip
header_values = st.one_of(
    st.sampled_from(
        [
            "multipart/mixed; boundary=b",
            'multipart/alternative; boundary=""',
            "text/plain; charset=klingon",
            "text/html; charset=utf-7",
            "base64",
            "quoted-printable",
            "=?utf-8?b?!!!?=",
            "=?x-unknown?q?abc?=",
            "attachment; filename*=utf-8''%ff%fe.exe",
            "ann@acme.example",
            "<>",
            '"unterminated <ann@acme.example',
            'image/png; name="a.png"',
            "message/rfc822",
            "multipart/related; type=text/html; boundary=r",
        ]
    ),
    st.text(max_size=60).map(lambda t: t.replace("\n", " ").replace("\r", " ")),
)
mime = st.builds(
    lambda headers, body: (
        "".join(f"{k}: {v}\r\n" for k, v in headers).encode("utf-8", "surrogateescape")
        + b"\r\n"
        + body
    ),
    st.lists(st.tuples(header_names, header_values), max_size=12),
    st.one_of(
        st.binary(max_size=400),
        st.sampled_from(
            [
                b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n",
                b"--b\r\n\r\n",
                b"--r\r\n--r--",
            ]
        ),
    ),
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        action = draw(
            st.sampled_from(["flip", "cut", "insert", "truncate", "repeat", "splice", "nest"])
        )
        if action == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[pos : pos + draw(st.integers(1, 40))]
        elif action == "insert":
            data[pos:pos] = draw(
                st.sampled_from([b"\r\n", b"--", b"=?", b"\x00", b"\xff\xfe", b":", b"boundary="])
            )
        elif action == "repeat":  # a line or run many times over: what a scanner chokes on
            size = draw(st.integers(1, 80))
            data[pos:pos] = bytes(data[pos : pos + size]) * draw(st.integers(2, 2000))
        elif action == "splice":  # another client's mail pasted in (a forward, a bad paste)
            other = draw(st.sampled_from(SEEDS))
            data[pos:pos] = other[: draw(st.integers(0, len(other)))]
        elif action == "nest":  # its MIME wrapped again and again
            for level in range(draw(st.integers(1, 150))):
                data[0:0] = b'Content-Type: multipart/mixed; boundary="n%d"\r\n\r\n--n%d\r\n' % (
                    level,
                    level,
                )
        else:
            del data[pos:]
    return bytes(data)


@settings(
    max_examples=int(os.environ.get("MAILHUB_FUZZ_EXAMPLES", "150")),  # raise it to fuzz longer
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=st.one_of(mime, mutated()))
# Found by this test: a charset label with a NUL in it made decoding raise.
@example(
    raw=b"From: Ann <ann@acme.example>\nTo: sales@acme.example\nSubject: x\n"
    b'Content-Type: text/plain; charset=\x00UTF-8"\n\nhello\n'
)
def test_any_mail_ends_in_a_final_status(runtime: Runtime, raw: bytes) -> None:
    accepted = store_inbound(
        runtime.sessions,
        runtime.raw_store,
        raw,
        Envelope("ann@acme.example", ("sales@acme.example",)),
    )
    inbound_id = accepted[0].inbound_id
    process_inbound(runtime.sessions, runtime.stores, inbound_id)
    with runtime.sessions() as s:
        msg = s.get_one(InboundMessage, inbound_id)
    assert msg.status in FINAL, (msg.status, msg.reason)
    assert msg.reason

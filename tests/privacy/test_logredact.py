"""Log lines are redacted when they are made: no email address, IP address or link secret
reaches any handler, from mailhub's loggers or anyone else's, in messages or tracebacks.
(conftest.py also checks the log of the whole test run for the test users' addresses.)"""

from __future__ import annotations

import io
import logging

from mailhub.privacy import logredact


def _capture(name: str) -> tuple[logging.Logger, io.StringIO]:
    logredact.install()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return logger, stream


def test_addresses_ips_and_tokens_never_reach_a_handler() -> None:
    log, out = _capture("uvicorn.access.test")
    log.info(
        '%s:%d - "GET /t/acme/unsubscribe/%s HTTP/1.1" 200',
        "203.0.113.7",
        52100,
        "Tkoly_bZch7Gz1P1YPEoAC1_Vb0ryMId",
    )
    log.info(
        "mail from %s to %s via 2001:db8::7",
        "Ann@Acme.example",
        "reply+__A2p85uXaL0mMgJzVsmYi3@acme.example",
    )
    try:
        raise ValueError("no such user bob@acme.example")
    except ValueError:
        log.exception("failed for %s at 12:30:45", "bob@acme.example")
    text = out.getvalue()
    for secret in (
        "203.0.113.7",
        "Tkoly_bZch7Gz1P1YPEoAC1_Vb0ryMId",
        "acme.example",
        "2001:db8::7",
        "__A2p85",
    ):
        assert secret not in text, secret
    assert text.count("<ip>") == 2 and "<token>" in text and "12:30:45" in text
    # The same address hashes the same way, so one person's lines can be followed
    ann = logredact.redact("ann@acme.example")
    assert ann == logredact.redact("ANN@acme.example") and ann.startswith("<email:")
    assert "Traceback" in text and "ValueError: no such user <email:" in text

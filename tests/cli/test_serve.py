"""`mailhub serve` as a newcomer runs it: a subprocess, driven with smtplib and HTTP."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from email import policy
from email.parser import BytesParser
from pathlib import Path

import httpx

from conftest import free_port, wait_until
from helpers import MAILHUB, press_sign_in


def test_demo_serve_send_reply(tmp_path: Path) -> None:
    smtp_port, http_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILHUB_")}
    env.update(
        {
            "MAILHUB_DATA_DIR": str(tmp_path / "var"),
            "MAILHUB_SMTP_PORT": str(smtp_port),
            "MAILHUB_HTTP_PORT": str(http_port),
            "MAILHUB_BASE_URL": f"http://127.0.0.1:{http_port}",
        }
    )
    demo = subprocess.run(
        [MAILHUB, "demo"], capture_output=True, text=True, env=env, timeout=60, check=True
    )
    send_line = next(line.strip() for line in demo.stdout.splitlines() if " send --from " in line)
    reply_line = [line.strip() for line in demo.stdout.splitlines() if " send --from " in line][1]

    server = subprocess.Popen(
        [MAILHUB, "serve"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    try:
        banner = [server.stdout.readline() for _ in range(3)] if server.stdout else []
        assert f"smtp://127.0.0.1:{smtp_port}" in "".join(banner)
        http = httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=10)
        wait_until(lambda: _up(http), timeout=30)

        # The command the demo printed, pasted as a newcomer would
        bin_dir = str(Path(sys.executable).parent)
        shell_env = {**env, "PATH": bin_dir + os.pathsep + env.get("PATH", "")}
        sent = subprocess.run(
            send_line, shell=True, capture_output=True, text=True, env=shell_env, timeout=60
        )
        assert sent.returncode == 0, sent.stderr

        outbox = tmp_path / "var" / "outbox"
        # Bob's notification, and Ann's receipt for the page she wrote
        wait_until(lambda: len(list(outbox.glob("*.eml"))) == 2, timeout=30)
        # Signing in with the link the demo's instructions print
        link_line = next(line.strip() for line in demo.stdout.splitlines() if "signin-link" in line)
        link = subprocess.run(
            link_line, shell=True, capture_output=True, text=True, env=shell_env, timeout=60
        )
        assert link.returncode == 0, link.stderr
        signed = press_sign_in(http, link.stdout.strip())
        assert signed.status_code == 303 and signed.headers["location"] == "/t/acme/pages"
        listing = http.get("/t/acme/pages")
        assert "Q3 pipeline review" in listing.text
        page_url = re.search(r'href="(/t/acme/pages/\d+)"', listing.text)
        assert page_url
        page = http.get(page_url.group(1))
        assert page.status_code == 200 and "Bring your numbers." in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'none'")

        mails = [
            BytesParser(policy=policy.default).parsebytes(p.read_bytes())
            for p in outbox.glob("*.eml")
        ]
        listed = subprocess.run(
            [MAILHUB, "outbox", "--json"], capture_output=True, text=True, env=env, timeout=60
        )
        assert sorted(m["name"] for m in json.loads(listed.stdout)) == sorted(
            p.name for p in outbox.glob("*.eml")
        )
        notification = next(m for m in mails if "bob@" in str(m["To"]))
        receipt = next(m for m in mails if "ann@" in str(m["To"]))
        assert "1 person was notified now." in receipt.get_body(("plain",)).get_content()
        assert (
            '"@type":"ViewAction"' in notification.get_body(preferencelist=("html",)).get_content()
        )

        replied = subprocess.run(
            reply_line, shell=True, capture_output=True, text=True, env=shell_env, timeout=60
        )
        assert replied.returncode == 0, replied.stderr
        wait_until(lambda: "Count me in." in http.get(page_url.group(1)).text, timeout=30)
        shown = subprocess.run(
            [MAILHUB, "pages", "show", "acme", page_url.group(1).rsplit("/", 1)[1]],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert "comment 1 by Bob Example" in shown.stdout and "wrote:" not in shown.stdout
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode in (0, -15), shlex.join(["exit", str(server.returncode)])
    # A clean shutdown leaves no write-ahead log beside the database, with old pages in it
    wal = tmp_path / "var" / "mailhub.sqlite3-wal"
    assert not wal.exists() or wal.stat().st_size == 0


def _up(http: httpx.Client) -> bool:
    try:
        return http.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False


def test_web_alone_marks_the_mail_it_causes_due_for_the_workers_sweep(tmp_path: Path) -> None:
    """`mailhub web` without a broker: a sign-in link asked for on its page is not lost in an
    in-memory queue nobody reads; it is marked due for the worker's next sweep."""
    from sqlalchemy import create_engine, text

    http_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILHUB_")}
    env.update({"MAILHUB_DATA_DIR": str(tmp_path / "var"), "MAILHUB_HTTP_PORT": str(http_port)})
    subprocess.run([MAILHUB, "demo"], capture_output=True, env=env, timeout=60, check=True)
    web = subprocess.Popen(
        [MAILHUB, "web"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    try:
        http = httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=10)
        wait_until(lambda: _up(http), timeout=30)
        form = http.get("/t/acme/signin").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf
        asked = http.post(
            "/t/acme/signin", data={"csrf": csrf.group(1), "email": "bob@acme.example"}
        )
        assert "a sign-in link is on its way" in asked.text
        engine = create_engine(f"sqlite:///{tmp_path / 'var' / 'mailhub.sqlite3'}")

        def made() -> list[tuple[str, str, object]]:  # the link is made after the answer
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT kind, status, enqueued_at FROM notifications"))
                return [tuple(r) for r in rows]

        # Settled: the row is made and marked (or a timeout says it never was)
        wait_until(lambda: any(str(due)[:4] == "1970" for _, _, due in made()))
        [(kind, status, due)] = made()
        engine.dispose()
        assert (kind, status, str(due)[:4]) == ("sign_in", "queued", "1970")
        http.get("/t/acme/signin/" + "x" * 43)  # a link's secret in the path
    finally:
        web.terminate()
        web.wait(timeout=30)
    # The access log: a line per request, with method, path, status and time, secrets cut
    log = web.stdout.read() if web.stdout else ""
    assert "Traceback" not in log and "TypeError" not in log, log
    lines = [line for line in log.splitlines() if " mailhub.access " in line]
    assert any(re.search(r"GET /t/acme/signin 200 [\d.]+ ms$", line) for line in lines), log
    assert any(re.search(r"POST /t/acme/signin 200 [\d.]+ ms$", line) for line in lines), log
    assert any("/t/acme/signin/<token> " in line for line in lines), log
    assert "x" * 43 not in log


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its parent's reaping is left


def _status(db: Path, subject: str) -> list[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT status, raw_path FROM inbound_messages")).all()
    finally:
        engine.dispose()
    return [
        status
        for status, raw in rows
        if raw and subject.encode() in (db.parent / "raw" / raw).read_bytes()[:4096]
    ]


def test_a_stuck_or_killed_worker_never_stops_serve(tmp_path: Path) -> None:
    import signal
    import smtplib
    import socket

    smtp_port, http_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILHUB_")}
    env.update(
        {
            "MAILHUB_DATA_DIR": str(tmp_path / "var"),
            "MAILHUB_SMTP_PORT": str(smtp_port),
            "MAILHUB_HTTP_PORT": str(http_port),
            "MAILHUB_LOG_LEVEL": "WARNING",
        }
    )
    subprocess.run([MAILHUB, "demo"], capture_output=True, env=env, timeout=60, check=True)
    server = subprocess.Popen(
        [MAILHUB, "serve"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    db = tmp_path / "var" / "mailhub.sqlite3"
    try:
        http = httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=10)
        wait_until(lambda: _up(http), timeout=30)
        wait_until(lambda: bool(_children(server.pid)), timeout=30)
        [worker] = _children(server.pid)
        # Given a big page mailed in, being processed by the worker
        html = ("<div>" + "<p>Quarterly numbers are in, " * 20 + "</div>\n") * 30000
        big = (
            "From: Ann <ann@acme.example>\r\nTo: sales@acme.example\r\nSubject: Big one\r\n"
            "Content-Type: text/html; charset=utf-8\r\n\r\n" + html
        ).encode()
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as s:
            s.sendmail("ann@acme.example", ["sales@acme.example"], big)
        wait_until(lambda: _status(db, "Big one") == ["processing"], timeout=60, interval=0.01)
        # When the worker is stuck in it for as long as we like
        os.kill(worker, signal.SIGSTOP)
        try:
            # Then SMTP greets and the web answers at once (new mail may wait for the database
            # the stuck worker holds: SQLite has one writer; it is answered 4xx, never lost)
            for _ in range(3):
                with socket.create_connection(("127.0.0.1", smtp_port), timeout=2) as sock:
                    assert sock.recv(512).startswith(b"220")
                assert httpx.get(f"http://127.0.0.1:{http_port}/healthz", timeout=2).json() == {
                    "status": "ok"
                }
        finally:
            # And when it is killed mid-message, the watchdog starts another that finishes it
            os.kill(worker, signal.SIGKILL)
        raw = (
            b"From: Ann <ann@acme.example>\r\nTo: sales@acme.example\r\n"
            b"Subject: Small one\r\n\r\nStill here.\r\n"
        )
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as s:
            s.sendmail("ann@acme.example", ["sales@acme.example"], raw)
        wait_until(lambda: worker not in _children(server.pid) and bool(_children(server.pid)))
        wait_until(
            lambda: (
                _status(db, "Big one") == ["processed"]
                and _status(db, "Small one") == ["processed"]
            ),
            timeout=120,
        )
        assert server.poll() is None  # serve itself never stopped
        from sqlalchemy import create_engine, text

        engine = create_engine(f"sqlite:///{db}")
        with engine.connect() as conn:  # and the message killed mid-way made one page, once
            titles = conn.execute(text("SELECT title FROM pages ORDER BY id")).scalars().all()
        engine.dispose()
        assert titles.count("Big one") == 1 and titles.count("Small one") == 1
        # And when serve itself is killed, its worker does not outlive it
        [child] = _children(server.pid)
        server.kill()
        server.wait(timeout=30)
        wait_until(lambda: not _alive(child), timeout=30)
    finally:
        server.terminate()
        server.wait(timeout=30)

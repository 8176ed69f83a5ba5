"""What operators see: each process's Prometheus endpoint, and JSON log lines."""

from __future__ import annotations

import json
import logging
import os
import signal
import smtplib
import subprocess
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mailhub.cli.main import start_logging
from mailhub.db import migrate, unit_of_work
from mailhub.domain import directory
from mailhub.errors import ConfigError
from mailhub.metrics import serve_metrics
from mailhub.tasks import Runtime

from conftest import free_port, make_settings, wait_until
from helpers import MAILHUB, fixture


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_an_smtp_process_counts_its_replies_by_code(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    settings.data_dir.mkdir(parents=True)
    migrate(settings.effective_database_url)
    rt = Runtime(settings)
    with unit_of_work(rt.sessions) as s:
        t = directory.add_tenant(s, "acme", "acme.example", "Acme")
        directory.add_space(s, t, "sales")
    rt.close()
    smtp_port, metrics_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILHUB_")}
    env.update(
        MAILHUB_DATA_DIR=str(settings.data_dir),
        MAILHUB_SMTP_PORT=str(smtp_port),
        MAILHUB_METRICS_PORT=str(metrics_port),
    )
    server = subprocess.Popen([MAILHUB, "smtp"], env=env, stdout=subprocess.PIPE)
    try:
        assert server.stdout is not None and server.stdout.readline()  # listening
        with smtplib.SMTP("127.0.0.1", smtp_port) as client:
            client.sendmail("ann@acme.example", ["sales@acme.example"], fixture("page_plain.eml"))
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                client.sendmail("ann@acme.example", ["nobody@else.example"], b"Subject: x\r\n\r\n")
        seen = scrape(metrics_port)
        assert seen[("mailhub_smtp_replies_total", (("code", "250"),))] == 1
        assert seen[("mailhub_smtp_replies_total", (("code", "550"),))] == 1
        # Committed due, nothing processed it (no worker): the queue is behind, the store holds it
        assert seen[("mailhub_queue_lag_seconds", (("queue", "inbound"),))] >= 0
        # (smtplib sends the fixture's bare line ends as CRLF)
        assert seen[("mailhub_blob_store_bytes", (("store", "raw"),))] >= len(
            fixture("page_plain.eml")
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def test_the_worker_side_counts_final_statuses_latency_and_sweeps(
    runtime: Runtime, acme: dict[str, int], smtp: object
) -> None:
    port = free_port()
    serve_metrics("127.0.0.1", port, runtime.sessions)
    before = scrape(port)
    with smtplib.SMTP("127.0.0.1", smtp.port) as client:  # type: ignore[attr-defined]
        client.sendmail("ann@acme.example", ["sales@acme.example"], fixture("page_plain.eml"))

    def processed() -> float:
        return scrape(port).get(("mailhub_inbound_final_total", (("status", "processed"),)), 0)

    wait_until(
        lambda: (
            processed() > before.get(("mailhub_inbound_final_total", (("status", "processed"),)), 0)
        )
    )
    runtime.sweep()
    seen = scrape(port)
    assert seen[("mailhub_processing_seconds_count", ())] >= 1
    assert seen[("mailhub_sweeper_runs_total", (("job", "sweep"),))] >= 1
    assert seen[("mailhub_queue_lag_seconds", (("queue", "inbound"),))] == 0  # all final


def test_a_port_that_is_taken_is_one_clear_line(tmp_path: Path) -> None:
    port = free_port()
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAILHUB_")}
        env.update(
            MAILHUB_DATA_DIR=str(tmp_path / "var"),
            MAILHUB_METRICS_PORT=str(port),
            MAILHUB_SMTP_PORT=str(free_port()),
        )
        subprocess.run([MAILHUB, "migrate"], env=env, check=True, capture_output=True)
        result = subprocess.run(
            [MAILHUB, "smtp"], env=env, capture_output=True, text=True, timeout=60
        )
    assert result.returncode != 0
    assert f"cannot serve metrics on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_json_log_lines_are_one_redacted_object_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers = []
    try:
        start_logging(make_settings(tmp_path, MAILHUB_LOG_FORMAT="json"))
        logging.getLogger("mailhub.test").warning("bounce from %s", "ann@acme.example")
        try:
            raise ValueError("broken")
        except ValueError:
            logging.getLogger("mailhub.test").exception("it failed")
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    finally:
        root.handlers, root.level = saved[0], saved[1]
    first, second = lines[-2], lines[-1]
    assert first["level"] == "WARNING" and first["logger"] == "mailhub.test"
    assert "ann@acme.example" not in first["message"] and "bounce from" in first["message"]
    assert "ValueError: broken" in second["exception"]
    with pytest.raises(ConfigError, match="MAILHUB_LOG_FORMAT must be text or json"):
        start_logging(make_settings(tmp_path, MAILHUB_LOG_FORMAT="xml"))

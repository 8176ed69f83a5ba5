"""Settings: read once, cast, validated loudly, secrets masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailhub import config
from mailhub.errors import ConfigError


def test_defaults_are_the_embedded_default() -> None:
    s = config.load({})
    assert s.data_dir == Path("var") and s.outbox_dir == Path("var/outbox")
    assert s.effective_database_url.startswith("sqlite:///") and s.effective_database_url.endswith(
        "var/mailhub.sqlite3"
    )
    assert (
        s.broker_url == ""
        and s.smtp_port == 2525
        and s.http_port == 8000
        and s.relay_address is None
    )


def test_values_are_cast() -> None:
    s = config.load(
        {
            "MAILHUB_SMTP_PORT": "2626",
            "MAILHUB_SWEEP_GRACE": "1.5",
            "MAILHUB_SMTP_RELAY": "mx.internal:25",
        }
    )
    assert s.smtp_port == 2626 and s.sweep_grace == 1.5 and s.relay_address == ("mx.internal", 25)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MAILHUB_SMTP_PORT": "smtp"}, "MAILHUB_SMTP_PORT='smtp' is not a valid int"),
        ({"MAILHUB_HTTP_PORT": "70000"}, "not a TCP port"),
        ({"MAILHUB_DATABASE_URL": "mysql://x"}, "must start with sqlite:// or postgresql://"),
        ({"MAILHUB_BROKER_URL": "kafka://x"}, "MAILHUB_BROKER_URL must be empty"),
        ({"MAILHUB_BASE_URL": "intranet"}, "must be an http(s) URL"),
        ({"MAILHUB_SMTP_RELAY": "mx.internal"}, "must be host:port"),
        ({"MAILHUB_SMPT_PORT": "25"}, "unknown setting MAILHUB_SMPT_PORT"),
        ({"MAILHUB_WORKER_THREADS": "0"}, "at least 1"),
        ({"MAILHUB_BASE_URL": "https://intranet.acme.example"}, "MAILHUB_SECRET_KEY must be set"),
        ({"MAILHUB_SECRET_KEY": "short"}, "at least 16 characters"),
    ],
)
def test_bad_configuration_is_one_clear_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        config.load(env)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_secrets_are_masked() -> None:
    s = config.load(
        {
            "MAILHUB_SECRET_KEY": "s3cr3t-value-long-enough",
            "MAILHUB_DATABASE_URL": "postgresql+psycopg://app:hunter2@db:5432/mailhub",
            "MAILHUB_SMTP_RELAY_PASSWORD": "relaypass",
        }
    )
    shown = "\n".join(f"{k}={v}" for k, v in s.masked().items())
    for secret in ("s3cr3t-value-long-enough", "hunter2", "relaypass"):
        assert secret not in shown
    assert "postgresql+psycopg://app:****@db:5432/mailhub" in shown


def test_the_blob_store_setting_is_checked(tmp_path: Path) -> None:
    from mailhub.errors import ConfigError
    from mailhub.stores import in_database

    assert not in_database(config.load({"MAILHUB_DATA_DIR": str(tmp_path)}))
    with pytest.raises(ConfigError, match="must be files or postgres, not 's3'"):
        in_database(config.load({"MAILHUB_DATA_DIR": str(tmp_path), "MAILHUB_BLOB_STORE": "s3"}))
    with pytest.raises(ConfigError, match="needs MAILHUB_DATABASE_URL=postgresql"):
        in_database(
            config.load({"MAILHUB_DATA_DIR": str(tmp_path), "MAILHUB_BLOB_STORE": "postgres"})
        )

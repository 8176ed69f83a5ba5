"""Settings: every MAILHUB_* environment variable, read once into one typed object.

Nothing else in mailhub reads the environment; the settings object is passed explicitly (the
lesson Mailman 3 wrote down about its global config). A bad value fails loudly with one line.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from mailhub.errors import ConfigError

PREFIX = "MAILHUB_"
DEV_SECRET = "dev-insecure-secret-change-me"
SECRET_FIELDS = frozenset({"secret_key", "database_url", "broker_url", "smtp_relay_password"})


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("var")
    database_url: str = ""  # empty: SQLite file under data_dir
    broker_url: str = ""  # empty: in-process broker; redis://… or amqp://…
    queue_prefix: str = "mailhub"  # Redis namespace and RabbitMQ queue prefix
    base_url: str = "http://127.0.0.1:8000"
    secret_key: str = DEV_SECRET
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    smtp_relay: str = ""  # host:port; empty: write .eml files to data_dir/outbox
    smtp_relay_user: str = ""
    smtp_relay_password: str = ""
    max_message_size: int = 25 * 1024 * 1024
    max_attachment_size: int = 20 * 1024 * 1024
    sender_rate_limit: int = (
        300  # messages per sender and tenant per hour and SMTP process; 0: none
    )
    # Postfix's habits at the door: recipients per message (then 452 4.5.3), connections at
    # once per SMTP process (then 421 4.7.0).
    max_recipients: int = 100
    # Seconds one message may be processed before it is stopped (and counted as an attempt).
    process_timeout: float = 60.0
    max_connections: int = 100
    max_connections_per_client: int = 50
    worker_threads: int = 4
    sweep_interval: float = 30.0  # seconds between sweeps for lost jobs
    sweep_grace: float = 60.0  # how long a job may stay queued before it counts as lost
    send_lease: float = 300.0  # how long a claimed notification is left to its sender
    # Housekeeping (stray files, retention, due-date warnings, backups) runs this often, by one
    # worker of the cluster; that worker's hold on it (and on each IMAP mailbox it reads) lapses
    # this many seconds after it stops renewing it, say because it was killed.
    housekeeping_every: float = 3600.0
    leader_lease: float = 60.0
    raw_retention_days: int = 30  # raw mail kept this long after it is final…
    rejected_retention_days: int = 7  # …and rejected, bounced or ignored mail this long
    outbox_retention_days: int = 30  # mail in the outbox (no relay set) is deleted after this
    allowed_image_hosts: str = ""  # comma-separated hosts whose https images pages may show
    trusted_authserv_ids: str = ""  # comma-separated: whose Authentication-Results to believe
    dns_server: str = ""  # host:port of the one DNS server to ask; empty: the system's resolver
    # The host name other servers deliver the tenants' mail to (their MX target), for
    # `mailhub doctor`; empty: the base URL's host.
    mx_host: str = ""
    imap_poll_interval: float = 30.0  # seconds between checks when a server has no IDLE
    dkim_key_dir: str = ""  # PEM private keys named DOMAIN.pem; empty: mail goes out unsigned
    dkim_selector: str = "mailhub"  # the DNS record is SELECTOR._domainkey.DOMAIN
    # A JWK set URL (Google's: https://www.googleapis.com/oauth2/v3/certs) to verify the bearer
    # token Gmail sends with a ConfirmAction; empty: the token in the URL is the only check.
    google_action_certs: str = ""
    hourly_digest_minute: int = 0  # digests are cut at this minute of the hour…
    daily_digest_hour: int = 7  # …daily ones at this hour (UTC), weekly ones on Monday then
    log_level: str = "INFO"
    log_format: str = "text"  # or "json": one JSON object per line, for a log collector
    # Prometheus metrics of each process at http://METRICS_HOST:METRICS_PORT/metrics; 0: none.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 0
    # A file to log to, rotated at midnight and deleted after log_retention_days; empty: stderr
    # (rotate that with logrotate, README).
    log_file: str = ""
    log_retention_days: int = 14
    # Backups: how many to keep per tenant (strict: `backup create` prunes the rest), and where
    # the keys that open them live; empty: data_dir/keys. Never inside the backups directory.
    backup_keep: int = 14
    backup_every_hours: int = 0  # the worker backs up each tenant this often; 0: only by hand
    key_dir: str = ""
    # "postgres": raw mail, attachments and thumbnails in the database, so SMTP, worker and web
    # hosts share nothing else (stores/blobs.py); "files": under data_dir, as on one machine.
    blob_store: str = "files"

    # Derived, never read from the environment.
    raw_dir: Path = field(init=False)
    files_dir: Path = field(init=False)
    outbox_dir: Path = field(init=False)
    exports_dir: Path = field(init=False)
    backups_dir: Path = field(init=False)
    keys_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "raw_dir", self.data_dir / "raw")
        object.__setattr__(self, "files_dir", self.data_dir / "files")
        object.__setattr__(self, "outbox_dir", self.data_dir / "outbox")
        object.__setattr__(self, "exports_dir", self.data_dir / "exports")
        object.__setattr__(self, "backups_dir", self.data_dir / "backups")
        object.__setattr__(
            self, "keys_dir", Path(self.key_dir) if self.key_dir else self.data_dir / "keys"
        )

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'mailhub.sqlite3').resolve()}"

    @property
    def relay_address(self) -> tuple[str, int] | None:
        if not self.smtp_relay:
            return None
        host, _, port = self.smtp_relay.rpartition(":")
        return host, int(port)

    def masked(self) -> dict[str, str]:
        """The effective values as text, with secrets hidden (for `mailhub config`)."""
        shown: dict[str, str] = {}
        for f in dataclasses.fields(self):
            if not f.init:
                continue
            value = str(getattr(self, f.name))
            if f.name in SECRET_FIELDS and value:
                value = _mask(f.name, value)
            shown[PREFIX + f.name.upper()] = value
        shown["(database in use)"] = _mask("database_url", self.effective_database_url)
        return shown


def _mask(name: str, value: str) -> str:
    if name in ("database_url", "broker_url"):
        parts = urlsplit(value)
        if parts.password:
            return value.replace(f":{parts.password}@", ":****@")
        return value
    return "****"


def known_variables() -> frozenset[str]:
    return frozenset(PREFIX + f.name.upper() for f in dataclasses.fields(Settings) if f.init)


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """Read, cast and validate every MAILHUB_* variable; raise ConfigError on the first bad one."""
    env = os.environ if environ is None else environ
    unknown = sorted(k for k in env if k.startswith(PREFIX) and k not in known_variables())
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]} (see `mailhub config` for the known ones)")
    values: dict[str, object] = {}
    for f in dataclasses.fields(Settings):
        key = PREFIX + f.name.upper()
        if not f.init or key not in env:
            continue
        raw = env[key].strip()
        values[f.name] = _cast(key, raw, f.default)
    settings = Settings(**values)  # type: ignore[arg-type]
    _validate(settings)
    return settings


def _cast(key: str, raw: str, default: object) -> object:
    try:
        if isinstance(default, bool):
            return raw.lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, Path):
            return Path(raw)
    except ValueError:
        kind = type(default).__name__
        raise ConfigError(f"{key}={raw!r} is not a valid {kind}") from None
    return raw


def _validate(s: Settings) -> None:
    for key, port in (("SMTP_PORT", s.smtp_port), ("HTTP_PORT", s.http_port)):
        if not 0 <= port <= 65535:
            raise ConfigError(f"MAILHUB_{key}={port} is not a TCP port (0-65535)")
    if s.database_url and not s.database_url.startswith(("sqlite", "postgresql")):
        raise ConfigError(
            f"MAILHUB_DATABASE_URL must start with sqlite:// or postgresql://, "
            f"not {s.database_url.split(':', 1)[0]!r}"
        )
    if s.broker_url and not s.broker_url.startswith(
        ("redis://", "rediss://", "amqp://", "amqps://")
    ):
        raise ConfigError("MAILHUB_BROKER_URL must be empty, redis://… or amqp://…")
    base = urlsplit(s.base_url)
    if base.scheme not in ("http", "https") or not base.netloc:
        raise ConfigError(f"MAILHUB_BASE_URL={s.base_url!r} must be an http(s) URL")
    if base.scheme == "https" and s.secret_key == DEV_SECRET:
        # An https base URL means a real deployment: links in mail must not be forgeable.
        raise ConfigError("MAILHUB_SECRET_KEY must be set to a long random value in production")
    if len(s.secret_key) < 16:
        raise ConfigError("MAILHUB_SECRET_KEY must be at least 16 characters")
    if s.smtp_relay:
        relay_host, sep, relay_port = s.smtp_relay.rpartition(":")
        if not sep or not relay_host or not relay_port.isdigit():
            raise ConfigError(f"MAILHUB_SMTP_RELAY={s.smtp_relay!r} must be host:port")
    if s.max_message_size < 1024:
        raise ConfigError("MAILHUB_MAX_MESSAGE_SIZE must be at least 1024 bytes")
    if s.raw_retention_days < 1 or s.rejected_retention_days < 1:
        raise ConfigError(
            "MAILHUB_RAW_RETENTION_DAYS and MAILHUB_REJECTED_RETENTION_DAYS must be at least 1"
        )
    if s.outbox_retention_days < 1:
        raise ConfigError("MAILHUB_OUTBOX_RETENTION_DAYS must be at least 1")
    if s.dns_server:
        dns_host, sep, dns_port = s.dns_server.rpartition(":")
        if not sep or not dns_host or not dns_port.isdigit():
            raise ConfigError(f"MAILHUB_DNS_SERVER={s.dns_server!r} must be host:port")
    if s.dkim_key_dir and not Path(s.dkim_key_dir).is_dir():
        raise ConfigError(f"MAILHUB_DKIM_KEY_DIR={s.dkim_key_dir!r} is not a directory")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", s.dkim_selector):
        raise ConfigError(f"MAILHUB_DKIM_SELECTOR={s.dkim_selector!r} is not a DNS label")
    if s.google_action_certs and not s.google_action_certs.startswith(("https://", "http://")):
        raise ConfigError("MAILHUB_GOOGLE_ACTION_CERTS must be an http(s) URL of a JWK set")
    if not 0 <= s.hourly_digest_minute <= 59 or not 0 <= s.daily_digest_hour <= 23:
        raise ConfigError(
            "MAILHUB_HOURLY_DIGEST_MINUTE must be 0-59 and MAILHUB_DAILY_DIGEST_HOUR 0-23"
        )
    if min(s.max_recipients, s.max_connections, s.max_connections_per_client) < 1:
        raise ConfigError(
            "MAILHUB_MAX_RECIPIENTS, MAILHUB_MAX_CONNECTIONS and "
            "MAILHUB_MAX_CONNECTIONS_PER_CLIENT must be at least 1"
        )
    if s.process_timeout <= 0:
        raise ConfigError("MAILHUB_PROCESS_TIMEOUT must be more than 0 seconds")
    if s.worker_threads < 1:
        raise ConfigError("MAILHUB_WORKER_THREADS must be at least 1")
    if s.backup_every_hours < 0:
        raise ConfigError("MAILHUB_BACKUP_EVERY_HOURS must be 0 (off) or more")
    if s.log_retention_days < 1 or s.backup_keep < 1:
        raise ConfigError("MAILHUB_LOG_RETENTION_DAYS and MAILHUB_BACKUP_KEEP must be at least 1")
    if s.keys_dir.resolve().is_relative_to(s.backups_dir.resolve()):
        raise ConfigError("MAILHUB_KEY_DIR must not be inside the backups directory")
    if s.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError("MAILHUB_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")

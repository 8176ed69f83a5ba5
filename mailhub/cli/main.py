"""`mailhub`: parse the command line, load the settings once, set up logging, run the command.

Only the module that defines the command asked for is imported (they import the database,
mail and web layers), so `mailhub --help` and a mistyped command answer at once; the other
commands appear in the help from the table below, which a test keeps equal to what the
modules register.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Iterable, Sequence

from mailhub import config
from mailhub.cli import exits
from mailhub.cli.parser import Commands, Handler
from mailhub.config import Settings
from mailhub.errors import ConfigError
from mailhub.privacy import logredact

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


# command: (its help, the modules of mailhub/cli that add to it)
COMMANDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "serve": ("run everything in one process on the embedded default", ("servers",)),
    "smtp": ("run the SMTP ingress", ("servers",)),
    "web": ("run the web server", ("servers",)),
    "worker": ("run a queue worker (needs MAILHUB_BROKER_URL)", ("servers",)),
    "imap": ("read the configured IMAP mailboxes", ("servers",)),
    "imap-account": ("IMAP mailboxes mailhub reads", ("servers",)),
    "migrate": ("create or upgrade the database schema", ("servers",)),
    "config": ("print the effective settings, secrets masked", ("servers",)),
    "demo": ("create a demo tenant and print a command that mails it", ("tools",)),
    "send": ("send a mail to mailhub's SMTP port (for trying it out)", ("tools",)),
    "outbox": ("the mail written instead of sent when no relay is set", ("tools",)),
    "doctor": (
        "check each tenant's domain: MX, SPF, DKIM, DMARC, https and Gmail's action buttons",
        ("tools",),
    ),
    "tenant": ("manage tenants", ("directory", "privacy")),
    "user": ("manage users", ("directory",)),
    "space": ("manage spaces", ("directory",)),
    "subscriptions": ("who hears about what, and how often", ("directory",)),
    "follow": (
        "make a user watch a space (subscriptions set --level watching)",
        ("directory",),
    ),
    "backup": ("encrypted per-tenant backups", ("privacy",)),
    "privacy": ("people's rights over their data", ("privacy",)),
    "breach": ("the register of data breaches", ("privacy",)),
    "retention": ("data retention", ("privacy",)),
    "digests": ("digest mail", ("content",)),
    "forms": ("forms made by mail", ("content",)),
    "pages": ("read pages", ("content",)),
    "inbound": ("inspect inbound mail", ("content",)),
    "search": ("the search index", ("content",)),
    "files": ("the file store", ("content",)),
    "moderation": ("mail held because its sender was not authenticated", ("content",)),
}
MODULES = ("servers", "tools", "directory", "privacy", "content")


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    asked = next((w for w in words if not w.startswith("-")), "")
    args = build_parser(COMMANDS.get(asked, ("", ()))[1]).parse_args(words)
    handler: Handler = args.handler

    def command() -> int:
        settings = config.load()
        start_logging(settings)
        return handler(args, settings)

    return exits.run(command)


def build_parser(modules: Iterable[str] = MODULES) -> argparse.ArgumentParser:
    """The parser with the commands of `modules` in full, and every other command by name."""
    p = argparse.ArgumentParser(
        prog="mailhub", description="Email as the front door of your intranet."
    )
    commands = Commands(p.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    for name in modules:
        importlib.import_module(f"mailhub.cli.{name}").register(commands)
    for name, (help_, _modules) in COMMANDS.items():
        if name not in commands.names:
            commands.add(name, _unloaded, help_)
    return p


def _unloaded(_args: argparse.Namespace, _settings: Settings) -> int:
    raise AssertionError("main loads the module of the command it runs")


class JsonLines(logging.Formatter):
    """One JSON object per line (MAILHUB_LOG_FORMAT=json), already redacted (logredact)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


def start_logging(settings: Settings) -> None:
    logredact.install()  # no addresses, IPs or link secrets in any log line
    if settings.log_format not in ("text", "json"):
        raise ConfigError(f"MAILHUB_LOG_FORMAT must be text or json, not {settings.log_format!r}")
    formatter = JsonLines() if settings.log_format == "json" else logging.Formatter(LOG_FORMAT)
    logging.basicConfig(level=settings.log_level.upper(), format=LOG_FORMAT)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
    if settings.log_file:  # rotated at midnight (UTC), kept log_retention_days days
        from logging.handlers import TimedRotatingFileHandler

        rotating = TimedRotatingFileHandler(
            settings.log_file,
            when="midnight",
            backupCount=settings.log_retention_days,
            utc=True,
            encoding="utf-8",
        )
        rotating.setFormatter(formatter)
        logging.getLogger().addHandler(rotating)
    for noisy in ("alembic", "mail.log"):  # both log every step, addresses included
        logging.getLogger(noisy).setLevel(logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())

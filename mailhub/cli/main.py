"""`mailhub`: parse the command line, load the settings once, set up logging, run the command."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from mailhub import config
from mailhub.cli import content, directory, exits, privacy, servers, tools
from mailhub.cli.parser import Commands, Handler
from mailhub.config import Settings
from mailhub.privacy import logredact

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler

    def command() -> int:
        settings = config.load()
        start_logging(settings)
        return handler(args, settings)

    return exits.run(command)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mailhub", description="Email as the front door of your intranet."
    )
    commands = Commands(p.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    for module in (servers, tools, directory, privacy, content):
        module.register(commands)
    return p


def start_logging(settings: Settings) -> None:
    logredact.install()  # no addresses, IPs or link secrets in any log line
    logging.basicConfig(level=settings.log_level.upper(), format=LOG_FORMAT)
    if settings.log_file:  # rotated at midnight (UTC), kept log_retention_days days
        from logging.handlers import TimedRotatingFileHandler

        rotating = TimedRotatingFileHandler(
            settings.log_file,
            when="midnight",
            backupCount=settings.log_retention_days,
            utc=True,
            encoding="utf-8",
        )
        rotating.setFormatter(logging.Formatter(LOG_FORMAT))
        logging.getLogger().addHandler(rotating)
    for noisy in ("alembic", "mail.log"):  # both log every step, addresses included
        logging.getLogger(noisy).setLevel(logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())

"""For trying mailhub out: `demo` makes a tenant to mail, `send` mails it."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys

from mailhub.cli.opening import prepare_data_dir
from mailhub.cli.parser import Commands
from mailhub.config import Settings
from mailhub.db import make_engine, migrate, unit_of_work
from mailhub.domain.search import session_factory


def register(commands: Commands) -> None:
    add = commands.add
    demo = add("demo", cmd_demo, "create a demo tenant and print a command that mails it")
    demo.add_argument("--domain", default="acme.example")

    send = add("send", cmd_send, "send a mail to mailhub's SMTP port (for trying it out)")
    send.add_argument("--from", dest="sender", required=True)
    send.add_argument("--to")
    send.add_argument("--subject", default="")
    send.add_argument("--body", required=True)
    send.add_argument(
        "--reply-to-file",
        help="an .eml from the outbox to reply to (sets the "
        "recipient, subject and threading, and quotes it)",
    )


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.cli.demo import create_demo

    prepare_data_dir(settings)
    migrate(settings.effective_database_url)
    with unit_of_work(session_factory(make_engine(settings.effective_database_url))) as s:
        print(create_demo(s, settings, _invoked_as()))
    return 0


def _invoked_as() -> str:
    """How this process was started, so printed commands can be pasted as they are."""
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else "mailhub"
    if os.path.basename(argv0) != "mailhub":
        return "mailhub"
    if os.sep not in argv0 or shutil.which("mailhub") == os.path.abspath(argv0):
        return "mailhub"
    return shlex.quote(argv0)


def cmd_send(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.cli.sendmail import send_mail

    print(send_mail(settings, args.sender, args.to, args.subject, args.body, args.reply_to_file))
    return 0

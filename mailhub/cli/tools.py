"""For trying mailhub out: `demo` makes a tenant to mail, `send` mails it; and for setting
it up: `doctor` checks each tenant's domain as the mail world sees it."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from pathlib import Path

from mailhub.cli.opening import prepare_data_dir, sessions
from mailhub.cli.output import print_json
from mailhub.cli.parser import Commands
from mailhub.config import Settings
from mailhub.db import make_engine, migrate, unit_of_work
from mailhub.dns import Lookups
from mailhub.domain.search import session_factory
from mailhub.outbound.doctor import MailSetup, check_domain
from mailhub.outbound.signing import DkimSigner


def register(commands: Commands) -> None:
    add = commands.add
    demo = add("demo", cmd_demo, "create a demo tenant and print a command that mails it")
    demo.add_argument("--domain", default="acme.example")

    send = add("send", cmd_send, "send a mail to mailhub's SMTP port (for trying it out)")
    send.add_argument("--from", dest="sender", required=True)
    send.add_argument("--to")
    send.add_argument("--subject", default="")
    send.add_argument("--body", required=True)
    doctor = add(
        "doctor",
        cmd_doctor,
        "check each tenant's domain: MX, SPF, DKIM, DMARC, https and Gmail's action buttons",
    )
    doctor.add_argument("tenant", nargs="?", help="default: every tenant")
    doctor.add_argument("--json", action="store_true")
    outbox = add(
        "outbox",
        cmd_outbox,
        "the mail written instead of sent when no relay is set",
    )
    outbox.add_argument("name", nargs="?", help="a NAME.eml from the list: printed as it is")
    outbox.add_argument("--to", help="only mail to this address")
    outbox.add_argument("--json", action="store_true")
    send.add_argument(
        "--reply-to-file",
        help="an .eml file, or a name `mailhub outbox` lists, to reply to (sets the "
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


def mail_setup(settings: Settings) -> MailSetup:
    """What the doctor compares the DNS with: this installation's URL, MX host and key."""
    signer = (
        DkimSigner.from_dir(Path(settings.dkim_key_dir), settings.dkim_selector)
        if settings.dkim_key_dir
        else None
    )
    return MailSetup(
        settings.base_url, settings.mx_host, signer, settings.dkim_selector, settings.smtp_relay
    )


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.domain import directory

    with sessions(settings)() as s:
        tenants = [(t.slug, t.domain) for t in directory.tenants_named(s, args.tenant)]
    lookups, setup = Lookups(settings.dns_server), mail_setup(settings)
    report = {slug: check_domain(lookups, setup, slug, domain) for slug, domain in tenants}
    if args.json:
        print_json({slug: [f.as_json() for f in found] for slug, found in report.items()})
    else:
        for slug, domain in tenants:
            for f in report[slug]:
                print(f"{domain:<24} {f.level:<4}  {f.check:<5}  {f.text}")
        if not tenants:
            print("no tenants yet")
    return 1 if any(f.level == "fix" for found in report.values() for f in found) else 0


def cmd_outbox(args: argparse.Namespace, settings: Settings) -> int:
    from email import policy
    from email.parser import BytesHeaderParser

    from mailhub.cli.output import listing
    from mailhub.stores import outbox

    box = outbox(settings)
    if args.name:
        sys.stdout.buffer.write(box.read(args.name))
        sys.stdout.flush()
        return 0
    rows = []
    wanted = (args.to or "").strip().lower()
    for name, path in box.files():
        with open(path, "rb") as fh:  # the header block only
            head = BytesHeaderParser(policy=policy.default).parse(fh)
        to = str(head.get("To", ""))
        if wanted and wanted not in to.lower():
            continue
        rows.append({"name": name, "to": to, "subject": str(head.get("Subject", ""))})
    listing(args, rows, ("name", "to", "subject"), "the outbox is empty")
    return 0


def cmd_send(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.cli.sendmail import send_mail

    print(send_mail(settings, args.sender, args.to, args.subject, args.body, args.reply_to_file))
    return 0

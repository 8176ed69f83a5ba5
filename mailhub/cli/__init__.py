"""The `mailhub` command: servers, admin and scripting, one parser for all.

Every command turns its arguments into plain values and calls one domain function. Errors are
one line on stderr and a non-zero exit (1 refused, 2 usage), never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import shlex
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError, SQLAlchemyError

from mailhub import config
from mailhub.config import Settings
from mailhub.db import make_engine, migrate, schema_is_current, unit_of_work
from mailhub.domain import directory, forms, preferences
from mailhub.domain.queries import list_pages, page_view
from mailhub.domain.search import session_factory
from mailhub.errors import ConfigError, InvalidInput, MailhubError
from mailhub.models import Breach, SubjectKind
from mailhub.privacy import logredact, objections
from mailhub.privacy.erasure import Outcome
from mailhub.stores.files import FileStore
from mailhub.web.gmail import GoogleBearer

log = logging.getLogger("mailhub")

Handler = Callable[[argparse.Namespace, Settings], int]


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _sessions(settings: Settings):  # type: ignore[no-untyped-def]
    engine = make_engine(settings.effective_database_url)
    if not schema_is_current(engine):
        raise ConfigError("the database schema is not current: run `mailhub migrate` first")
    return session_factory(engine)


def _prepare_data_dir(settings: Settings) -> None:
    for path in (settings.data_dir, settings.raw_dir, settings.files_dir, settings.outbox_dir):
        path.mkdir(parents=True, exist_ok=True)


# Servers --------------------------------------------------------------------------------------


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    _prepare_data_dir(settings)
    migrate(settings.effective_database_url)
    print("database is up to date")
    return 0


def cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    for key, value in settings.masked().items():
        print(f"{key}={value}")
    return 0


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(3600):
        pass


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Everything in one process on the embedded default."""
    import uvicorn

    from mailhub.ingress.smtp import MailhubHandler, SmtpServer
    from mailhub.tasks import Runtime
    from mailhub.web.app import create_app

    _prepare_data_dir(settings)
    migrate(settings.effective_database_url)
    runtime = Runtime(settings)
    worker = runtime.worker()
    worker.start()
    stop = threading.Event()
    runtime.start_sweeper(stop)
    handler = MailhubHandler(
        runtime.sessions,
        runtime.raw_store,
        runtime.enqueue_inbound,
        sender_rate_limit=settings.sender_rate_limit,
    )
    smtp = SmtpServer(handler, settings.smtp_host, settings.smtp_port, settings.max_message_size)
    smtp.start()
    pollers = runtime.start_imap_pollers(stop)
    outbox = settings.smtp_relay or f"{settings.outbox_dir}/ (as .eml files)"
    print(f"mailhub is running on {settings.effective_database_url.split('://')[0]}", flush=True)
    print(f"  send mail to   smtp://{settings.smtp_host}:{settings.smtp_port}", flush=True)
    print(f"  read pages at  http://{settings.http_host}:{settings.http_port}/", flush=True)
    print(f"  outgoing mail  {outbox}", flush=True)
    if pollers:
        print(f"  reading {len(pollers)} IMAP mailbox(es)", flush=True)
    print("  stop with Ctrl-C", flush=True)
    try:
        uvicorn.run(
            create_app(
                runtime.sessions,
                runtime.files,
                _gmail(settings),
                runtime.enqueue_notifications,
                settings.base_url,
                exports=settings.exports_dir,
            ),
            host=settings.http_host,
            port=settings.http_port,
            log_level="warning",
        )
    finally:
        stop.set()
        smtp.stop()
        worker.stop()
        runtime.close()
    return 0


def cmd_smtp(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.ingress.smtp import MailhubHandler, SmtpServer
    from mailhub.tasks import Runtime

    _sessions(settings)  # fails clearly when the schema is not current
    runtime = Runtime(settings)
    handler = MailhubHandler(
        runtime.sessions,
        runtime.raw_store,
        runtime.enqueue_inbound,
        sender_rate_limit=settings.sender_rate_limit,
    )
    # SO_REUSEPORT: run one `mailhub smtp` per core on the same port; the kernel spreads
    # connections across them.
    smtp = SmtpServer(
        handler, settings.smtp_host, settings.smtp_port, settings.max_message_size, reuse_port=True
    )
    smtp.start()
    print(f"mailhub smtp listening on {settings.smtp_host}:{settings.smtp_port}", flush=True)
    try:
        _wait_for_signal()
    finally:
        smtp.stop()
        runtime.close()
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.tasks import Runtime

    if not settings.broker_url:
        raise ConfigError(
            "`mailhub worker` needs MAILHUB_BROKER_URL (redis://… or amqp://…); "
            "`mailhub serve` runs an in-process worker instead"
        )
    _sessions(settings)
    runtime = Runtime(settings)
    worker = runtime.worker()
    worker.start()
    stop = threading.Event()
    runtime.start_sweeper(stop)
    print(f"mailhub worker running with {settings.worker_threads} threads", flush=True)
    try:
        _wait_for_signal()
    finally:
        stop.set()
        worker.stop()
        runtime.close()
    return 0


def cmd_imap(args: argparse.Namespace, settings: Settings) -> int:
    """Read every configured mailbox: once (--once), or until stopped."""
    from mailhub.ingress.imap import ImapPoller, list_accounts
    from mailhub.tasks import Runtime

    _sessions(settings)
    runtime = Runtime(settings)
    try:
        if args.once:
            with runtime.sessions() as s:
                accounts = list_accounts(s)
            for account in accounts:
                poller = ImapPoller(
                    runtime.sessions,
                    runtime.raw_store,
                    runtime.enqueue_inbound,
                    account.id,
                    settings.secret_key,
                )
                count = poller.run_once()
                print(f"{account.username}@{account.host}/{account.folder}: {count} new")
            return 0
        stop = threading.Event()
        pollers = runtime.start_imap_pollers(stop)
        if not pollers:
            raise ConfigError("no IMAP accounts: add one with `mailhub imap-account add`")
        print(f"mailhub imap reading {len(pollers)} mailbox(es)", flush=True)
        try:
            _wait_for_signal()
        finally:
            stop.set()
            for thread in pollers:
                thread.join(timeout=10)
    finally:
        runtime.close()
    return 0


def cmd_imap_account_add(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.ingress.imap import add_account

    if args.password_env:
        password = os.environ.get(args.password_env)
        if password is None:
            raise ConfigError(f"--password-env {args.password_env}: that variable is not set")
    elif sys.stdin.isatty():
        import getpass

        password = getpass.getpass(f"password for {args.user}: ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    with unit_of_work(_sessions(settings)) as s:
        account = add_account(
            s,
            args.tenant,
            args.host,
            args.port,
            args.user,
            password,
            settings.secret_key,
            use_ssl=not args.no_ssl,
            folder=args.folder,
            processed_folder=args.move_to,
        )
        print(f"IMAP account {account.id} added: {args.user}@{args.host}:{args.port}/{args.folder}")
    return 0


def cmd_imap_account_list(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.ingress.imap import list_accounts

    with _sessions(settings)() as s:
        accounts = list_accounts(s)
    if args.json:
        _print_json([a.__dict__ for a in accounts])
    else:
        for a in accounts:
            state = f"error: {a.last_error}" if a.last_error else f"read up to UID {a.last_uid}"
            print(
                f"{a.id:>4}  {a.tenant:<12} {a.username}@{a.host}:{a.port}/{a.folder} → {a.processed_folder}  {state}"
            )
        if not accounts:
            print("no IMAP accounts")
    return 0


def _gmail(settings: Settings) -> GoogleBearer | None:
    return GoogleBearer(settings.google_action_certs) if settings.google_action_certs else None


def cmd_web(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from mailhub.tasks import Runtime
    from mailhub.web.app import create_app

    _sessions(settings)  # fails clearly when the schema is not current
    # With a broker, mail a request causes (a sign-in link, an answer's notice to its owner)
    # is queued at once; without one (no worker shares this process's in-memory queue) it is
    # marked due and the worker's next sweep sends it.
    runtime = Runtime(settings)
    app = create_app(
        runtime.sessions,
        FileStore(settings.files_dir),
        _gmail(settings),
        runtime.enqueue_notifications if settings.broker_url else None,
        settings.base_url,
        exports=settings.exports_dir,
    )
    try:
        uvicorn.run(
            app,
            host=settings.http_host,
            port=settings.http_port,
            log_level="info",
            proxy_headers=True,
        )
    finally:
        runtime.close()
    return 0


# Admin ----------------------------------------------------------------------------------------


def cmd_tenant_add(args: argparse.Namespace, settings: Settings) -> int:
    with unit_of_work(_sessions(settings)) as s:
        t = directory.add_tenant(s, args.slug, args.domain, args.name or "")
        print(f"tenant {t.slug} created for @{t.domain}")
    return 0


def cmd_tenant_set(args: argparse.Namespace, settings: Settings) -> int:
    with unit_of_work(_sessions(settings)) as s:
        t = directory.set_policy(
            s,
            directory.get_tenant(s, args.slug),
            unknown_senders=args.unknown_senders,
            require_authenticated=(
                None if args.require_authenticated is None else args.require_authenticated == "yes"
            ),
            locale=args.locale,
            publish_receipts=None if args.receipts is None else args.receipts == "yes",
            default_space=args.default_space,
        )
        if args.keep_shared_content is not None:
            t.keep_shared_content = args.keep_shared_content == "yes"
        if args.inactive_days is not None:
            if args.inactive_days < 0:
                raise InvalidInput("--inactive-days must be 0 (never) or more")
            t.inactive_days = args.inactive_days or None
        print(
            f"tenant {t.slug}: unknown senders {t.unknown_senders}, "
            f"authenticated mail {'required' if t.require_authenticated else 'not required'}, "
            f"language {t.locale}, receipts {'on' if t.publish_receipts else 'off'}, "
            f"default space {t.default_space or '(none)'}, "
            f"erased people's shared content {'kept' if t.keep_shared_content else 'deleted'}, "
            + (
                f"unused accounts deleted after {t.inactive_days} days"
                if t.inactive_days
                else "unused accounts kept"
            )
        )
    return 0


def cmd_tenant_close(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.privacy.closure import close
    from mailhub.privacy.proof import Places

    if not args.yes:
        raise InvalidInput(
            f"closing {args.slug} destroys all of its rows, files, raw mail, search entries, "
            "exports, backups and keys, for good; run again with --yes"
        )
    closed = close(
        _sessions(settings), Places.of(settings), args.slug, settings.data_dir / "closures"
    )
    removed = sum(closed.counts.values())
    print(f"tenant {closed.slug} closed: {removed} rows and files removed")
    print(
        f"proof: {len(closed.proof)} stores checked, "
        f"{sum(closed.proof.values())} hits left"
        + (f" ({', '.join(sorted(closed.left))})" if closed.left else "")
        + f"; recorded in {closed.record}"
    )
    return 1 if closed.left else 0


def cmd_tenant_export(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.privacy.export import build_tenant

    target = Path(args.to)
    if target.exists():
        raise InvalidInput(f"{target} exists already; choose a new file")
    with _sessions(settings)() as s:
        tenant = directory.get_tenant(s, args.slug)
        counts = build_tenant(s, tenant, FileStore(settings.files_dir), target)
    print(f"exported {sum(counts.values())} rows of {tenant.slug} and its files to {target}")
    return 0


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.privacy import backups
    from mailhub.privacy.keys import KeyStore

    keys = KeyStore(settings.keys_dir, settings.secret_key)
    root = settings.backups_dir
    sessions = _sessions(settings)
    with sessions() as s:
        tenant_id = directory.get_tenant(s, args.tenant).id
    if args.sub == "create":
        made = backups.create(
            sessions, keys, root, settings.files_dir, tenant_id, settings.backup_keep
        )
        print(
            f"backup {made.path.name}: {made.rows} rows, {made.files} files, "
            f"{made.size} bytes (keeping the newest {settings.backup_keep})"
        )
    elif args.sub == "list":
        found = backups.listing(root, tenant_id)
        for b in found:
            print(f"{b.path.name}  {b.created_at}  {b.rows} rows  {b.files} files  {b.size} bytes")
        if not found:
            print(f"no backups of {args.tenant}")
    elif args.sub == "prune":
        gone = backups.prune(root, tenant_id, args.keep or settings.backup_keep)
        print(f"deleted {len(gone)} old backups of {args.tenant}")
    else:
        if not args.yes:
            raise InvalidInput(
                f"restoring replaces every row and file of {args.tenant} with the backup's; "
                "run again with --yes"
            )
        path = backups.find(root, tenant_id, args.name)
        done = backups.restore(_sessions(settings), keys, settings.files_dir, tenant_id, path)
        skipped = ", ".join(f"{n} {t}" for t, n in sorted(done.skipped.items()))
        print(
            f"restored {done.rows} rows and {done.files} files of {args.tenant} from {path.name}"
            + (f"; not restored (erased, keys destroyed): {skipped}" if skipped else "")
        )
    return 0


def cmd_privacy_erase(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.privacy.erasure import erase_user
    from mailhub.privacy.proof import Places

    if not args.yes:
        raise InvalidInput(
            f"erasing {args.email} cannot be undone; without --yes, use "
            f"`mailhub privacy request erase {args.tenant} {args.email}` to have them confirm it"
        )
    with _sessions(settings)() as s:
        tenant = directory.get_tenant(s, args.tenant)
    outcome = erase_user(_sessions(settings), Places.of(settings), tenant, args.email)
    _send_last_mail(settings, [outcome])
    print(
        f"request {outcome.request_id} {outcome.state}: "
        f"{sum(outcome.counts.values())} items removed or anonymized; proof: "
        f"{len(outcome.proof)} stores checked, {sum(outcome.proof.values())} hits left"
        + (f" ({', '.join(sorted(outcome.left))})" if outcome.left else "")
    )
    return 0 if outcome.state == "done" else 1


def cmd_privacy_requests(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.privacy import requests

    mails: list[int] = []
    with unit_of_work(_sessions(settings)) as s:
        tenant = directory.get_tenant(s, args.tenant)
        if args.sub == "request":
            req, mail = requests.request(s, tenant, args.email, args.kind)
            mails = [mail] if mail else []
            print(
                f"request {req.id} ({req.kind}) is {req.state}, due {req.due_at:%Y-%m-%d}; "
                + ("a confirmation link was mailed" if mail else "nothing was mailed")
            )
        elif args.sub == "cancel":
            req = requests.cancel(s, tenant, args.id)
            print(f"request {req.id} cancelled")
        else:
            rows = requests.listing(s, tenant)
            proofs = requests.proofs(s, [r.id for r in rows])
            if args.json:
                print(
                    json.dumps(
                        [
                            {
                                "id": r.id,
                                "kind": r.kind,
                                "state": r.state,
                                "subject_hash": r.subject_hash,
                                "received_at": r.received_at.isoformat() + "Z",
                                "due_at": r.due_at.isoformat() + "Z",
                                "finished_at": r.finished_at.isoformat() + "Z"
                                if r.finished_at
                                else None,
                                "proof": proofs.get(r.id),
                            }
                            for r in rows
                        ],
                        indent=2,
                    )
                )
                return 0
            print(f"{'id':>4} {'kind':<9} {'state':<10} {'received':<10} {'due':<10} subject")
            for r in rows:
                proof = proofs.get(r.id)
                print(
                    f"{r.id:>4} {r.kind:<9} {r.state:<10} {r.received_at:%Y-%m-%d} "
                    f"{r.due_at:%Y-%m-%d} {r.subject_hash[:12]}"
                    + (
                        f"  proof: {proof['stores']} stores, {proof['hits']} hits left"
                        if proof
                        else ""
                    )
                )
    _send_now(settings, mails)
    return 0


def _when(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{value!r} is not a time; write it as 2026-11-27T09:30Z") from None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def cmd_breach(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.privacy import breaches

    mails: list[int] = []
    with unit_of_work(_sessions(settings)) as s:
        tenant = directory.get_tenant(s, args.tenant)
        if args.sub == "record":
            b = breaches.record(
                s,
                tenant,
                _when(args.aware),
                _when(args.window_from),
                _when(args.window_to),
                args.category,
                args.description,
            )
            print(
                f"breach {b.id} recorded; tell the supervisory authority by "
                f"{b.deadline_at:%Y-%m-%d %H:%M} UTC (72 hours after {b.aware_at:%Y-%m-%d %H:%M})"
            )
        elif args.sub == "notify":
            mails = breaches.notify(s, tenant, args.id)
            b = s.get_one(Breach, args.id)
            print(f"breach {b.id}: {b.affected} people affected, {len(mails)} notices queued now")
        else:
            for b in breaches.listing(s, tenant):
                told = (
                    f"{b.affected} told {b.notified_at:%Y-%m-%d}" if b.notified_at else "not told"
                )
                print(
                    f"{b.id:>4} aware {b.aware_at:%Y-%m-%d %H:%M} deadline "
                    f"{b.deadline_at:%Y-%m-%d %H:%M} {','.join(b.categories)} · {told}"
                )
    _send_now(settings, mails)
    return 0


def _send_now(settings: Settings, mails: list[int]) -> None:
    """Queue mail the CLI caused: on the broker, or (without one) for the worker's sweep."""
    if not mails:
        return
    if settings.broker_url:
        from mailhub.tasks import Runtime

        runtime = Runtime(settings)
        try:
            runtime.enqueue_notifications(mails)
        finally:
            runtime.close()
        return
    from mailhub.web.notify import due_for_next_sweep

    due_for_next_sweep(_sessions(settings))(mails)


def cmd_privacy(args: argparse.Namespace, settings: Settings) -> int:
    with unit_of_work(_sessions(settings)) as s:
        tenant = directory.get_tenant(s, args.tenant)
        user = directory.get_user(s, tenant, args.email)
        if args.sub == "object":
            objections.object_to_processing(s, tenant, user)
            print(f"{user.email} objected: no notifications, mail from them is not processed")
        elif args.sub == "restrict":
            objections.object_to_processing(s, tenant, user, "restriction")
            print(f"{user.email} restricted: no notifications, mail from them is not processed")
        elif args.sub == "unrestrict":
            objections.withdraw(s, tenant, user, "restriction")
            print(f"the restriction for {user.email} is lifted")
        else:
            objections.withdraw(s, tenant, user)
            print(f"{user.email} withdrew the objection")
    return 0


def cmd_subscriptions(args: argparse.Namespace, settings: Settings) -> int:
    with unit_of_work(_sessions(settings)) as s:
        tenant = directory.get_tenant(s, args.tenant)
        if args.sub == "show":
            user = directory.get_user(s, tenant, args.email)
            rows = preferences.overview(s, tenant, user)
            if args.json:
                print(json.dumps([dataclasses.asdict(r) for r in rows], indent=2))
                return 0
            print(f"{'space':<20} {'level':<9} {'frequency':<12} from")
            for r in rows:
                note = " (mandatory)" if r.mandatory else ""
                print(f"{r.space:<20} {r.level:<9} {r.frequency:<12} {r.source}{note}")
        elif args.sub == "set":
            user = directory.get_user(s, tenant, args.email)
            space = directory.get_space(s, tenant, args.space)
            preferences.subscribe(
                s,
                tenant,
                user,
                SubjectKind.SPACE,
                space.id,
                preferences.parse_level(args.level),
                preferences.parse_frequency(args.frequency),
            )
            print(
                f"{user.email} in {space.slug}: level {args.level or 'inherited'}, "
                f"frequency {args.frequency or 'inherited'}"
            )
        elif args.sub == "set-default":
            scope = directory.get_space(s, tenant, args.space) if args.space else None
            preferences.set_default(
                s,
                tenant,
                scope,
                preferences.parse_level(args.level),
                preferences.parse_frequency(args.frequency),
                mandatory=args.mandatory,
            )
            where = f"space {scope.slug}" if scope else f"every space of {tenant.slug}"
            kind = "mandatory default" if args.mandatory else "default"
            print(
                f"{kind} for {where}: level {args.level or 'inherited'}, "
                f"frequency {args.frequency or 'inherited'}"
            )
        else:
            try:
                text = Path(args.file).read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError) as exc:
                raise InvalidInput(f"cannot read {args.file}: {exc}") from None
            count = preferences.import_csv(s, tenant, text)
            print(f"imported {count} subscriptions into {tenant.slug}")
    return 0


def cmd_forms(args: argparse.Namespace, settings: Settings) -> int:
    with unit_of_work(_sessions(settings)) as s:
        tenant = directory.get_tenant(s, args.tenant)
        if args.sub == "list":
            print(f"{'id':>5} {'status':<7} {'answers':>7}  title")
            for form, count in forms.listing(s, tenant):
                print(f"{form.id:>5} {form.status:<7} {count:>7}  {form.title}")
            return 0
        form = forms.get_form(s, tenant, args.id)
        if args.sub == "close":
            closed = forms.close(s, tenant, form)
            print(f"form {form.id} {'closed' if closed else 'was already closed'}")
        elif args.sub == "set":
            forms.set_policy(form, args.answers_from)
            print(f"form {form.id} takes answers from {form.answers_from}")
        else:
            res = forms.results(s, tenant, form)
            text = (
                forms.to_csv(res)
                if args.format == "csv"
                else json.dumps(forms.to_json(s, res), ensure_ascii=False, indent=2) + "\n"
            )
            if not args.output:
                sys.stdout.write(text)
                return 0
            try:
                Path(args.output).write_text(text, encoding="utf-8")
            except OSError as exc:
                raise InvalidInput(f"cannot write {args.output}: {exc.strerror}") from None
            print(f"wrote {len(res.rows)} answers to {args.output}", file=sys.stderr)
    return 0


def cmd_digests_run(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.tasks import Runtime

    runtime = Runtime(settings)
    try:
        ids = runtime.collect_digests()
        runtime.enqueue_notifications(ids)
    finally:
        runtime.close()
    print(f"{len(ids)} digests due and queued")
    return 0


def cmd_user_add(args: argparse.Namespace, settings: Settings) -> int:
    with unit_of_work(_sessions(settings)) as s:
        tenant = directory.get_tenant(s, args.tenant)
        u = directory.add_user(s, tenant, args.email, args.name, admin=args.admin)
        if args.locale:
            u.locale = directory.locale_tag(args.locale)
        print(f"user {u.email} added to {tenant.slug}" + (" as admin" if u.is_admin else ""))
    return 0


def cmd_space_set(args: argparse.Namespace, settings: Settings) -> int:
    with unit_of_work(_sessions(settings)) as s:
        tenant = directory.get_tenant(s, args.tenant)
        sp = directory.set_space(s, tenant, args.space, restricted=args.restricted == "yes")
        who = "its members and administrators only" if sp.restricted else "every member"
        print(f"space {sp.slug} is open to {who}")
    return 0


def cmd_space_member(args: argparse.Namespace, settings: Settings) -> int:
    with unit_of_work(_sessions(settings)) as s:
        tenant = directory.get_tenant(s, args.tenant)
        if args.action == "add":
            directory.add_member(s, tenant, args.space, args.email)
            print(f"{args.email.lower()} is a member of {args.space}")
        else:
            directory.remove_member(s, tenant, args.space, args.email)
            print(f"{args.email.lower()} is no longer a member of {args.space}")
    return 0


def cmd_user_signin_link(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.domain import signin

    with unit_of_work(_sessions(settings)) as s:
        tenant = directory.get_tenant(s, args.tenant)
        print(signin.link_for(s, tenant, args.email, settings.base_url))
        print("It works once, within 15 minutes: open it and press Sign in.", file=sys.stderr)
    return 0


def cmd_space_add(args: argparse.Namespace, settings: Settings) -> int:
    with unit_of_work(_sessions(settings)) as s:
        tenant = directory.get_tenant(s, args.tenant)
        sp = directory.add_space(s, tenant, args.space, args.name or "")
        print(f"space {sp.slug} created: mail {sp.slug}@{tenant.domain} to add a page")
    return 0


def cmd_follow(args: argparse.Namespace, settings: Settings) -> int:
    with unit_of_work(_sessions(settings)) as s:
        tenant = directory.get_tenant(s, args.tenant)
        user = directory.get_user(s, tenant, args.email)
        space = directory.get_space(s, tenant, args.space)
        preferences.follow(s, tenant, user, space)
        print(f"{user.email} now watches {space.slug}")
    return 0


def cmd_pages_list(args: argparse.Namespace, settings: Settings) -> int:
    with _sessions(settings)() as s:
        pages = list_pages(s, args.tenant)
    if args.json:
        _print_json([p.as_json() for p in pages])
    else:
        for p in pages:
            print(f"{p.id:>6}  {p.space:<16} {p.title}  ({p.author}, {p.comments} comments)")
        if not pages:
            print("no pages yet")
    return 0


def cmd_pages_show(args: argparse.Namespace, settings: Settings) -> int:
    with _sessions(settings)() as s:
        page = page_view(s, args.tenant, args.id)
    if args.json:
        _print_json(page.as_json())
        return 0
    print(
        f"{page.title}\nin {page.space_name} by {page.author} <{page.author_email}>, "
        f"{page.created_at:%Y-%m-%d %H:%M} UTC, revision {page.revision}\n"
    )
    print(page.body_text)
    for c in page.comments:
        print(
            f"\n--- comment {c.id} by {c.author}, {c.created_at:%Y-%m-%d %H:%M} UTC\n{c.body_text}"
        )
    return 0


def cmd_inbound_list(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.domain.inbound_log import list_inbound

    with _sessions(settings)() as s:
        rows = list_inbound(s, args.tenant, args.status)
    if args.json:
        _print_json([r.as_json() for r in rows])
    else:
        for r in rows:
            print(f"{r.id:>6}  {r.status:<10} {r.received_at:%Y-%m-%d %H:%M}  {r.reason}")
        if not rows:
            print("no inbound messages")
    return 0


def cmd_inbound_show(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.domain.inbound_log import show_inbound

    with _sessions(settings)() as s:
        row = show_inbound(s, args.tenant, args.id)
    if args.json:
        _print_json(row.as_json())
    else:
        for key, value in row.as_json().items():
            print(f"{key:<12} {value}")
    return 0


def cmd_inbound_retry(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.domain.inbound_log import retry_inbound

    with unit_of_work(_sessions(settings)) as s:
        row = retry_inbound(s, args.tenant, args.id)
    if args.json:
        _print_json(row.as_json())
    else:
        print(
            f"inbound message {row.id} is queued again; a worker picks it up within "
            f"{settings.sweep_interval:g} seconds"
        )
    return 0


def cmd_files_check(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.stores.filecheck import check_files, remove_stray

    files = FileStore(settings.files_dir)
    with _sessions(settings)() as s:
        found = check_files(s, files, min_age=0 if args.all else 3600)
        removed = remove_stray(s, files, min_age=0 if args.all else 3600) if args.remove else []
    if args.json:
        _print_json({"stray": found.stray, "missing": found.missing, "removed": removed})
    else:
        for rel in found.stray:
            print(f"stray   {rel}" + ("  (removed)" if rel in removed else ""))
        for rel in found.missing:
            print(f"missing {rel}")
        print(f"{len(found.stray)} files without a row, {len(found.missing)} rows without a file")
    return 1 if found.missing else 0


def _send_last_mail(settings: Settings, erased: list[Outcome]) -> None:
    """The mail that tells an erased person it is done: sent once, never stored."""
    from mailhub.tasks import make_transport, send_unstored

    notices = [(o.request_id, o.notice) for o in erased if o.notice is not None]
    if notices:
        transport = make_transport(settings)
        for request_id, notice in notices:
            send_unstored(transport, notice, f"erased-{request_id}")


def cmd_retention_run(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.privacy.proof import Places
    from mailhub.privacy.retention import run_all

    done = run_all(_sessions(settings), Places.of(settings), settings)
    _send_now(settings, done.warnings)
    _send_last_mail(settings, done.erased)
    print(f"incinerated {done.incinerated.count} raw messages ({done.incinerated.bytes} bytes)")
    print(f"deleted {done.archives} expired export archives")
    print(f"deleted {done.secrets} expired link tokens and sessions")
    print(f"deleted {done.logs} log files older than {settings.log_retention_days} days")
    print(f"warned {len(done.warnings)} unused accounts, erased {len(done.erased)}")
    for outcome in done.erased:
        print(
            f"  request {outcome.request_id} {outcome.state}: proof over "
            f"{len(outcome.proof)} stores, {sum(outcome.proof.values())} hits left"
        )
    return 0


def cmd_moderation(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.domain.inbound_log import approve, list_inbound, reject_held

    if args.sub == "list":
        with _sessions(settings)() as s:
            rows = list_inbound(s, args.tenant, "held")
        if args.json:
            _print_json([r.as_json() for r in rows])
        else:
            for r in rows:
                print(f"{r.id:>6}  {r.received_at:%Y-%m-%d %H:%M}  {r.mail_from}  {r.reason}")
            if not rows:
                print("nothing is waiting for moderation")
        return 0
    decide = approve if args.sub == "approve" else reject_held
    with unit_of_work(_sessions(settings)) as s:
        row = decide(s, args.tenant, args.id)
    print(f"inbound message {row.id}: {row.reason.split(' (was:')[0]}")
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.cli.demo import create_demo

    _prepare_data_dir(settings)
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


# Parser ---------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mailhub", description="Email as the front door of your intranet."
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, fn: Handler, help_: str, parent: Any = sub) -> argparse.ArgumentParser:
        cmd: argparse.ArgumentParser = parent.add_parser(name, help=help_, description=help_)
        cmd.set_defaults(handler=fn)
        return cmd

    add("serve", cmd_serve, "run everything in one process on the embedded default")
    add("smtp", cmd_smtp, "run the SMTP ingress")
    add("web", cmd_web, "run the web server")
    add("worker", cmd_worker, "run a queue worker (needs MAILHUB_BROKER_URL)")
    imap = add("imap", cmd_imap, "read the configured IMAP mailboxes")
    imap.add_argument("--once", action="store_true", help="read each mailbox once, then exit")
    acct = sub.add_parser("imap-account", help="IMAP mailboxes mailhub reads").add_subparsers(
        dest="sub", required=True
    )
    ia = add("add", cmd_imap_account_add, "add a mailbox to read for a tenant", acct)
    ia.add_argument("tenant")
    ia.add_argument("--host", required=True)
    ia.add_argument("--port", type=int, default=993)
    ia.add_argument("--user", required=True)
    ia.add_argument(
        "--password-env",
        help="read the password from this environment variable "
        "(otherwise it is asked for, or read from standard input)",
    )
    ia.add_argument("--no-ssl", action="store_true", help="plain IMAP (only on a trusted network)")
    ia.add_argument("--folder", default="INBOX")
    ia.add_argument("--move-to", default="mailhub-processed", help="where read mail is moved")
    il2 = add("list", cmd_imap_account_list, "list the mailboxes mailhub reads", acct)
    il2.add_argument("--json", action="store_true")
    add("migrate", cmd_migrate, "create or upgrade the database schema")
    add("config", cmd_config, "print the effective settings, secrets masked")
    demo = add("demo", cmd_demo, "create a demo tenant and print a command that mails it")
    demo.add_argument("--domain", default="acme.example")

    tenant = sub.add_parser("tenant", help="manage tenants").add_subparsers(
        dest="sub", required=True
    )
    t_add = add("add", cmd_tenant_add, "add a tenant", tenant)
    t_add.add_argument("slug")
    t_add.add_argument("--domain", required=True)
    t_add.add_argument("--name")
    t_set = add("set", cmd_tenant_set, "change a tenant's mail policy or language", tenant)
    t_set.add_argument("slug")
    t_set.add_argument(
        "--unknown-senders",
        choices=directory.UNKNOWN_SENDER_POLICIES,
        help="mail to a space from a non-member: reject it, or hold it for a moderator",
    )
    t_set.add_argument(
        "--require-authenticated",
        choices=("yes", "no"),
        help="hold members' mail that carries no DKIM or trusted authentication result",
    )
    t_set.add_argument("--locale", help="language of mail to strangers (en, de, fr, …)")
    t_set.add_argument(
        "--receipts",
        choices=("yes", "no"),
        help="confirm each page made by mail to its author, with who was notified",
    )
    t_set.add_argument("--default-space", help="the space mail to form@DOMAIN makes forms in")
    t_set.add_argument(
        "--keep-shared-content",
        choices=("yes", "no"),
        help="when someone is erased, keep their pages, comments and forms anonymized (yes), "
        "or delete them (no)",
    )
    t_set.add_argument(
        "--inactive-days",
        type=int,
        help="delete accounts unused this many days, after warnings (0: never)",
    )
    t_close = add(
        "close", cmd_tenant_close, "incinerate everything of a tenant, with a proof", tenant
    )
    t_close.add_argument("slug")
    t_close.add_argument("--yes", action="store_true", help="yes, destroy it all")
    t_exp = add("export", cmd_tenant_export, "the tenant's own copy of everything (ZIP)", tenant)
    t_exp.add_argument("slug")
    t_exp.add_argument("--to", required=True, help="the ZIP file to write")

    backup = sub.add_parser("backup", help="encrypted per-tenant backups").add_subparsers(
        dest="sub", required=True
    )
    bk_create = add("create", cmd_backup, "back up a tenant, then prune to the rotation", backup)
    bk_create.add_argument("tenant")
    bk_list = add("list", cmd_backup, "a tenant's backups, newest first", backup)
    bk_list.add_argument("tenant")
    bk_prune = add("prune", cmd_backup, "delete all but the newest backups", backup)
    bk_prune.add_argument("tenant")
    bk_prune.add_argument("--keep", type=int, help="how many to keep (MAILHUB_BACKUP_KEEP)")
    bk_restore = add(
        "restore",
        cmd_backup,
        "replace a tenant's data with a backup's (erased stay erased)",
        backup,
    )
    bk_restore.add_argument("tenant")
    bk_restore.add_argument("name", help="the backup's file name, from `mailhub backup list`")
    bk_restore.add_argument("--yes", action="store_true", help="yes, replace the current data")

    user = sub.add_parser("user", help="manage users").add_subparsers(dest="sub", required=True)
    u_add = add("add", cmd_user_add, "add a user to a tenant", user)
    u_add.add_argument("tenant")
    u_add.add_argument("email")
    u_add.add_argument("--name", required=True)
    u_add.add_argument("--admin", action="store_true")
    u_add.add_argument("--locale", help="language of the mail this user gets (en, de, fr, …)")

    u_link = add(
        "signin-link", cmd_user_signin_link, "print a one-time sign-in link for a user", user
    )
    u_link.add_argument("tenant")
    u_link.add_argument("email")

    space = sub.add_parser("space", help="manage spaces").add_subparsers(dest="sub", required=True)
    s_add = add("add", cmd_space_add, "add a space to a tenant", space)
    s_add.add_argument("tenant")
    s_add.add_argument("space")
    s_add.add_argument("--name")
    s_set = add("set", cmd_space_set, "open a space to every member, or restrict it", space)
    s_set.add_argument("tenant")
    s_set.add_argument("space")
    s_set.add_argument("--restricted", choices=("yes", "no"), required=True)
    s_mem = add("member", cmd_space_member, "add or remove a member of a restricted space", space)
    s_mem.add_argument("action", choices=("add", "remove"))
    s_mem.add_argument("tenant")
    s_mem.add_argument("space")
    s_mem.add_argument("email")

    privacy = sub.add_parser("privacy", help="people's rights over their data").add_subparsers(
        dest="sub", required=True
    )
    for name, helptext in (
        ("object", "record a user's objection to processing (GDPR Art. 21)"),
        ("withdraw", "withdraw a user's objection"),
        ("restrict", "restrict processing of a user's data (GDPR Art. 18)"),
        ("unrestrict", "lift a restriction of processing"),
    ):
        p_obj = add(name, cmd_privacy, helptext, privacy)
        p_obj.add_argument("tenant")
        p_obj.add_argument("email")

    p_req = add(
        "request", cmd_privacy_requests, "record a request and mail its confirmation link", privacy
    )
    p_req.add_argument("kind", choices=("access", "export", "erase", "object", "restrict"))
    p_req.add_argument("tenant")
    p_req.add_argument("email")
    p_erase = add(
        "erase",
        cmd_privacy_erase,
        "erase a user now, with a proof (for a request confirmed some other way)",
        privacy,
    )
    p_erase.add_argument("tenant")
    p_erase.add_argument("email")
    p_erase.add_argument("--yes", action="store_true", help="yes, erase them for good")
    p_list = add(
        "list", cmd_privacy_requests, "a tenant's privacy requests and their states", privacy
    )
    p_list.add_argument("tenant")
    p_list.add_argument("--json", action="store_true")
    p_cancel = add("cancel", cmd_privacy_requests, "cancel a request not yet running", privacy)
    p_cancel.add_argument("tenant")
    p_cancel.add_argument("id", type=int)

    breach = sub.add_parser("breach", help="the register of data breaches").add_subparsers(
        dest="sub", required=True
    )
    b_rec = add("record", cmd_breach, "record a breach (Art. 33): its 72-hour deadline", breach)
    b_rec.add_argument("tenant")
    b_rec.add_argument("--aware", required=True, help="when the tenant learned of it, ISO 8601 UTC")
    b_rec.add_argument("--from", dest="window_from", required=True, help="start of the window")
    b_rec.add_argument("--to", dest="window_to", required=True, help="end of the window")
    b_rec.add_argument(
        "--category", action="append", required=True, help="a data category of the data map"
    )
    b_rec.add_argument("--description", required=True, help="what happened, for the notice")
    b_not = add("notify", cmd_breach, "mail every person affected (Art. 34), once each", breach)
    b_not.add_argument("tenant")
    b_not.add_argument("id", type=int)
    b_list = add("list", cmd_breach, "the tenant's breaches and their deadlines", breach)
    b_list.add_argument("tenant")

    subs = sub.add_parser(
        "subscriptions", help="who hears about what, and how often"
    ).add_subparsers(dest="sub", required=True)
    ss = add("show", cmd_subscriptions, "a user's effective setting for every space", subs)
    ss.add_argument("tenant")
    ss.add_argument("email")
    ss.add_argument("--json", action="store_true")
    levels, freqs = "watching|normal|muted|inherit", "immediately|hourly|daily|weekly|never|inherit"
    sset = add("set", cmd_subscriptions, "set a user's level or frequency for a space", subs)
    sset.add_argument("tenant")
    sset.add_argument("email")
    sset.add_argument("space")
    sset.add_argument("--level", help=levels)
    sset.add_argument("--frequency", help=freqs)
    sd = add("set-default", cmd_subscriptions, "set the default for a space or the tenant", subs)
    sd.add_argument("tenant")
    sd.add_argument("--space", help="the space; without it, the default for every space")
    sd.add_argument("--level", help=levels)
    sd.add_argument("--frequency", help=freqs)
    sd.add_argument("--mandatory", action="store_true", help="users cannot mute it or turn it off")
    si = add("import", cmd_subscriptions, "import email,space,level,frequency rows", subs)
    si.add_argument("tenant")
    si.add_argument("file")

    digests = sub.add_parser("digests", help="digest mail").add_subparsers(
        dest="sub", required=True
    )
    add("run", cmd_digests_run, "make and queue the digests that are due", digests)

    fol = add(
        "follow", cmd_follow, "make a user watch a space (subscriptions set --level watching)"
    )
    fol.add_argument("tenant")
    fol.add_argument("email")
    fol.add_argument("space")

    fms = sub.add_parser("forms", help="forms made by mail").add_subparsers(
        dest="sub", required=True
    )
    fl = add("list", cmd_forms, "list a tenant's forms with their answer counts", fms)
    fl.add_argument("tenant")
    fc = add("close", cmd_forms, "close a form: later answers are declined politely", fms)
    fc.add_argument("tenant")
    fc.add_argument("id", type=int)
    fe = add("export", cmd_forms, "write a form's answers as CSV or JSON", fms)
    fe.add_argument("tenant")
    fe.add_argument("id", type=int)
    fe.add_argument("--format", choices=("csv", "json"), default="csv")
    fe.add_argument("--output", help="a file to write (default: standard output)")
    fp = add("set", cmd_forms, "change who may answer a form", fms)
    fp.add_argument("tenant")
    fp.add_argument("id", type=int)
    fp.add_argument("--answers-from", required=True, choices=("members", "anyone"))

    pages = sub.add_parser("pages", help="read pages").add_subparsers(dest="sub", required=True)
    pl = add("list", cmd_pages_list, "list a tenant's pages", pages)
    pl.add_argument("tenant")
    pl.add_argument("--json", action="store_true")
    ps = add("show", cmd_pages_show, "show a page with its comments", pages)
    ps.add_argument("tenant")
    ps.add_argument("id", type=int)
    ps.add_argument("--json", action="store_true")

    inbound = sub.add_parser("inbound", help="inspect inbound mail").add_subparsers(
        dest="sub", required=True
    )
    il = add(
        "list", cmd_inbound_list, "list a tenant's inbound messages with their status", inbound
    )
    il.add_argument("tenant")
    il.add_argument("--status")
    il.add_argument("--json", action="store_true")
    ish = add("show", cmd_inbound_show, "show one inbound message's status and reason", inbound)
    ish.add_argument("tenant")
    ish.add_argument("id", type=int)
    ish.add_argument("--json", action="store_true")

    ir = add("retry", cmd_inbound_retry, "process a failed or rejected message again", inbound)
    ir.add_argument("tenant")
    ir.add_argument("id", type=int)
    ir.add_argument("--json", action="store_true")

    files = sub.add_parser("files", help="the file store").add_subparsers(dest="sub", required=True)
    fc = add("check", cmd_files_check, "report files without rows and rows without files", files)
    fc.add_argument("--remove", action="store_true", help="delete the files no row knows about")
    fc.add_argument("--all", action="store_true", help="include files written in the last hour")
    fc.add_argument("--json", action="store_true")

    moderation = sub.add_parser(
        "moderation", help="mail held because its sender was not authenticated"
    ).add_subparsers(dest="sub", required=True)
    ml = add("list", cmd_moderation, "list held mail", moderation)
    ml.add_argument("tenant")
    ml.add_argument("--json", action="store_true")
    for verb, help_ in (
        ("approve", "publish a held message"),
        ("reject", "reject a held message (not answered)"),
    ):
        mv = add(verb, cmd_moderation, help_, moderation)
        mv.add_argument("tenant")
        mv.add_argument("id", type=int)

    retention = sub.add_parser("retention", help="data retention").add_subparsers(
        dest="sub", required=True
    )
    add(
        "run",
        cmd_retention_run,
        "incinerate raw mail, delete expired exports, tokens and logs, warn and erase unused "
        "accounts",
        retention,
    )

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
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = config.load()
        logredact.install()  # no addresses, IPs or link secrets in any log line
        logging.basicConfig(
            level=settings.log_level.upper(),
            format="%(asctime)s %(levelname)s %(name)s %(message)s",
        )
        if settings.log_file:  # rotated at midnight (UTC), kept log_retention_days days
            from logging.handlers import TimedRotatingFileHandler

            rotating = TimedRotatingFileHandler(
                settings.log_file,
                when="midnight",
                backupCount=settings.log_retention_days,
                utc=True,
                encoding="utf-8",
            )
            rotating.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
            )
            logging.getLogger().addHandler(rotating)
        for noisy in ("alembic", "mail.log"):  # both log every step, addresses included
            logging.getLogger(noisy).setLevel(logging.WARNING)
        handler: Handler = args.handler
        return handler(args, settings)
    except MailhubError as exc:
        print(f"mailhub: error: {exc}", file=sys.stderr)
        return 1
    except OperationalError as exc:
        print(
            f"mailhub: error: cannot use the database: {exc.orig}".splitlines()[0], file=sys.stderr
        )
        return 1
    except SQLAlchemyError as exc:
        print(f"mailhub: error: database error: {exc}".splitlines()[0], file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"mailhub: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The servers: `serve` (everything in one process), `smtp`, `web`, `worker`, `imap` and
its mailboxes, and the database schema (`migrate`, `config`)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING

from mailhub.cli.opening import prepare_data_dir, sessions
from mailhub.cli.output import print_json
from mailhub.cli.parser import Commands
from mailhub.cli.tools import mail_setup
from mailhub.config import Settings
from mailhub.db import migrate, unit_of_work
from mailhub.dns import Lookups
from mailhub.errors import ConfigError
from mailhub.outbound.doctor import Finding, check_domain
from mailhub.outbound.files import link_key
from mailhub.web.gmail import GoogleBearer

if TYPE_CHECKING:
    from mailhub.tasks import Runtime


def register(commands: Commands) -> None:
    add = commands.add
    add("serve", cmd_serve, "run everything in one process on the embedded default")
    add("smtp", cmd_smtp, "run the SMTP ingress")
    add("web", cmd_web, "run the web server")
    worker = add("worker", cmd_worker, "run a queue worker (needs MAILHUB_BROKER_URL)")
    worker.add_argument("--embedded", action="store_true", help=argparse.SUPPRESS)
    imap = add("imap", cmd_imap, "read the configured IMAP mailboxes")
    imap.add_argument("--once", action="store_true", help="read each mailbox once, then exit")
    acct = commands.group("imap-account", "IMAP mailboxes mailhub reads")
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


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    prepare_data_dir(settings)
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


def follow_parent() -> None:
    """`mailhub serve`'s worker ends when serve does, however serve ended (even killed): it
    watches for its parent to change and stops itself as a signal would stop it."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="mailhub-parent-watch", daemon=True).start()


def _metrics(settings: Settings, runtime: Runtime) -> None:
    """This process's Prometheus endpoint, when MAILHUB_METRICS_PORT is set."""
    from mailhub.metrics import serve_metrics

    try:
        serve_metrics(settings.metrics_host, settings.metrics_port, runtime.sessions)
    except OSError as exc:
        raise ConfigError(
            f"cannot serve metrics on {settings.metrics_host}:{settings.metrics_port}: "
            f"{exc.strerror or exc}"
        ) from None


def _stop_through_finally() -> None:
    """SIGTERM ends the process through its `finally` blocks, as Ctrl-C does. uvicorn catches
    the signal to shut down gracefully, then raises it again; with the default action that
    would end the process before it stops its workers and checkpoints the database."""

    def stop(_signum: int, _frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Everything on one machine with one command: SMTP, IMAP and web here, the worker in a
    child process (tasks/child.py) that a message can never take SMTP or the web down with."""
    import uvicorn

    from mailhub.ingress.smtp import MailhubHandler, SmtpServer
    from mailhub.models import InboundMessage, Notification
    from mailhub.tasks import Runtime
    from mailhub.tasks.child import ChildWorker
    from mailhub.tasks.sweeper import due_now
    from mailhub.web.app import create_app

    prepare_data_dir(settings)
    migrate(settings.effective_database_url)
    runtime = Runtime(settings)
    _metrics(settings, runtime)
    enqueue_inbound: Callable[[Iterable[int]], None]
    notify: Callable[[Iterable[int]], None]
    if settings.broker_url:  # the child takes the work from the broker, as any worker does
        enqueue_inbound, notify = runtime.enqueue_inbound, runtime.enqueue_notifications
    else:  # the child's sweeper takes what is marked due, within a second
        enqueue_inbound = due_now(runtime.sessions, InboundMessage)
        notify = due_now(runtime.sessions, Notification)
    worker = ChildWorker()
    worker.start()
    stop = threading.Event()
    handler = MailhubHandler(
        runtime.sessions,
        runtime.raw_store,
        runtime.enqueue_inbound if settings.broker_url else None,  # None: committed due
        sender_rate_limit=settings.sender_rate_limit,
        max_recipients=settings.max_recipients,
        max_connections=settings.max_connections,
        max_per_client=settings.max_connections_per_client,
    )
    smtp = SmtpServer(handler, settings.smtp_host, settings.smtp_port, settings.max_message_size)
    smtp.start()
    pollers = runtime.start_imap_pollers(stop, enqueue_inbound)
    outbox = settings.smtp_relay or f"{settings.outbox_dir}/ (as .eml files)"
    print(f"mailhub is running on {settings.effective_database_url.split('://')[0]}", flush=True)
    print(f"  send mail to   smtp://{settings.smtp_host}:{settings.smtp_port}", flush=True)
    print(f"  read pages at  http://{settings.http_host}:{settings.http_port}/", flush=True)
    print(f"  outgoing mail  {outbox}", flush=True)
    if pollers:
        print(f"  reading {len(pollers)} IMAP mailbox(es)", flush=True)
    print("  stop with Ctrl-C", flush=True)
    _stop_through_finally()
    try:
        uvicorn.run(
            create_app(
                runtime.sessions,
                runtime.files,
                _gmail(settings),
                notify,
                settings.base_url,
                exports=settings.exports_dir,
                export_blobs=runtime.places.export_blobs,
                file_key=link_key(settings.secret_key),
                doctor=_doctor(settings),
            ),
            host=settings.http_host,
            port=settings.http_port,
            log_level="warning",
            access_log=False,  # mailhub.access logs each request (web/app.py)
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

    sessions(settings)  # fails clearly when the schema is not current
    runtime = Runtime(settings)
    _metrics(settings, runtime)
    handler = MailhubHandler(
        runtime.sessions,
        runtime.raw_store,
        # With no broker, rows are committed due, and a worker's sweep takes them at once.
        runtime.enqueue_inbound if settings.broker_url else None,
        sender_rate_limit=settings.sender_rate_limit,
        max_recipients=settings.max_recipients,
        max_connections=settings.max_connections,
        max_per_client=settings.max_connections_per_client,
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
    from mailhub.tasks.child import EMBEDDED_SWEEP

    if not settings.broker_url and not args.embedded:
        raise ConfigError(
            "`mailhub worker` needs MAILHUB_BROKER_URL (redis://… or amqp://…); "
            "`mailhub serve` runs its own worker instead"
        )
    sessions(settings)
    runtime = Runtime(settings)
    if not args.embedded:  # `mailhub serve` exposes its own
        _metrics(settings, runtime)
    worker = runtime.worker()
    worker.start()
    stop = threading.Event()
    # Embedded (`mailhub serve`'s child, no broker): the sweeper is how work arrives.
    runtime.start_sweeper(
        stop, EMBEDDED_SWEEP if args.embedded and not settings.broker_url else None
    )
    if args.embedded:
        follow_parent()
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

    sessions(settings)
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
        _metrics(settings, runtime)
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
    with unit_of_work(sessions(settings)) as s:
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

    with sessions(settings)() as s:
        accounts = list_accounts(s)
    if args.json:
        print_json([a.__dict__ for a in accounts])
    else:
        for a in accounts:
            state = f"error: {a.last_error}" if a.last_error else f"read up to UID {a.last_uid}"
            print(
                f"{a.id:>4}  {a.tenant:<12} {a.username}@{a.host}:{a.port}/{a.folder} → {a.processed_folder}  {state}"
            )
        if not accounts:
            print("no IMAP accounts")
    return 0


def _doctor(settings: Settings) -> Callable[[str, str], list[Finding]]:
    """The admin page's domain check: `mailhub doctor`'s, with this process's settings."""
    return partial(check_domain, Lookups(settings.dns_server), mail_setup(settings))


def _gmail(settings: Settings) -> GoogleBearer | None:
    return GoogleBearer(settings.google_action_certs) if settings.google_action_certs else None


def cmd_web(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from mailhub.tasks import Runtime
    from mailhub.web.app import create_app

    sessions(settings)  # fails clearly when the schema is not current
    # With a broker, mail a request causes (a sign-in link, an answer's notice to its owner)
    # is queued at once; without one (no worker shares this process's in-memory queue) it is
    # marked due and the worker's next sweep sends it.
    runtime = Runtime(settings)
    _metrics(settings, runtime)
    app = create_app(
        runtime.sessions,
        runtime.files,
        _gmail(settings),
        runtime.enqueue_notifications if settings.broker_url else None,
        settings.base_url,
        exports=settings.exports_dir,
        export_blobs=runtime.places.export_blobs,
        file_key=link_key(settings.secret_key),
        doctor=_doctor(settings),
    )
    _stop_through_finally()
    try:
        uvicorn.run(
            app,
            host=settings.http_host,
            port=settings.http_port,
            log_level="info",
            access_log=False,  # mailhub.access logs each request (web/app.py)
            proxy_headers=True,
        )
    finally:
        runtime.close()
    return 0

"""People's rights and the tenant's: `privacy` requests, objections and erasure, `breach`,
`backup`, `tenant close|export` and `retention run`."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from mailhub.cli.opening import sessions
from mailhub.cli.output import listing
from mailhub.cli.parser import Commands
from mailhub.cli.progress import progress
from mailhub.config import Settings
from mailhub.db import unit_of_work
from mailhub.domain import directory, objections
from mailhub.errors import InvalidInput
from mailhub.models import Breach
from mailhub.stores import file_store

if TYPE_CHECKING:
    from mailhub.privacy.erasure import Outcome


def register(commands: Commands) -> None:
    add = commands.add
    tenant = commands.group("tenant", "manage tenants")
    t_close = add(
        "close", cmd_tenant_close, "incinerate everything of a tenant, with a proof", tenant
    )
    t_close.add_argument("slug")
    t_close.add_argument("--yes", action="store_true", help="yes, destroy it all")
    t_exp = add("export", cmd_tenant_export, "the tenant's own copy of everything (ZIP)", tenant)
    t_exp.add_argument("slug")
    t_exp.add_argument("--to", required=True, help="the ZIP file to write")

    backup = commands.group("backup", "encrypted per-tenant backups")
    bk_create = add("create", cmd_backup, "back up a tenant, then prune to the rotation", backup)
    bk_create.add_argument("tenant")
    bk_list = add("list", cmd_backup, "a tenant's backups, newest first", backup)
    bk_list.add_argument("tenant")
    bk_list.add_argument("--json", action="store_true")
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

    privacy = commands.group("privacy", "people's rights over their data")
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

    breach = commands.group("breach", "the register of data breaches")
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
    b_list.add_argument("--json", action="store_true")

    retention = commands.group("retention", "data retention")
    add(
        "run",
        cmd_retention_run,
        "incinerate raw mail, delete expired exports, tokens and logs, warn and erase unused "
        "accounts",
        retention,
    )


def cmd_tenant_close(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.privacy.closure import close
    from mailhub.privacy.proof import Places

    if not args.yes:
        raise InvalidInput(
            f"closing {args.slug} destroys all of its rows, files, raw mail, search entries, "
            "exports, backups and keys, for good; run again with --yes"
        )
    closed = close(
        sessions(settings), Places.of(settings), args.slug, settings.data_dir / "closures"
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
    with sessions(settings)() as s:
        tenant = directory.get_tenant(s, args.slug)
        with progress(f"exporting {tenant.slug}", "rows and files") as tick:
            counts = build_tenant(s, tenant, file_store(settings), target, tick)
    print(f"exported {sum(counts.values())} rows of {tenant.slug} and its files to {target}")
    return 0


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.privacy import backups
    from mailhub.privacy.proof import Places

    factory = sessions(settings)
    places = Places.of(settings, factory.kw["bind"])  # in the database with the blob store
    keys, shelf = places.keys, places.backups
    with factory() as s:
        tenant_id = directory.get_tenant(s, args.tenant).id
    if args.sub == "create":
        with progress(f"backing up {args.tenant}", "rows and files") as tick:
            made = backups.create(
                factory, keys, shelf, places.files, tenant_id, settings.backup_keep, tick
            )
        print(
            f"backup {made.name}: {made.rows} rows, {made.files} files, "
            f"{made.size} bytes (keeping the newest {settings.backup_keep})"
        )
    elif args.sub == "list":
        rows = [
            {
                "name": b.name,
                "created_at": b.created_at,
                "rows": b.rows,
                "files": b.files,
                "bytes": b.size,
            }
            for b in backups.listing(shelf, tenant_id)
        ]
        columns = ("name", "created_at", "rows", "files", "bytes")
        listing(args, rows, columns, f"no backups of {args.tenant}")
    elif args.sub == "prune":
        gone = backups.prune(shelf, tenant_id, args.keep or settings.backup_keep)
        print(f"deleted {len(gone)} old backups of {args.tenant}")
    else:
        if not args.yes:
            raise InvalidInput(
                f"restoring replaces every row and file of {args.tenant} with the backup's; "
                "run again with --yes"
            )
        with progress(f"restoring {args.tenant}", "rows") as tick:
            done = backups.restore(factory, keys, places.files, tenant_id, shelf, args.name, tick)
        skipped = ", ".join(f"{n} {t}" for t, n in sorted(done.skipped.items()))
        print(
            f"restored {done.rows} rows and {done.files} files of {args.tenant} from {args.name}"
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
    with sessions(settings)() as s:
        tenant = directory.get_tenant(s, args.tenant)
    with progress(f"erasing {args.email}"):  # the time it takes, between the steps
        outcome = erase_user(sessions(settings), Places.of(settings), tenant, args.email)
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
    with unit_of_work(sessions(settings)) as s:
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
    with unit_of_work(sessions(settings)) as s:
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
            rows = [
                {
                    "id": b.id,
                    "aware_at": b.aware_at,
                    "deadline_at": b.deadline_at,
                    "window_from": b.window_from,
                    "window_to": b.window_to,
                    "categories": ",".join(b.categories) if not args.json else b.categories,
                    "description": b.description,
                    "affected": b.affected,
                    "notified_at": b.notified_at,
                }
                for b in breaches.listing(s, tenant)
            ]
            columns = ("id", "aware_at", "deadline_at", "categories", "affected", "notified_at")
            listing(args, rows, columns, f"no breaches recorded for {tenant.slug}")
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

    due_for_next_sweep(sessions(settings))(mails)


def cmd_privacy(args: argparse.Namespace, settings: Settings) -> int:
    with unit_of_work(sessions(settings)) as s:
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


def _send_last_mail(settings: Settings, erased: list[Outcome]) -> None:
    """The mail that tells an erased person it is done: sent once, never stored."""
    from mailhub.tasks import Runtime

    if any(o.notice is not None for o in erased):
        runtime = Runtime(settings)
        try:
            runtime.send_last_mails(erased)
        finally:
            runtime.close()


def cmd_retention_run(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.privacy.proof import Places
    from mailhub.privacy.retention import run_all

    done = run_all(sessions(settings), Places.of(settings), settings)
    _send_now(settings, done.warnings)
    _send_last_mail(settings, done.erased)
    print(f"incinerated {done.incinerated.count} raw messages ({done.incinerated.bytes} bytes)")
    print(f"deleted {done.archives} expired export archives")
    print(f"deleted {done.secrets} expired link tokens and sessions")
    print(f"deleted {done.logs} log files older than {settings.log_retention_days} days")
    print(f"deleted {done.outbox} outbox mails older than {settings.outbox_retention_days} days")
    print(f"warned {len(done.warnings)} unused accounts, erased {len(done.erased)}")
    for outcome in done.erased:
        print(
            f"  request {outcome.request_id} {outcome.state}: proof over "
            f"{len(outcome.proof)} stores, {sum(outcome.proof.values())} hits left"
        )
    return 0

"""What came in and what it became: `pages`, `forms`, `inbound`, `moderation`, `digests`,
`files check`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mailhub.cli.opening import sessions
from mailhub.cli.output import listing, paging, print_json
from mailhub.cli.parser import Commands
from mailhub.cli.progress import progress
from mailhub.config import Settings
from mailhub.db import unit_of_work
from mailhub.domain import directory, forms
from mailhub.domain.queries import list_pages, page_view
from mailhub.errors import ConfigError, InvalidInput
from mailhub.stores import file_store


def register(commands: Commands) -> None:
    add = commands.add
    digests = commands.group("digests", "digest mail")
    add("run", cmd_digests_run, "make and queue the digests that are due", digests)

    fms = commands.group("forms", "forms made by mail")
    fl = add("list", cmd_forms, "list a tenant's forms with their answer counts", fms)
    fl.add_argument("tenant")
    fl.add_argument("--json", action="store_true")
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

    pages = commands.group("pages", "read pages")
    pl = add("list", cmd_pages_list, "list a tenant's pages", pages)
    pl.add_argument("tenant")
    pl.add_argument("--json", action="store_true")
    paging(pl)
    ps = add("show", cmd_pages_show, "show a page with its comments", pages)
    ps.add_argument("tenant")
    ps.add_argument("id", type=int)
    ps.add_argument("--json", action="store_true")

    inbound = commands.group("inbound", "inspect inbound mail")
    il = add(
        "list", cmd_inbound_list, "list a tenant's inbound messages with their status", inbound
    )
    il.add_argument("tenant")
    il.add_argument("--status")
    il.add_argument("--json", action="store_true")
    paging(il)
    ish = add("show", cmd_inbound_show, "show one inbound message's status and reason", inbound)
    ish.add_argument("tenant")
    ish.add_argument("id", type=int)
    ish.add_argument("--json", action="store_true")

    ir = add("retry", cmd_inbound_retry, "process a failed or rejected message again", inbound)
    ir.add_argument("tenant")
    ir.add_argument("id", type=int)
    ir.add_argument("--json", action="store_true")

    find = commands.group("search", "the search index")
    sr = add(
        "reindex",
        cmd_search_reindex,
        "rebuild the search entries of one tenant or all, and read the files not read yet",
        find,
    )
    sr.add_argument("tenant", nargs="?", help="default: every tenant")

    files = commands.group("files", "the file store")
    fc = add("check", cmd_files_check, "report files without rows and rows without files", files)
    fc.add_argument("--remove", action="store_true", help="delete the files no row knows about")
    fc.add_argument("--all", action="store_true", help="include files written in the last hour")
    fc.add_argument("--json", action="store_true")
    add(
        "move-to-database",
        cmd_files_move,
        "move this machine's raw mail, files, exports, backups, outbox and keys into the "
        "database (after setting MAILHUB_BLOB_STORE=postgres)",
        files,
    )

    moderation = commands.group("moderation", "mail held because its sender was not authenticated")
    ml = add("list", cmd_moderation, "list held mail", moderation)
    ml.add_argument("tenant")
    ml.add_argument("--json", action="store_true")
    paging(ml)
    for verb, help_ in (
        ("approve", "publish a held message"),
        ("reject", "reject a held message (not answered)"),
    ):
        mv = add(verb, cmd_moderation, help_, moderation)
        mv.add_argument("tenant")
        mv.add_argument("id", type=int)


def cmd_forms(args: argparse.Namespace, settings: Settings) -> int:
    with unit_of_work(sessions(settings)) as s:
        tenant = directory.get_tenant(s, args.tenant)
        if args.sub == "list":
            rows = [
                {
                    "id": form.id,
                    "title": form.title,
                    "status": form.status,
                    "answers": count,
                    "answers_from": form.answers_from,
                    "created_at": form.created_at,
                }
                for form, count in forms.listing(s, tenant)
            ]
            listing(args, rows, ("id", "status", "answers", "title"), f"no forms in {tenant.slug}")
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


def cmd_pages_list(args: argparse.Namespace, settings: Settings) -> int:
    with sessions(settings)() as s:
        pages = list_pages(s, args.tenant, args.limit, offset=args.offset)
    if args.json:
        print_json([p.as_json() for p in pages])
    else:
        for p in pages:
            print(f"{p.id:>6}  {p.space:<16} {p.title}  ({p.author}, {p.comments} comments)")
        if not pages:
            print("no pages yet")
    return 0


def cmd_pages_show(args: argparse.Namespace, settings: Settings) -> int:
    with sessions(settings)() as s:
        page = page_view(s, args.tenant, args.id)
    if args.json:
        print_json(page.as_json())
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

    with sessions(settings)() as s:
        rows = list_inbound(s, args.tenant, args.status, args.limit, args.offset)
    if args.json:
        print_json([r.as_json() for r in rows])
    else:
        for r in rows:
            print(f"{r.id:>6}  {r.status:<10} {r.received_at:%Y-%m-%d %H:%M}  {r.reason}")
        if not rows:
            print("no inbound messages")
    return 0


def cmd_inbound_show(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.domain.inbound_log import show_inbound

    with sessions(settings)() as s:
        row = show_inbound(s, args.tenant, args.id)
    if args.json:
        print_json(row.as_json())
    else:
        for key, value in row.as_json().items():
            print(f"{key:<12} {value}")
    return 0


def cmd_inbound_retry(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.domain.inbound_log import retry_inbound

    with unit_of_work(sessions(settings)) as s:
        row = retry_inbound(s, args.tenant, args.id)
    if args.json:
        print_json(row.as_json())
    else:
        print(
            f"inbound message {row.id} is queued again; a worker picks it up within "
            f"{settings.sweep_interval:g} seconds"
        )
    return 0


def cmd_search_reindex(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.domain import attachment_text, search

    factory = sessions(settings)
    with factory() as s:
        tenants = [(t.id, t.slug) for t in directory.tenants_named(s, args.tenant)]
    entries = 0
    with progress("indexing", "tenants", len(tenants)) as tick:
        for tenant_id, _slug in tenants:
            with unit_of_work(factory) as s:
                entries += search.reindex_tenant(s, tenant_id)
            tick(1)
    files = file_store(settings)
    unread = attachment_text.unread(factory)
    read = 0
    with progress("reading files", "files", unread) as tick:
        while True:  # every tenant's files: a file read is indexed where it belongs
            done = attachment_text.read_pending(factory, files, progress=tick)
            read += done
            if not done:
                break
    print(
        f"{entries} search entries for {', '.join(slug for _, slug in tenants) or 'no tenant'}; "
        f"{read} files read for the words inside them"
    )
    return 0


def cmd_files_check(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.stores.filecheck import check_files, remove_stray

    files = file_store(settings)
    with sessions(settings)() as s:
        found = check_files(s, files, min_age=0 if args.all else 3600)
        removed = remove_stray(s, files, min_age=0 if args.all else 3600) if args.remove else []
    if args.json:
        print_json({"stray": found.stray, "missing": found.missing, "removed": removed})
    else:
        for rel in found.stray:
            print(f"stray   {rel}" + ("  (removed)" if rel in removed else ""))
        for rel in found.missing:
            print(f"missing {rel}")
        print(f"{len(found.stray)} files without a row, {len(found.missing)} rows without a file")
    return 1 if found.missing else 0


def cmd_files_move(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.privacy.keys import move_keys
    from mailhub.privacy.proof import Places
    from mailhub.stores import in_database
    from mailhub.stores.relocate import Moved, move_folder, remove_empty_dirs

    if not in_database(settings):
        raise ConfigError(
            "set MAILHUB_BLOB_STORE=postgres first: the files move into the database that "
            "MAILHUB_DATABASE_URL names"
        )
    sessions(settings)  # the schema is there and current
    places = Places.of(settings)
    moved = Moved()
    for folder, blobs, by_tenant, suffix in (
        (settings.raw_dir, places.raw.blobs, True, ""),
        (settings.files_dir, places.files.blobs, True, ""),
        (settings.exports_dir, places.export_blobs, True, ""),
        (settings.backups_dir, places.backups.blobs, True, ""),
        (settings.outbox_dir, places.outbox.blobs, False, ".eml"),
    ):
        assert blobs is not None
        move_folder(folder, blobs, moved, by_tenant, suffix)
        remove_empty_dirs(folder)
    keys, keys_left = move_keys(settings.keys_dir, places.keys)
    remove_empty_dirs(settings.keys_dir)
    words = {
        "raw": "raw mails",
        "files": "attachment files",
        "exports": "export archives",
        "backups": "backups",
        "outbox": "outbox mails",
    }
    what = ", ".join(f"{n} {words[store]}" for store, n in sorted(moved.counts.items()))
    print(f"moved {what or 'no files'} ({moved.bytes} bytes) and {keys} keys into the database")
    for name in moved.skipped:
        print(f"not mailhub's, left as it is: {name}")
    left = moved.conflicts + [f"key {name}" for name in keys_left]
    for name in left:
        print(f"left here, the database holds something else under its name: {name}")
    return 1 if left else 0


def cmd_moderation(args: argparse.Namespace, settings: Settings) -> int:
    from mailhub.domain.inbound_log import approve, list_inbound, reject_held

    if args.sub == "list":
        with sessions(settings)() as s:
            rows = list_inbound(s, args.tenant, "held", args.limit, args.offset)
        if args.json:
            print_json([r.as_json() for r in rows])
        else:
            for r in rows:
                print(f"{r.id:>6}  {r.received_at:%Y-%m-%d %H:%M}  {r.mail_from}  {r.reason}")
            if not rows:
                print("nothing is waiting for moderation")
        return 0
    decide = approve if args.sub == "approve" else reject_held
    with unit_of_work(sessions(settings)) as s:
        row = decide(s, args.tenant, args.id)
    print(f"inbound message {row.id}: {row.reason.split(' (was:')[0]}")
    return 0

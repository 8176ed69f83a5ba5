"""Tenants, users, spaces and who hears about what: `tenant add|set`, `user`, `space`,
`subscriptions`, `follow`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from mailhub.cli.opening import sessions
from mailhub.cli.output import listing, paging
from mailhub.cli.parser import Commands
from mailhub.cli.progress import progress
from mailhub.config import Settings
from mailhub.db import unit_of_work
from mailhub.domain import directory, preferences, signin
from mailhub.domain.preferences import Unchanged
from mailhub.errors import InvalidInput
from mailhub.models import SubjectKind

T = TypeVar("T")


def register(commands: Commands) -> None:
    add = commands.add
    tenant = commands.group("tenant", "manage tenants")
    t_add = add("add", cmd_tenant_add, "add a tenant", tenant)
    t_add.add_argument("slug")
    t_add.add_argument("--domain", required=True)
    t_add.add_argument("--name")
    t_list = add("list", cmd_tenant_list, "list the tenants", tenant)
    t_list.add_argument("--json", action="store_true")
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
    t_set.add_argument(
        "--dmarc",
        choices=("yes", "no"),
        help="hold members' unauthenticated mail when their domain publishes DMARC "
        "p=quarantine or p=reject (yes, the default)",
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

    user = commands.group("user", "manage users")
    u_add = add("add", cmd_user_add, "add a user to a tenant", user)
    u_add.add_argument("tenant")
    u_add.add_argument("email")
    u_add.add_argument("--name", required=True)
    u_add.add_argument("--admin", action="store_true")
    u_add.add_argument("--locale", help="language of the mail this user gets (en, de, fr, …)")
    u_add.add_argument(
        "--no-welcome", action="store_true", help="do not send the welcome mail with a way in"
    )

    u_import = add(
        "import",
        cmd_user_import,
        "add users from a CSV file of email,name[,admin][,locale]; each gets a welcome mail",
        user,
    )
    u_import.add_argument("tenant")
    u_import.add_argument("file")
    u_import.add_argument("--no-welcome", action="store_true", help="send no welcome mails")

    u_list = add("list", cmd_user_list, "list a tenant's members and guest authors", user)
    u_list.add_argument("tenant")
    u_list.add_argument("--json", action="store_true")
    paging(u_list)
    for verb, help_ in (
        ("deactivate", "sign a member out everywhere and stop their mail (reversible)"),
        ("activate", "let a deactivated member in again"),
    ):
        u_act = add(verb, cmd_user_active, help_, user)
        u_act.add_argument("tenant")
        u_act.add_argument("email")

    u_link = add(
        "signin-link", cmd_user_signin_link, "print a one-time sign-in link for a user", user
    )
    u_link.add_argument("tenant")
    u_link.add_argument("email")

    space = commands.group("space", "manage spaces")
    s_add = add("add", cmd_space_add, "add a space to a tenant", space)
    s_add.add_argument("tenant")
    s_add.add_argument("space")
    s_add.add_argument("--name")
    s_list = add("list", cmd_space_list, "list a tenant's spaces and their addresses", space)
    s_list.add_argument("tenant")
    s_list.add_argument("--json", action="store_true")
    s_set = add("set", cmd_space_set, "open a space to every member, or restrict it", space)
    s_set.add_argument("tenant")
    s_set.add_argument("space")
    s_set.add_argument("--restricted", choices=("yes", "no"))
    s_set.add_argument("--description", help="what the space is for, shown on its home")
    s_mem = add("member", cmd_space_member, "add or remove a member of a restricted space", space)
    s_mem.add_argument("action", choices=("add", "remove"))
    s_mem.add_argument("tenant")
    s_mem.add_argument("space")
    s_mem.add_argument("email")

    subs = commands.group("subscriptions", "who hears about what, and how often")
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
    mandatory = sd.add_mutually_exclusive_group()
    mandatory.add_argument(
        "--mandatory", action="store_true", help="users cannot mute it or turn it off"
    )
    mandatory.add_argument(
        "--optional", action="store_true", help="users may mute it or turn it off again"
    )
    si = add("import", cmd_subscriptions, "import email,space,level,frequency rows", subs)
    si.add_argument("tenant")
    si.add_argument("file")

    fol = add(
        "follow", cmd_follow, "make a user watch a space (subscriptions set --level watching)"
    )
    fol.add_argument("tenant")
    fol.add_argument("email")
    fol.add_argument("space")


def cmd_tenant_add(args: argparse.Namespace, settings: Settings) -> int:
    with unit_of_work(sessions(settings)) as s:
        t = directory.add_tenant(s, args.slug, args.domain, args.name or "")
        print(f"tenant {t.slug} created for @{t.domain}")
    return 0


def cmd_tenant_list(args: argparse.Namespace, settings: Settings) -> int:
    with sessions(settings)() as s:
        rows = directory.tenants(s)
    listing(args, rows, ("slug", "domain", "members", "spaces", "name"), "no tenants yet")
    return 0


def cmd_user_list(args: argparse.Namespace, settings: Settings) -> int:
    with sessions(settings)() as s:
        rows = directory.users(s, directory.get_tenant(s, args.tenant), args.limit, args.offset)
    columns = ("email", "admin", "active", "guest", "last_active_at", "name")
    listing(args, rows, columns, f"no users in {args.tenant}")
    return 0


def cmd_user_active(args: argparse.Namespace, settings: Settings) -> int:
    active = args.sub == "activate"
    with unit_of_work(sessions(settings)) as s:
        user = directory.set_user(
            s, directory.get_tenant(s, args.tenant), args.email, active=active
        )
        print(
            f"{user.email} may sign in and gets mail again"
            if active
            else f"{user.email} is deactivated: signed out everywhere, no more mail"
        )
    return 0


def cmd_space_list(args: argparse.Namespace, settings: Settings) -> int:
    with sessions(settings)() as s:
        rows = directory.spaces(s, directory.get_tenant(s, args.tenant))
    listing(
        args,
        rows,
        ("slug", "address", "restricted", "pages", "name"),
        f"no spaces in {args.tenant}",
    )
    return 0


def cmd_tenant_set(args: argparse.Namespace, settings: Settings) -> int:
    with unit_of_work(sessions(settings)) as s:
        t = directory.set_policy(
            s,
            directory.get_tenant(s, args.slug),
            unknown_senders=args.unknown_senders,
            require_authenticated=(
                None if args.require_authenticated is None else args.require_authenticated == "yes"
            ),
            apply_dmarc=None if args.dmarc is None else args.dmarc == "yes",
            locale=args.locale,
            publish_receipts=None if args.receipts is None else args.receipts == "yes",
            default_space=args.default_space,
            keep_shared_content=(
                None if args.keep_shared_content is None else args.keep_shared_content == "yes"
            ),
            inactive_days=args.inactive_days,
        )
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
            + f", DMARC policy of senders' domains {'applied' if t.apply_dmarc else 'ignored'}"
        )
    return 0


def cmd_subscriptions(args: argparse.Namespace, settings: Settings) -> int:
    with unit_of_work(sessions(settings)) as s:
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
            if args.level is None and args.frequency is None:
                args.command_parser.error("say --level, --frequency, or both")
            user = directory.get_user(s, tenant, args.email)
            space = directory.get_space(s, tenant, args.space)
            sub = preferences.subscribe(  # what is not given stays as it was
                s,
                tenant,
                user,
                SubjectKind.SPACE,
                space.id,
                _given(preferences.parse_level, args.level),
                _given(preferences.parse_frequency, args.frequency),
            )
            print(
                f"{user.email} in {space.slug}: level {sub.level or 'inherited'}, "
                f"frequency {sub.frequency or 'inherited'}"
            )
        elif args.sub == "set-default":
            if not (args.level or args.frequency or args.mandatory or args.optional):
                args.command_parser.error("say --level, --frequency, --mandatory or --optional")
            scope = directory.get_space(s, tenant, args.space) if args.space else None
            row = preferences.set_default(
                s,
                tenant,
                scope,
                _given(preferences.parse_level, args.level),
                _given(preferences.parse_frequency, args.frequency),
                mandatory=(
                    True if args.mandatory else False if args.optional else preferences.KEEP
                ),
            )
            where = f"space {scope.slug}" if scope else f"every space of {tenant.slug}"
            kind = "mandatory default" if row.mandatory else "default"
            print(
                f"{kind} for {where}: level {row.level or 'inherited'}, "
                f"frequency {row.frequency or 'inherited'}"
            )
        else:
            try:
                text = Path(args.file).read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError) as exc:
                raise InvalidInput(f"cannot read {args.file}: {exc}") from None
            with progress(f"importing {Path(args.file).name}", "rows") as tick:
                count = preferences.import_csv(s, tenant, text, tick)
            print(f"imported {count} subscriptions into {tenant.slug}")
    return 0


def _given(parse: Callable[[str], T | None], value: str | None) -> T | None | Unchanged:
    """An option's value parsed ("inherit" is None), or KEEP when it was not given."""
    return preferences.KEEP if value is None else parse(value)


def cmd_user_add(args: argparse.Namespace, settings: Settings) -> int:
    with unit_of_work(sessions(settings)) as s:
        tenant = directory.get_tenant(s, args.tenant)
        u = directory.add_user(s, tenant, args.email, args.name, admin=args.admin)
        if args.locale:
            u.locale = directory.locale_tag(args.locale)
        welcome = [] if args.no_welcome else [signin.welcome(s, u)]
        print(
            f"user {u.email} added to {tenant.slug}"
            + (" as admin" if u.is_admin else "")
            + ("" if args.no_welcome else "; a welcome mail is on its way")
        )
    _due_now(settings, welcome)  # the worker sends it at its next pass
    return 0


def cmd_user_import(args: argparse.Namespace, settings: Settings) -> int:
    try:
        text = Path(args.file).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {args.file}: {exc}") from None
    with unit_of_work(sessions(settings)) as s:
        tenant = directory.get_tenant(s, args.tenant)
        with progress(f"importing {Path(args.file).name}", "rows") as tick:
            added, skipped = directory.import_users(s, tenant, text, tick)
        welcome = [] if args.no_welcome else [signin.welcome(s, u) for u in added]
    _due_now(settings, welcome)
    print(
        f"added {len(added)} users to {tenant.slug}"
        + (f", {len(welcome)} welcome mails on their way" if welcome else "")
        + (f"; already members: {', '.join(skipped)}" if skipped else "")
    )
    return 0


def cmd_space_set(args: argparse.Namespace, settings: Settings) -> int:
    with unit_of_work(sessions(settings)) as s:
        tenant = directory.get_tenant(s, args.tenant)
        if args.restricted is None and args.description is None:
            args.command_parser.error("say --restricted yes|no, --description TEXT, or both")
        sp = directory.set_space(
            s,
            tenant,
            args.space,
            restricted=None if args.restricted is None else args.restricted == "yes",
            description=args.description,
        )
        who = "its members and administrators only" if sp.restricted else "every member"
        print(
            f"space {sp.slug} is open to {who}" + (f": {sp.description}" if sp.description else "")
        )
    return 0


def cmd_space_member(args: argparse.Namespace, settings: Settings) -> int:
    with unit_of_work(sessions(settings)) as s:
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

    with unit_of_work(sessions(settings)) as s:
        tenant = directory.get_tenant(s, args.tenant)
        print(signin.link_for(s, tenant, args.email, settings.base_url))
        print("It works once, within 15 minutes: open it and press Sign in.", file=sys.stderr)
    return 0


def cmd_space_add(args: argparse.Namespace, settings: Settings) -> int:
    with unit_of_work(sessions(settings)) as s:
        tenant = directory.get_tenant(s, args.tenant)
        sp = directory.add_space(s, tenant, args.space, args.name or "")
        print(f"space {sp.slug} created: mail {sp.slug}@{tenant.domain} to add a page")
    return 0


def cmd_follow(args: argparse.Namespace, settings: Settings) -> int:
    with unit_of_work(sessions(settings)) as s:
        tenant = directory.get_tenant(s, args.tenant)
        user = directory.get_user(s, tenant, args.email)
        space = directory.get_space(s, tenant, args.space)
        preferences.follow(s, tenant, user, space)
        print(f"{user.email} now watches {space.slug}")
    return 0


def _due_now(settings: Settings, notification_ids: list[int]) -> None:
    if not notification_ids:
        return
    from mailhub.web.notify import due_for_next_sweep  # the worker's modules: only when needed

    due_for_next_sweep(sessions(settings))(notification_ids)

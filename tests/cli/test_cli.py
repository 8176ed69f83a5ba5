"""The `mailhub` command as a person or a script uses it: real processes, real exit codes."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import MAILHUB


def run(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MAILHUB_")}
    full_env["MAILHUB_DATA_DIR"] = str(tmp_path / "var")
    full_env.update(env or {})
    return subprocess.run(
        [MAILHUB, *args], capture_output=True, text=True, env=full_env, timeout=60
    )


def ok(tmp_path: Path, *args: str) -> str:
    result = run(tmp_path, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_admin_commands_for_a_newcomer(tmp_path: Path) -> None:
    ok(tmp_path, "migrate")
    assert "tenant acme created" in ok(
        tmp_path, "tenant", "add", "acme", "--domain", "acme.example"
    )
    assert "as admin" in ok(
        tmp_path, "user", "add", "acme", "Ann@Acme.example", "--name", "Ann", "--admin"
    )
    assert "a welcome mail is on its way" in ok(
        tmp_path, "user", "add", "acme", "bob@acme.example", "--name", "Bob"
    )
    assert "mail sales@acme.example" in ok(tmp_path, "space", "add", "acme", "sales")
    assert "now watches sales" in ok(tmp_path, "follow", "acme", "bob@acme.example", "sales")
    assert "unknown senders moderate, authenticated mail required, language de" in ok(
        tmp_path,
        "tenant",
        "set",
        "acme",
        "--unknown-senders",
        "moderate",
        "--require-authenticated",
        "yes",
        "--locale",
        "de",
    )
    quiet = ok(
        tmp_path,
        "user",
        "add",
        "acme",
        "cat@acme.example",
        "--name",
        "Cat",
        "--locale",
        "fr-CH",
        "--no-welcome",
    )
    assert "welcome" not in quiet
    assert "bob@acme.example objected" in ok(
        tmp_path, "privacy", "object", "acme", "bob@acme.example"
    )
    assert "withdrew" in ok(tmp_path, "privacy", "withdraw", "acme", "bob@acme.example")
    again = run(tmp_path, "privacy", "withdraw", "acme", "bob@acme.example")
    assert again.returncode == 1 and "has no objection in force" in again.stderr
    assert json.loads(ok(tmp_path, "pages", "list", "acme", "--json")) == []
    assert json.loads(ok(tmp_path, "inbound", "list", "acme", "--json")) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("tenant", "add", "acme", "--domain", "acme.example"), "tenant 'acme' exists already"),
        (("tenant", "add", "Bad Slug", "--domain", "x.example"), "must be lower-case"),
        (("tenant", "add", "other", "--domain", "not a domain"), "is not a domain name"),
        (("user", "add", "nope", "a@b.example", "--name", "A"), "no tenant 'nope'"),
        (("user", "add", "acme", "not-an-address", "--name", "A"), "is not an email address"),
        (("space", "add", "acme", "reply"), "reserved"),
        (("follow", "acme", "ghost@acme.example", "sales"), "no user ghost@acme.example"),
        (("pages", "show", "acme", "999"), "no page 999 in acme"),
        (("tenant", "set", "acme", "--locale", "Deutsch!"), "is not a language tag"),
        (("tenant", "set", "nope", "--locale", "de"), "no tenant 'nope'"),
        (("privacy", "object", "acme", "ann@acme.example"), "no user ann@acme.example in acme"),
        (("inbound", "show", "acme", "5"), "no inbound message 5"),
        (("subscriptions", "set-default", "acme", "--level", "loud"), "level must be watching"),
        (
            ("subscriptions", "set-default", "acme", "--space", "nope", "--level", "normal"),
            "no space 'nope'",
        ),
        (
            ("subscriptions", "set-default", "acme", "--frequency", "never", "--mandatory"),
            "cannot be muted or never",
        ),
        (("subscriptions", "import", "acme", "/nonexistent.csv"), "cannot read /nonexistent.csv"),
        (("subscriptions", "show", "acme", "ghost@acme.example"), "no user ghost@acme.example"),
    ],
)
def test_errors_are_one_line_and_non_zero(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    ok(tmp_path, "migrate")
    ok(tmp_path, "tenant", "add", "acme", "--domain", "acme.example")
    result = run(tmp_path, *args)
    assert result.returncode == 1
    assert result.stderr.startswith("mailhub: error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_subscriptions_for_an_administrator(tmp_path: Path) -> None:
    ok(tmp_path, "migrate")
    ok(tmp_path, "tenant", "add", "acme", "--domain", "acme.example")
    for name in ("bob", "cat"):
        ok(tmp_path, "user", "add", "acme", f"{name}@acme.example", "--name", name.title())
    for space in ("sales", "news"):
        ok(tmp_path, "space", "add", "acme", space)
    # Everyone watches news, mandatory; everything else defaults to a daily digest
    assert "mandatory default for space news: level watching" in ok(
        tmp_path,
        "subscriptions",
        "set-default",
        "acme",
        "--space",
        "news",
        "--level",
        "watching",
        "--mandatory",
    )
    ok(tmp_path, "subscriptions", "set-default", "acme", "--frequency", "daily")
    csv = tmp_path / "subs.csv"
    csv.write_text("email,space,level,frequency\nbob@acme.example,sales,watching,weekly\n")
    assert "imported 1 subscriptions into acme" in ok(
        tmp_path, "subscriptions", "import", "acme", str(csv)
    )
    shown = json.loads(ok(tmp_path, "subscriptions", "show", "acme", "bob@acme.example", "--json"))
    assert {
        r["space"]: (r["level"], r["frequency"], r["source"], r["mandatory"]) for r in shown
    } == {
        "news": ("watching", "daily", "space-default", True),
        "sales": ("watching", "weekly", "space", False),
    }
    assert "news                 watching  daily        space-default (mandatory)" in ok(
        tmp_path, "subscriptions", "show", "acme", "cat@acme.example"
    )
    # Muting mandatory mail is refused, in one line; a bad import changes nothing
    refused = run(
        tmp_path, "subscriptions", "set", "acme", "cat@acme.example", "news", "--level", "muted"
    )
    assert (
        refused.returncode == 1
        and "mandatory" in refused.stderr
        and refused.stderr.count("\n") == 1
    )
    csv.write_text("cat@acme.example,sales,muted,\ncat@acme.example,nowhere,muted,\n")
    bad = run(tmp_path, "subscriptions", "import", "acme", str(csv))
    assert bad.returncode == 1 and "line 2: no space 'nowhere'" in bad.stderr
    cat = json.loads(ok(tmp_path, "subscriptions", "show", "acme", "cat@acme.example", "--json"))
    assert [r["level"] for r in cat if r["space"] == "sales"] == ["normal"]
    assert "0 digests due and queued" in ok(tmp_path, "digests", "run")


def test_one_option_changes_one_setting(tmp_path: Path) -> None:
    """Setting only the frequency keeps the level, and the reverse; following keeps the
    frequency; a default keeps its mandatory mark unless told otherwise."""
    ok(tmp_path, "migrate")
    ok(tmp_path, "tenant", "add", "acme", "--domain", "acme.example")
    ok(tmp_path, "user", "add", "acme", "bob@acme.example", "--name", "Bob", "--no-welcome")
    ok(tmp_path, "space", "add", "acme", "sales")
    sub = ("subscriptions", "set", "acme", "bob@acme.example", "sales")
    ok(tmp_path, *sub, "--level", "watching")
    assert "level watching, frequency daily" in ok(tmp_path, *sub, "--frequency", "daily")
    assert "level muted, frequency daily" in ok(tmp_path, *sub, "--level", "muted")
    ok(tmp_path, "follow", "acme", "bob@acme.example", "sales")
    assert "level watching, frequency daily" in ok(tmp_path, *sub, "--level", "watching")
    assert "level watching, frequency inherited" in ok(tmp_path, *sub, "--frequency", "inherit")
    default = ("subscriptions", "set-default", "acme", "--space", "sales")
    ok(tmp_path, *default, "--level", "watching", "--mandatory")
    assert "mandatory default for space sales: level watching, frequency weekly" in ok(
        tmp_path, *default, "--frequency", "weekly"
    )
    assert "default for space sales: level watching, frequency weekly" in ok(
        tmp_path, *default, "--optional"
    )
    # Saying nothing to change is a usage error: the subcommand's usage, exit 2
    for args in (sub, default, ("space", "set", "acme", "sales")):
        said = run(tmp_path, *args)
        assert said.returncode == 2, said
        assert f"usage: mailhub {' '.join(args[:2])}" in said.stderr, said.stderr
        assert "Traceback" not in said.stderr


def test_listings_for_operators(tmp_path: Path) -> None:
    """Every listing has a table for people and --json for scripts; long ones page."""
    ok(tmp_path, "migrate")
    for slug in ("beta", "acme"):
        ok(tmp_path, "tenant", "add", slug, "--domain", f"{slug}.example")
    for name in ("cat", "ann", "bob"):
        ok(
            tmp_path,
            "user",
            "add",
            "acme",
            f"{name}@acme.example",
            "--name",
            name.title(),
            "--no-welcome",
        )
    ok(tmp_path, "space", "add", "acme", "sales", "--name", "Sales team")
    ok(tmp_path, "space", "set", "acme", "sales", "--restricted", "yes")

    table = ok(tmp_path, "tenant", "list").splitlines()
    assert table[0].split() == ["slug", "domain", "members", "spaces", "name"]
    assert [line.split()[0] for line in table[1:]] == ["acme", "beta"]
    tenants = json.loads(ok(tmp_path, "tenant", "list", "--json"))
    assert [(t["slug"], t["members"], t["spaces"]) for t in tenants] == [
        ("acme", 3, 1),
        ("beta", 0, 0),
    ]
    users = json.loads(ok(tmp_path, "user", "list", "acme", "--json"))
    assert [u["email"] for u in users] == [
        "ann@acme.example",
        "bob@acme.example",
        "cat@acme.example",
    ]
    paged = json.loads(
        ok(tmp_path, "user", "list", "acme", "--json", "--limit", "1", "--offset", "1")
    )
    assert [u["email"] for u in paged] == ["bob@acme.example"]
    assert "deactivated" in ok(tmp_path, "user", "deactivate", "acme", "bob@acme.example")
    bob = [
        u for u in json.loads(ok(tmp_path, "user", "list", "acme", "--json")) if u["name"] == "Bob"
    ]
    assert bob[0]["active"] is False
    assert "bob@acme.example  no     no " in ok(tmp_path, "user", "list", "acme")
    ok(tmp_path, "user", "activate", "acme", "bob@acme.example")
    assert json.loads(ok(tmp_path, "user", "list", "acme", "--json"))[1]["active"] is True

    [space] = json.loads(ok(tmp_path, "space", "list", "acme", "--json"))
    assert (space["address"], space["name"], space["restricted"], space["pages"]) == (
        "sales@acme.example",
        "Sales team",
        True,
        0,
    )
    assert "no spaces in beta" in ok(tmp_path, "space", "list", "beta")
    for listing in (
        ("forms", "list", "acme"),
        ("backup", "list", "acme"),
        ("breach", "list", "acme"),
        ("privacy", "list", "acme"),
        ("pages", "list", "acme", "--limit", "5"),
        ("inbound", "list", "acme", "--offset", "10"),
        ("moderation", "list", "acme"),
    ):
        assert json.loads(ok(tmp_path, *listing, "--json")) == [], listing
    ok(
        tmp_path,
        "breach",
        "record",
        "acme",
        "--aware",
        "2026-11-27T09:30Z",
        "--from",
        "2026-11-26T00:00Z",
        "--to",
        "2026-11-27T00:00Z",
        "--category",
        "contact",
        "--description",
        "A laptop was lost",
    )
    [breach] = json.loads(ok(tmp_path, "breach", "list", "acme", "--json"))
    assert breach["categories"] == ["contact"] and breach["deadline_at"].startswith("2026-11-30")
    bad = run(tmp_path, "user", "list", "acme", "--limit", "-1")
    assert bad.returncode == 2 and "usage: mailhub user list" in bad.stderr


def test_help_answers_without_loading_the_application() -> None:
    """`mailhub --help` lists every command without importing the database, mail or web
    layers (which take most of a second); the table it lists them from is what the command
    modules register."""
    probe = (
        "import sys\n"
        "from mailhub.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('sqlalchemy', 'jinja2', 'fastapi', 'mailhub.db') if m in sys.modules]\n"
        "print('loaded:', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "loaded: []" in result.stdout
    from mailhub.cli.main import COMMANDS, build_parser

    for name, (help_, _) in COMMANDS.items():
        assert f"{name}" in result.stdout and help_.split()[0] in result.stdout
    full = build_parser()
    sub = next(a for a in full._actions if isinstance(a, argparse._SubParsersAction))
    registered = {a.dest: a.help for a in sub._choices_actions}
    assert registered == {name: help_ for name, (help_, _) in COMMANDS.items()}
    # Each command's own modules are the ones that define it (else it would run a stub)
    for name, (_, modules) in COMMANDS.items():
        alone = build_parser(modules)
        sub = next(a for a in alone._actions if isinstance(a, argparse._SubParsersAction))
        handler = sub.choices[name].get_default("handler")
        assert handler is None or handler.__module__ != "mailhub.cli.main", name
    # And a command runs with only its own module loaded
    assert run_help("tenant", "list").startswith("usage: mailhub tenant list")


def run_help(*args: str) -> str:
    return subprocess.run(
        [MAILHUB, *args, "--help"], capture_output=True, text=True, timeout=60, check=True
    ).stdout


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path) -> None:
    """`mailhub … | head -1`: when the reader closes the pipe, no traceback, exit 141."""
    ok(tmp_path, "migrate")
    ok(tmp_path, "tenant", "add", "acme", "--domain", "acme.example")
    csv = tmp_path / "people.csv"
    csv.write_text("".join(f"person{i}@acme.example,Person {i}\n" for i in range(3000)))
    ok(tmp_path, "user", "import", "acme", str(csv), "--no-welcome")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILHUB_")}
    env["MAILHUB_DATA_DIR"] = str(tmp_path / "var")
    piped = subprocess.run(
        f"{MAILHUB} user list acme --limit 3000 | head -1",
        shell=True,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        executable="/bin/bash",
    )
    assert piped.stdout.startswith("email") and piped.stdout.count("\n") == 1
    assert piped.stderr == "", piped.stderr
    status = subprocess.run(
        f"set -o pipefail; {MAILHUB} user list acme --limit 3000 | head -1 >/dev/null",
        shell=True,
        env=env,
        timeout=60,
        executable="/bin/bash",
    )
    assert status.returncode == 141


def test_bad_configuration_is_one_line(tmp_path: Path) -> None:
    result = run(tmp_path, "config", env={"MAILHUB_SMTP_PORT": "lots"})
    assert result.returncode == 1
    assert result.stderr == "mailhub: error: MAILHUB_SMTP_PORT='lots' is not a valid int\n"


def test_unmigrated_database_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    result = run(tmp_path, "pages", "list", "acme")
    assert result.returncode == 1 and "run `mailhub migrate`" in result.stderr


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "pages",
        "list",
        "acme",
        env={"MAILHUB_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"},
    )
    assert result.returncode == 1 and result.stderr.startswith(
        "mailhub: error: cannot use the database"
    )
    assert result.stderr.count("\n") == 1


def test_worker_without_broker_explains(tmp_path: Path) -> None:
    ok(tmp_path, "migrate")
    result = run(tmp_path, "worker")
    assert result.returncode == 1 and "needs MAILHUB_BROKER_URL" in result.stderr


def test_config_prints_masked_settings(tmp_path: Path) -> None:
    out = ok(tmp_path, "config")
    assert "MAILHUB_SMTP_PORT=2525" in out and "MAILHUB_SECRET_KEY=****" in out


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    result = run(tmp_path, "tenant", "add")
    assert result.returncode == 2 and "usage:" in result.stderr


def test_inbound_retry_refuses_what_cannot_be_retried(tmp_path: Path) -> None:
    ok(tmp_path, "migrate")
    ok(tmp_path, "tenant", "add", "acme", "--domain", "acme.example")
    result = run(tmp_path, "inbound", "retry", "acme", "1")
    assert result.returncode == 1 and "no inbound message 1 in acme" in result.stderr


def test_moderation_commands(tmp_path: Path) -> None:
    ok(tmp_path, "migrate")
    ok(tmp_path, "tenant", "add", "acme", "--domain", "acme.example")
    assert "nothing is waiting for moderation" in ok(tmp_path, "moderation", "list", "acme")
    result = run(tmp_path, "moderation", "approve", "acme", "7")
    assert result.returncode == 1 and "no inbound message 7 in acme" in result.stderr


def test_forms_commands(tmp_path: Path) -> None:
    """An administrator lists, exports, opens and closes a form made by mail."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from mailhub.content.questions import parse
    from mailhub.domain import directory, forms
    from mailhub.models import Form, FormVersion

    ok(tmp_path, "migrate")
    ok(tmp_path, "tenant", "add", "acme", "--domain", "acme.example")
    ok(tmp_path, "user", "add", "acme", "ann@acme.example", "--name", "Ann")
    ok(tmp_path, "user", "add", "acme", "bob@acme.example", "--name", "Bob, Jr.")
    ok(tmp_path, "space", "add", "acme", "sales")
    ok(tmp_path, "space", "add", "acme", "hr")
    assert "default space hr" in ok(tmp_path, "tenant", "set", "acme", "--default-space", "hr")
    bad = run(tmp_path, "tenant", "set", "acme", "--default-space", "nowhere")
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1

    engine = create_engine(f"sqlite:///{tmp_path / 'var' / 'mailhub.sqlite3'}")
    with Session(engine) as s, s.begin():
        t = directory.get_tenant(s, "acme")
        ann, bob = (directory.get_user(s, t, e) for e in ("ann@acme.example", "bob@acme.example"))
        definition = parse("Lunch", "1. Dish [Soup / Salad]\n2. Note (optional)\n")
        form = Form(tenant_id=t.id, space_id=1, creator_id=ann.id, title="Lunch")
        s.add(form)
        s.flush()
        version = FormVersion(
            tenant_id=t.id, form_id=form.id, number=1, definition=definition.as_json()
        )
        s.add(version)
        s.flush()
        forms.answer(s, t, form, version, bob, {0: "Soup", 1: '=cmd|"/c calc"'}, "web")
    engine.dispose()

    assert ok(tmp_path, "forms", "list", "acme").splitlines()[1].split() == [
        "1",
        "open",
        "1",
        "Lunch",
    ]
    exported = ok(tmp_path, "forms", "export", "acme", "1")
    assert exported.splitlines()[0] == "Name,Email,Answered at (UTC),Version,Via,Dish,Note"
    assert exported.splitlines()[1].startswith('"Bob, Jr.",bob@acme.example,')
    assert exported.splitlines()[1].endswith(',1,web,Soup,"\'=cmd|""/c calc"""')
    out = tmp_path / "answers.json"
    ok(tmp_path, "forms", "export", "acme", "1", "--format", "json", "--output", str(out))
    data = json.loads(out.read_text())
    assert data["responses"][0]["answers"] == {"Dish": "Soup", "Note": '=cmd|"/c calc"'}
    assert "takes answers from anyone" in ok(
        tmp_path, "forms", "set", "acme", "1", "--answers-from", "anyone"
    )
    assert "form 1 closed" in ok(tmp_path, "forms", "close", "acme", "1")
    assert "already closed" in ok(tmp_path, "forms", "close", "acme", "1")
    missing = run(tmp_path, "forms", "export", "acme", "9")
    assert missing.returncode == 1 and "no form 9 in acme" in missing.stderr
    unwritable = run(tmp_path, "forms", "export", "acme", "1", "--output", "/nonexistent/x.csv")
    assert unwritable.returncode == 1 and "cannot write /nonexistent/x.csv" in unwritable.stderr


def test_restricting_a_space_and_choosing_its_members(tmp_path: Path) -> None:
    ok(tmp_path, "migrate")
    ok(tmp_path, "tenant", "add", "acme", "--domain", "acme.example")
    ok(tmp_path, "user", "add", "acme", "dan@acme.example", "--name", "Dan")
    ok(tmp_path, "space", "add", "acme", "board")
    assert "space board is open to its members and administrators only" in ok(
        tmp_path, "space", "set", "acme", "board", "--restricted", "yes"
    )
    assert "dan@acme.example is a member of board" in ok(
        tmp_path, "space", "member", "add", "acme", "board", "Dan@acme.example"
    )
    assert "is no longer a member" in ok(
        tmp_path, "space", "member", "remove", "acme", "board", "dan@acme.example"
    )
    missing = run(tmp_path, "space", "member", "add", "acme", "board", "eve@acme.example")
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1
    assert "open to every member" in ok(
        tmp_path, "space", "set", "acme", "board", "--restricted", "no"
    )
    said = ok(tmp_path, "space", "set", "acme", "board", "--description", "Minutes  and\ndecisions")
    assert said.strip().endswith("open to every member: Minutes and decisions")
    nothing = run(tmp_path, "space", "set", "acme", "board")
    assert nothing.returncode != 0 and "--description" in nothing.stderr


def test_breach_register_commands(tmp_path: Path) -> None:
    ok(tmp_path, "migrate")
    ok(tmp_path, "tenant", "add", "acme", "--domain", "acme.example")
    ok(tmp_path, "user", "add", "acme", "ann@acme.example", "--name", "Ann")
    out = ok(
        tmp_path,
        "breach",
        "record",
        "acme",
        "--aware",
        "2026-11-27T09:00Z",
        "--from",
        "2026-11-20T00:00Z",
        "--to",
        "2030-01-01T00:00Z",
        "--category",
        "account",
        "--description",
        "A laptop with an export was stolen.",
    )
    assert "breach 1 recorded; tell the supervisory authority by 2026-11-30 09:00 UTC" in out
    assert "breach 1: 1 people affected, 1 notices queued now" in ok(
        tmp_path, "breach", "notify", "acme", "1"
    )
    assert "0 notices queued now" in ok(tmp_path, "breach", "notify", "acme", "1")
    [listed] = ok(tmp_path, "breach", "list", "acme").splitlines()[1:]
    assert listed.split()[:7] == ["1", "2026-11-27", "09:00", "2026-11-30", "09:00", "account", "1"]
    bad = run(
        tmp_path,
        "breach",
        "record",
        "acme",
        "--aware",
        "yesterday",
        "--from",
        "x",
        "--to",
        "y",
        "--category",
        "account",
        "--description",
        "d",
    )
    assert (
        bad.returncode == 1
        and "is not a time" in bad.stderr
        and len(bad.stderr.strip().splitlines()) == 1
    )
    wrong = run(
        tmp_path,
        "breach",
        "record",
        "acme",
        "--aware",
        "2026-11-27T09:00Z",
        "--from",
        "2026-11-20T00:00Z",
        "--to",
        "2026-11-21T00:00Z",
        "--category",
        "passwords",
        "--description",
        "d",
    )
    assert wrong.returncode == 1 and "categories must be among" in wrong.stderr


def test_many_members_at_once_from_a_csv(tmp_path: Path) -> None:
    ok(tmp_path, "migrate")
    ok(tmp_path, "tenant", "add", "acme", "--domain", "acme.example")
    ok(tmp_path, "user", "add", "acme", "ann@acme.example", "--name", "Ann", "--no-welcome")
    people = tmp_path / "people.csv"
    people.write_text(
        "email,name,admin,locale\nbob@acme.example,Bob,,\ncat@acme.example,Cat,yes,fr\n"
        "ann@acme.example,Ann,,\n"
    )
    said = ok(tmp_path, "user", "import", "acme", str(people))
    assert "added 2 users to acme, 2 welcome mails on their way" in said
    assert "already members: ann@acme.example" in said
    # A bad row anywhere: one line that names it, and nobody is added
    bad = tmp_path / "bad.csv"
    bad.write_text("dan@acme.example,Dan\nnot-an-address,Eve\n")
    refused = run(tmp_path, "user", "import", "acme", str(bad))
    assert refused.returncode != 0 and "line 2:" in refused.stderr
    # (Dan was not added: adding him now works.)
    ok(tmp_path, "user", "add", "acme", "dan@acme.example", "--name", "Dan", "--no-welcome")


def _on_a_terminal(tmp_path: Path, *args: str) -> tuple[int, str]:
    """Run a command with its stderr on a pseudo-terminal; its exit code and what it drew."""
    import fcntl
    import pty
    import struct
    import termios

    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILHUB_")}
    env["MAILHUB_DATA_DIR"] = str(tmp_path / "var")
    main, side = pty.openpty()
    fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns
    proc = subprocess.Popen(
        [MAILHUB, *args], stdout=subprocess.PIPE, stderr=side, env=env, text=True
    )
    os.close(side)
    drawn = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the command ended and closed the terminal
            break
        if not chunk:
            break
        drawn += chunk
    os.close(main)
    proc.wait(timeout=60)
    return proc.returncode, drawn.decode(errors="replace")


def test_long_commands_show_progress_on_a_terminal_only(tmp_path: Path) -> None:
    ok(tmp_path, "migrate")
    ok(tmp_path, "tenant", "add", "acme", "--domain", "acme.example")
    people = tmp_path / "people.csv"
    people.write_text("".join(f"p{i}@acme.example,Person {i}\n" for i in range(40)))
    code, drawn = _on_a_terminal(tmp_path, "user", "import", "acme", str(people), "--no-welcome")
    assert code == 0 and "importing people.csv: " in drawn and " rows [" in drawn, drawn
    code, drawn = _on_a_terminal(tmp_path, "backup", "create", "acme")
    assert code == 0 and "backing up acme" in drawn and "rows and files" in drawn, drawn
    # Piped or redirected, stderr stays empty: scripts read only the result
    piped = run(tmp_path, "backup", "create", "acme")
    assert piped.returncode == 0 and piped.stderr == "" and "backup " in piped.stdout
    code, drawn = _on_a_terminal(
        tmp_path, "tenant", "export", "acme", "--to", str(tmp_path / "a.zip")
    )
    assert code == 0 and "exporting acme" in drawn, drawn


def test_search_reindex_reads_the_files_not_read_yet(tmp_path: Path) -> None:
    from mailhub import config
    from mailhub.db import make_engine, unit_of_work
    from mailhub.domain import directory, editing, search
    from mailhub.domain.search import session_factory
    from mailhub.models import Attachment
    from mailhub.stores.files import FileStore

    from helpers import docx_with

    ok(tmp_path, "migrate")
    ok(tmp_path, "tenant", "add", "acme", "--domain", "acme.example")
    ok(tmp_path, "user", "add", "acme", "ann@acme.example", "--name", "Ann", "--no-welcome")
    ok(tmp_path, "space", "add", "acme", "sales")
    settings = config.load({"MAILHUB_DATA_DIR": str(tmp_path / "var")})
    engine = make_engine(settings.effective_database_url)
    factory = session_factory(engine)
    files = FileStore(settings.files_dir)
    data = docx_with("Minutes of the Quokka committee")
    with unit_of_work(factory) as s:
        t = directory.get_tenant(s, "acme")
        page, _mails = editing.create(
            s,
            t,
            directory.get_space(s, t, "sales"),
            directory.get_user(s, t, "ann@acme.example"),
            "Committee",
            "See the file.",
        )
        s.add(
            Attachment(
                tenant_id=t.id,
                page_id=page.id,
                uploader_id=page.author_id,
                filename="minutes.docx",
                content_type="application/octet-stream",
                size=len(data),
                sha256="0" * 64,
                path=files.write(t.id, "minutes.docx", data),
            )
        )
    out = ok(tmp_path, "search", "reindex")
    assert "search entries for acme; 1 files read" in out, out
    with factory() as s:
        [hit] = search.find(s, directory.get_tenant(s, "acme"), "quokka")
    engine.dispose()
    assert hit.title == "minutes.docx" and hit.where.endswith("inside the file")
    assert "0 files read" in ok(tmp_path, "search", "reindex", "acme")
    bad = run(tmp_path, "search", "reindex", "nope")
    assert bad.returncode == 1 and "no tenant 'nope'" in bad.stderr

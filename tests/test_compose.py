"""docker-compose.yml and the Dockerfile agree with the code (Docker itself cannot run here)."""

from __future__ import annotations

import re
from typing import Any

import yaml

from mailhub import config
from mailhub.cli.main import build_parser

from helpers import ROOT


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def _mailhub_services() -> dict[str, Any]:
    return {
        name: svc
        for name, svc in _compose()["services"].items()
        if svc.get("image", "").startswith("mailhub")
    }


def _substitute(value: str) -> str:
    """${VAR:-default} → default, ${VAR:?msg} → a placeholder, as compose would with VAR set."""
    value = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))
    return re.sub(r"\$\{[A-Z_]+:\?[^}]*\}", "set-by-the-operator-0123456789", value)


def test_the_production_shape_is_there() -> None:
    services = _compose()["services"]
    assert {"postgres", "redis", "smtp", "web", "worker", "migrate"} <= set(services)
    assert {_mailhub_services()[s]["command"][0] for s in ("smtp", "web", "worker", "migrate")} == {
        "smtp",
        "web",
        "worker",
        "migrate",
    }
    # Everything stored is in PostgreSQL: no mailhub container keeps a volume of its own
    assert {name: svc.get("volumes") for name, svc in _mailhub_services().items()} == {
        name: None for name in _mailhub_services()
    }


def test_every_command_exists() -> None:
    parser = build_parser()
    for name, svc in _mailhub_services().items():
        args = parser.parse_args(svc["command"])
        assert callable(args.handler), name


def test_every_variable_is_a_known_setting_and_valid() -> None:
    known = config.known_variables()
    for name, svc in _mailhub_services().items():
        env = {k: _substitute(v) for k, v in svc["environment"].items()}
        unknown = set(env) - known
        assert not unknown, f"{name} sets unknown settings {unknown}"
        settings = config.load(env)  # raises on any invalid value
        assert settings.broker_url.startswith("redis://redis")
        assert settings.database_url.startswith("postgresql+psycopg://")


def test_the_dockerfile_copies_what_exists() -> None:
    text = (ROOT / "Dockerfile").read_text()
    for src in re.findall(r"^COPY (\S+(?: \S+)*) \S+$", text, re.MULTILINE):
        for path in src.split():
            assert (ROOT / path).exists(), path
    assert 'ENTRYPOINT ["mailhub"]' in text

"""How a command module adds its commands to the one parser: `Commands`, where a group
(`tenant`, `privacy`, …) may take commands from more than one module."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from mailhub.config import Settings

Handler = Callable[[argparse.Namespace, Settings], int]


class Commands:
    def __init__(self, sub: Any) -> None:
        self._sub = sub
        self._groups: dict[str, Any] = {}
        self.names: set[str] = set()  # the commands added at the top

    def group(self, name: str, help_: str) -> Any:
        """The subcommands of `mailhub NAME`, made on first use."""
        if name not in self._groups:
            self.names.add(name)
            parent = self._sub.add_parser(name, help=help_)
            self._groups[name] = parent.add_subparsers(dest="sub", required=True)
        return self._groups[name]

    def add(
        self, name: str, fn: Handler, help_: str, parent: Any = None
    ) -> argparse.ArgumentParser:
        cmd: argparse.ArgumentParser = (parent or self._sub).add_parser(
            name, help=help_, description=help_
        )
        cmd.set_defaults(handler=fn, command_parser=cmd)  # for usage errors found later
        if parent is None:
            self.names.add(name)
        return cmd

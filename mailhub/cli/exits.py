"""How a command ends: every error is one line on stderr and an exit code, never a
traceback (0 done, 1 refused or failed, 2 usage, 130 interrupted)."""

from __future__ import annotations

import sys
from collections.abc import Callable

from sqlalchemy.exc import OperationalError, SQLAlchemyError

from mailhub.errors import MailhubError

REFUSED = 1
INTERRUPTED = 130


def run(command: Callable[[], int]) -> int:
    """Run a command; map what it raises to a line on stderr and an exit code."""
    try:
        return command()
    except MailhubError as exc:
        return refuse(str(exc))
    except OperationalError as exc:
        return refuse(f"cannot use the database: {exc.orig}".splitlines()[0])
    except SQLAlchemyError as exc:
        return refuse(f"database error: {exc}".splitlines()[0])
    except OSError as exc:
        return refuse(str(exc))
    except KeyboardInterrupt:
        return INTERRUPTED


def refuse(reason: str) -> int:
    print(f"mailhub: error: {reason}", file=sys.stderr)
    return REFUSED

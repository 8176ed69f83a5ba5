"""How a command ends: every error is one line on stderr and an exit code, never a
traceback (0 done, 1 refused or failed, 2 usage, 130 interrupted, 141 the reader of the output
went away)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from mailhub.errors import MailhubError

REFUSED = 1
INTERRUPTED = 130
PIPE_CLOSED = 141  # as a tool killed by SIGPIPE: `mailhub … | head` stops without a word


def run(command: Callable[[], int]) -> int:
    """Run a command; map what it raises to a line on stderr and an exit code."""
    try:
        code = command()
        sys.stdout.flush()  # here, where a reader that went away is answered quietly
        return code
    except MailhubError as exc:
        return refuse(str(exc))
    except BrokenPipeError:
        # Whoever read the output has gone; what is still buffered goes nowhere, quietly
        # (Python's own flush at exit would otherwise complain).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return PIPE_CLOSED
    except OSError as exc:
        return refuse(str(exc))
    except KeyboardInterrupt:
        return INTERRUPTED
    except Exception as exc:
        # SQLAlchemy is imported by the commands that use a database, not before (so that
        # `mailhub --help` answers at once); an error of it means it is loaded.
        from sqlalchemy.exc import OperationalError, SQLAlchemyError

        if isinstance(exc, OperationalError):
            return refuse(f"cannot use the database: {exc.orig}".splitlines()[0])
        if isinstance(exc, SQLAlchemyError):
            return refuse(f"database error: {exc}".splitlines()[0])
        raise


def refuse(reason: str) -> int:
    print(f"mailhub: error: {reason}", file=sys.stderr)
    return REFUSED

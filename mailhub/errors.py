"""The one error root.

Domain code raises specific subclasses beside the code that raises them; each edge (SMTP, HTTP,
CLI, actor) maps them to its own codes in one place.
"""

from __future__ import annotations


class MailhubError(Exception):
    """Anything mailhub refuses on purpose, with a message fit for a person."""


class ConfigError(MailhubError):
    """A MAILHUB_* setting is missing or malformed."""


class NotFound(MailhubError):
    """A tenant, user, space, page or message that does not exist (in this tenant)."""


class AlreadyExists(MailhubError):
    """A unique name is taken."""


class InvalidInput(MailhubError):
    """A value a person typed that mailhub cannot use."""

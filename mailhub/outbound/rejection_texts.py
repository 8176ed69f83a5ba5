"""What each rejection says: what happened and what the sender can do about it.

One entry per reason; the inbound issue makes these localizable per tenant.
"""

from __future__ import annotations

_TEXTS: dict[str, tuple[str, str]] = {
    "unknown_sender": (
        "{detail}. Only members of {tenant} can publish by email.",
        "Send from the address your account uses, or ask an administrator to add you.",
    ),
    "unknown_space": (
        "{detail}.",
        "Check the address; your intranet lists its spaces and their addresses.",
    ),
    "unknown_key": (
        "{detail}.",
        "Open the page on the intranet and comment there, or reply to a newer notification.",
    ),
    "not_your_key": (
        "{detail}. Reply addresses belong to the person a notification was sent to.",
        "Reply from the address that received the notification, or comment on the intranet.",
    ),
    "empty": ("{detail}.", "Write your text in the message and send it again."),
    "not_supported": ("{detail}.", "Use the intranet for this for now."),
    "blocked_attachment": (
        "Your message was published, but {detail}.",
        "Share those files another way (a link to a file share), or send them in a zip if "
        "your administrators allow it.",
    ),
}
# Codes for mail that was used, with a problem worth telling the sender about.
PUBLISHED_ANYWAY = frozenset({"blocked_attachment"})
_FALLBACK = ("{detail}.", "If you think this is a mistake, contact your intranet's administrators.")


def explain(code: str, detail: str, tenant: str) -> tuple[str, str]:
    what, todo = _TEXTS.get(code, _FALLBACK)
    return what.format(detail=detail.rstrip("."), tenant=tenant), todo

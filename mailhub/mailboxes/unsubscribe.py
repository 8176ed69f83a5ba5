"""unsubscribe+TOKEN@domain: the mailto: of List-Unsubscribe (RFC 2369); the token alone
decides, as the https one-click does (RFC 8058).
"""

from __future__ import annotations

from mailhub.domain import actions
from mailhub.domain.preferences import PreferenceRefused
from mailhub.mailboxes.mail import Mail
from mailhub.mailboxes.rejections import Rejected
from mailhub.outbound.keys import TokenRefused


def unsubscribe(mail: Mail, token: str) -> actions.Done:
    """The mailto: of List-Unsubscribe: the token alone decides, as the https one-click does."""
    try:
        return actions.perform(mail.session, mail.tenant, token, sealed=True)
    except TokenRefused as exc:
        raise Rejected("unknown_token", str(exc)) from None
    except PreferenceRefused as exc:
        raise Rejected("mandatory", str(exc)) from None

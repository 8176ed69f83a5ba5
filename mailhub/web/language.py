"""Which language a page is written in: the member's own setting, else what their browser
asks for (Accept-Language, read once per request by the app's outermost middleware), else
the tenant's default."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from mailhub import i18n
from mailhub.i18n import N_

# A digest by its frequency, as a sentence names it ("in their daily digest"): every page
# that names one gets these as `digests`, in its language.
DIGESTS = {
    "hourly": N_("hourly digest"),
    "daily": N_("daily digest"),
    "weekly": N_("weekly digest"),
}

# The languages the browser asks for (Accept-Language), best first, for this request.
browser_languages: ContextVar[tuple[str, ...]] = ContextVar("browser_languages", default=())


def page_language(context: dict[str, Any]) -> str:
    """The member's own setting, else what their browser asks for, else the tenant's
    default language (of the signed-in member's tenant, or the tenant the page is about)."""
    viewer, tenant = context.get("viewer"), context.get("tenant")
    tenant = viewer.tenant if viewer is not None else tenant
    return i18n.negotiate(
        viewer.user.locale if viewer is not None else None,
        *browser_languages.get(),
        getattr(tenant, "locale", None),
    )

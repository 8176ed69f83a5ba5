"""Checking that a ConfirmAction POST really comes from Gmail.

Google calls an HttpActionHandler with "Authorization: Bearer <JWT>", signed with Google's keys
(published as a JWK set), with the sender's domain as audience ("https://acme.example") and
gmail@system.gserviceaccount.com as azp. Keys are fetched once and cached, and fetched again
only for a key id not seen before (Google rotates them). Any failure is a 401 at the edge.
"""

from __future__ import annotations

from typing import Any

import jwt

GMAIL_AZP = "gmail@system.gserviceaccount.com"
ISSUERS = ("https://accounts.google.com", "accounts.google.com")
GOOGLE_CERTS = "https://www.googleapis.com/oauth2/v3/certs"


class BearerRefused(Exception):
    """The request does not carry a valid Google bearer token for this sender domain."""


class GoogleBearer:
    def __init__(self, certs_url: str = GOOGLE_CERTS) -> None:
        self._keys = jwt.PyJWKClient(certs_url, cache_keys=True, lifespan=6 * 3600, timeout=10)

    def verify(self, authorization: str | None, sender_domain: str) -> dict[str, Any]:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise BearerRefused("no bearer token")
        try:
            key = self._keys.get_signing_key_from_jwt(token.strip())
            claims: dict[str, Any] = jwt.decode(
                token.strip(),
                key.key,
                algorithms=["RS256"],
                audience=f"https://{sender_domain}",
                options={"require": ["exp", "iat", "aud", "iss"]},
            )
        except jwt.PyJWTError as exc:
            raise BearerRefused(str(exc)) from None
        if claims.get("iss") not in ISSUERS:
            raise BearerRefused(f"issuer {claims.get('iss')!r} is not Google")
        if claims.get("azp") != GMAIL_AZP:
            raise BearerRefused("the token was not issued to Gmail")
        return claims

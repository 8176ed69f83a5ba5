"""Stored envelopes keep no reply key or unsubscribe token in clear.

Ingress now stores `reply+KEY@domain` as `reply+=SHA256(KEY)@domain` (the hash is all that
finds the key's row); this seals the recipients of messages stored before. The rule is copied
here, frozen, as a migration must be (mailhub.routing.seal is the living one).

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06 12:00:00.000000
"""

from __future__ import annotations

import hashlib
import json
import re

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

_SECRET = re.compile(r"^(reply|unsubscribe)\+([A-Za-z0-9_-]{16,64})@(.+)$", re.IGNORECASE)
BATCH = 1000


def _seal(address: str) -> str:
    m = _SECRET.match(address.strip().strip("<>").strip())
    if m is None:
        return address
    kind, key, domain = m.group(1).lower(), m.group(2), m.group(3).lower()
    return f"{kind}+={hashlib.sha256(key.encode()).hexdigest()}@{domain}"


def upgrade() -> None:
    bind = op.get_bind()
    inbound = sa.table(
        "inbound_messages", sa.column("id", sa.Integer), sa.column("rcpt_to", sa.JSON)
    )
    text = sa.cast(inbound.c.rcpt_to, sa.Text)
    last = 0
    while True:
        rows = bind.execute(
            sa.select(inbound.c.id, inbound.c.rcpt_to)
            .where(
                inbound.c.id > last,
                sa.or_(text.like("%reply+%"), text.like("%unsubscribe+%")),
            )
            .order_by(inbound.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        for id_, rcpt_to in rows:
            values = json.loads(rcpt_to) if isinstance(rcpt_to, str) else rcpt_to
            sealed = [_seal(str(v)) for v in values or []]
            if sealed != values:
                bind.execute(sa.update(inbound).where(inbound.c.id == id_).values(rcpt_to=sealed))
        last = rows[-1][0]


def downgrade() -> None:
    pass  # a hash cannot be turned back into its key

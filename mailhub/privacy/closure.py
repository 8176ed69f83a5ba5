"""Closing a tenant: everything of a customer incinerated, with the same kind of proof.

Files first — attachments and thumbnails, raw mail, export archives, backups, the outbox's
mail for the tenant's domain — then the tenant's keys (so a copy of a backup that escaped
the deletion still opens for nobody), then every row of every table, the search index with
them, and the tenant itself. The proof counts what is left of the tenant in every store the
data map lists and is written to data_dir/closures/SLUG-TIME.json (it names the customer's
slug and nobody else); the tenant's own rows, where a proof usually lives, are gone.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from mailhub.db import SessionFactory, forget_deleted, unit_of_work
from mailhub.domain.directory import get_tenant
from mailhub.models import Base, Blob, Tenant, utcnow
from mailhub.privacy import datamap
from mailhub.privacy.erasure.files import remove_outbox
from mailhub.privacy.proof import (
    Places,
    files_hits,
    files_under,
    fts_matches,
    log_files,
    record,
)


@dataclass(frozen=True)
class Closed:
    slug: str
    counts: dict[str, int]
    proof: dict[str, int]
    record: Path

    @property
    def left(self) -> dict[str, int]:
        return {store: n for store, n in self.proof.items() if n}


def close(factory: SessionFactory, places: Places, slug: str, closures: Path) -> Closed:
    with factory() as session:
        tenant = get_tenant(session, slug)
        tid, domain = tenant.id, tenant.domain
    counts: dict[str, int] = {}
    for name, root in (
        ("files", places.files.root),
        ("raw mail", places.raw.root),
        ("exports", places.exports),
    ):
        counts[name] = _remove_tree(root / str(tid))
    counts["backups"] = places.backups.delete_tenant(tid)
    counts["outbox"] = remove_outbox(places.outbox, [f"@{domain}"])
    counts["keys"] = places.keys.destroy_tenant(tid)
    with unit_of_work(factory) as session:
        for table in reversed(Base.metadata.sorted_tables):
            if "tenant_id" in table.c:
                result = session.execute(delete(table).where(table.c.tenant_id == tid))
                counts[table.name] = result.rowcount or 0  # type: ignore[attr-defined]
        session.execute(delete(Tenant).where(Tenant.id == tid))
        proof = prove_closed(session, places, tid, domain)
    forget_deleted(factory)
    closures.mkdir(parents=True, exist_ok=True)
    record = closures / f"{slug}-{utcnow():%Y%m%dT%H%M%S}Z.json"
    record.write_text(
        json.dumps(
            {
                "tenant": slug,
                "closed_at": utcnow().isoformat() + "Z",
                "removed": {k: v for k, v in counts.items() if v},
                "proof": proof,
                "left": sum(proof.values()),
            },
            indent=1,
        )
    )
    return Closed(slug, counts, proof, record)


def _remove_tree(folder: Path) -> int:
    if not folder.exists():
        return 0
    count = sum(1 for p in folder.rglob("*") if p.is_file())
    shutil.rmtree(folder)
    return count


def prove_closed(session: Session, places: Places, tenant_id: int, domain: str) -> dict[str, int]:
    """What is left of the tenant in every store the data map lists."""
    dm = datamap.load()
    dialect = session.get_bind().dialect.name
    hits: dict[str, int] = {}
    for name, entry in sorted(dm["tables"].items()):
        if entry.get("only_on", dialect) != dialect:
            continue
        if name.startswith("search_fts"):
            hits[f"table {name}"] = fts_matches(session, f'tenant_id : "{tenant_id}"')
            continue
        table = Base.metadata.tables.get(name)
        if table is None or "tenant_id" not in table.c:
            # alembic's version number, the cluster's leases: nobody's, no tenant's
            hits[f"table {name}"] = 0
        elif name == "tenants":
            hits[f"table {name}"] = int(
                session.scalar(
                    select(func.count()).select_from(table).where(table.c.id == tenant_id)
                )
                or 0
            )
        else:
            hits[f"table {name}"] = int(
                session.scalar(
                    select(func.count()).select_from(table).where(table.c.tenant_id == tenant_id)
                )
                or 0
            )
    folders = {
        "raw_dir": places.raw.root,
        "files_dir": places.files.root,
        "exports_dir": places.exports,
        "keys_dir": places.keys.root,
    }
    mail_for_domain = [f"@{domain}"]
    for name in sorted(dm["file_stores"]):
        if name == "outbox_dir":
            record(
                hits,
                f"file store {name}",
                files_hits((f for _, f in places.outbox.files()), mail_for_domain),
            )
        elif name == "blob_store":  # raw mail and files in the database: any of the tenant's
            hits[f"file store {name}"] = int(
                session.scalar(
                    select(func.count()).select_from(Blob).where(Blob.tenant_id == tenant_id)
                )
                or 0
            )
        elif name == "backups_dir":
            hits[f"file store {name}"] = places.backups.holds(tenant_id)
        elif name in folders:
            folder = folders[name] / str(tenant_id)  # a file left, or the folder itself
            left = sum(1 for _ in files_under(folders[name], tenant_id))
            hits[f"file store {name}"] = left + 1 if folder.exists() else 0
        else:
            raise ValueError(f"the data map lists file store {name!r}, which closing cannot check")
    queued = {
        "inbound": Base.metadata.tables["inbound_messages"],
        "outbound": Base.metadata.tables["notifications"],
    }
    for name in sorted(dm["queues"]):  # they carry ids of these rows, which must be gone
        table = queued[name]
        hits[f"queue {name}"] = int(
            session.scalar(
                select(func.count()).select_from(table).where(table.c.tenant_id == tenant_id)
            )
            or 0
        )
    for name in sorted(dm["logs"]):
        record(hits, f"log {name}", files_hits(log_files(places.log_file), mail_for_domain))
    for name in sorted(dm["backups"]):
        hits[f"backup {name}"] = int(places.keys.has_tenant(tenant_id)) + places.backups.holds(
            tenant_id
        )
    return hits

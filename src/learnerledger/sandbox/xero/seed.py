"""``learnerledger sandbox xero seed``: the demo organisation's legacy contacts, written straight
into the sandbox's database (as if typed into Xero over the years), with the ground truth of
who each contact really is kept apart in ``seed_truth`` for measuring duplicate detection, and
three years of their invoices, credit notes, payments, prepayments and overpayments
(``seed_documents``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from learnerledger.sandbox.seed import demo_people, legacy_contacts
from learnerledger.sandbox.xero.contacts import insert_contact
from learnerledger.sandbox.xero.seed_documents import seed_documents
from learnerledger.sandbox.xero.store import DEFAULT_TENANT_ID, SandboxStore

__all__ = ["SEED_TODAY", "SeedReport", "seed_organisation"]

SEED_TODAY = date(2026, 11, 1)
_CONTACT_NAMESPACE = uuid.UUID("a3c1e6d2-7b84-4f0e-9a5d-2c6b8e1f4d37")


@dataclass(frozen=True)
class SeedReport:
    tenant_id: str
    people: int
    contacts: int
    archived: int
    employers: int
    documents: int = 0  # invoices, credit notes, prepayments and overpayments
    payments: int = 0


class SeedConflict(Exception):
    """The organisation already holds contacts and ``replace`` was not asked for."""


def contact_id_for(seed: int, key: str) -> str:
    return str(uuid.uuid5(_CONTACT_NAMESPACE, f"{seed}:{key}"))


def seed_organisation(
    store: SandboxStore,
    *,
    seed: int = 1,
    scale: float = 1.0,
    tenant_id: str = DEFAULT_TENANT_ID,
    replace: bool = False,
    today: date = SEED_TODAY,
    documents: bool = True,
) -> SeedReport:
    people = demo_people(seed, scale, today=today)
    legacy = legacy_contacts(people, seed, today=today)
    with store.tx() as conn:
        existing = conn.execute(
            "SELECT count(*) FROM contacts WHERE tenant_id = ?", (tenant_id,)
        ).fetchone()[0]
        if existing and not replace:
            raise SeedConflict(
                f"The organisation already holds {existing} contacts. Seed a new --db, or pass "
                "--replace to delete them first."
            )
        for table in ("allocations", "payments", "bank_transactions", "documents", "sequences"):
            conn.execute(f"DELETE FROM {table} WHERE tenant_id = ?", (tenant_id,))
        conn.execute("DELETE FROM contacts WHERE tenant_id = ?", (tenant_id,))
        conn.execute("DELETE FROM seed_truth WHERE tenant_id = ?", (tenant_id,))
        for item in legacy:
            contact_id = contact_id_for(seed, item.key)
            insert_contact(
                conn,
                tenant_id,
                dict(item.contact),
                now_ms=int(item.updated_utc.timestamp() * 1000),
                contact_id=contact_id,
            )
            conn.execute(
                "INSERT INTO seed_truth (tenant_id, contact_id, person_ref, kind, variant) "
                "VALUES (?, ?, ?, ?, ?)",
                (tenant_id, contact_id, item.person_ref, item.kind, item.variant),
            )
        if documents:
            seed_documents(
                conn,
                tenant_id,
                legacy,
                contact_id_for=lambda key: contact_id_for(seed, key),
                seed=seed,
                today=today,
            )
        made = conn.execute(
            "SELECT (SELECT count(*) FROM documents WHERE tenant_id = ?), "
            "(SELECT count(*) FROM payments WHERE tenant_id = ?)",
            (tenant_id, tenant_id),
        ).fetchone()
    return SeedReport(
        tenant_id=tenant_id,
        people=len(people),
        contacts=len(legacy),
        archived=sum(1 for c in legacy if c.contact.get("ContactStatus") == "ARCHIVED"),
        employers=sum(1 for c in legacy if c.kind == "employer"),
        documents=made[0],
        payments=made[1],
    )

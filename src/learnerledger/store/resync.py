"""What the resync has written to the SMS: the only writer of ``resync_documents`` and
``sms_documents``.

``resync_documents`` keeps, per Xero organisation and document, where the document is in the SMS
(``sms``: ``wisenet`` or ``csv``), on which learner (``ref_internal``) and the digest of exactly
what was written (``body_hash``), so that an unchanged document is never written or read again.
A write is marked ``pending`` (with its target and digest) before it is sent: a run stopped
after sending and before recording the answer leaves it pending, and the next run settles it by
what the SMS holds before sending anything again.

``sms_documents`` is the SMS side of a CSV source: the documents in Wisenet's shape, per learner,
for ``learnerledger export documents --csv`` (the SMS imports them) and the reconciliation.
Money is decimal text, as in the mirror.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date as _Day
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from learnerledger.store._reading import StoreOrConnection, reading
from learnerledger.store.tables import metadata

__all__ = [
    "Held",
    "Pending",
    "SmsDocument",
    "Written",
    "clear_pending",
    "count_resynced",
    "held_by",
    "iter_sms_documents",
    "load_held",
    "mark_pending",
    "record_written",
    "resync_documents",
    "sms_documents",
]

_CONNECTION = "connections.id"

resync_documents = sa.Table(
    "resync_documents",
    metadata,
    sa.Column("connection_id", sa.Integer, sa.ForeignKey(_CONNECTION), primary_key=True),
    sa.Column("document_id", sa.String(36), primary_key=True),
    sa.Column("sms", sa.String(10), nullable=False),  # wisenet | csv
    sa.Column("ref_internal", sa.String(50), nullable=True),  # NULL: not in the SMS (removed)
    sa.Column("body_hash", sa.String(64), nullable=True),  # of what the SMS holds
    sa.Column("pending", sa.String(10), nullable=True),  # put | delete, sent, outcome unknown
    sa.Column("pending_sms", sa.String(10), nullable=True),
    sa.Column("pending_ref", sa.String(50), nullable=True),
    sa.Column("pending_hash", sa.String(64), nullable=True),
    sa.Column("written_ms", sa.BigInteger, nullable=True),
)
sa.Index(
    "ix_resync_documents_learner", resync_documents.c.connection_id, resync_documents.c.ref_internal
)

sms_documents = sa.Table(
    "sms_documents",
    metadata,
    sa.Column("connection_id", sa.Integer, sa.ForeignKey(_CONNECTION), primary_key=True),
    sa.Column("document_id", sa.String(36), primary_key=True),
    sa.Column("ref_internal", sa.String(50), nullable=False),
    sa.Column("number", sa.String(255), nullable=True),
    sa.Column("status", sa.String(20), nullable=True),
    sa.Column("date", sa.Date, nullable=True),
    sa.Column("amount_total", sa.String(40), nullable=True),  # decimal text
    sa.Column("amount_due", sa.String(40), nullable=True),
    sa.Column("body", sa.Text, nullable=False),  # the document in Wisenet's shape, as JSON
    sa.Column("written_ms", sa.BigInteger, nullable=False),
)
sa.Index("ix_sms_documents_learner", sms_documents.c.connection_id, sms_documents.c.ref_internal)

_BATCH = 500


@dataclass(frozen=True)
class Held:
    """Where a document stands in the SMS, as far as the resync knows."""

    document_id: str
    sms: str
    ref_internal: str | None  # None: the SMS does not hold it (any more)
    body_hash: str | None
    pending: str | None = None  # put | delete: sent, and its outcome is not known
    pending_sms: str | None = None
    pending_ref: str | None = None
    pending_hash: str | None = None


@dataclass(frozen=True)
class Pending:
    """A write about to be sent: ``put`` the document (digest ``body_hash``) on learner
    ``ref_internal`` in ``sms``, or ``delete`` it there."""

    document_id: str
    action: str  # put | delete
    sms: str
    ref_internal: str | None
    body_hash: str | None


@dataclass(frozen=True)
class SmsDocument:
    """A document of a CSV source's SMS side (``body``: Wisenet's shape, as JSON text)."""

    document_id: str
    ref_internal: str
    number: str | None
    status: str | None
    date: _Day | None
    amount_total: Decimal | None
    amount_due: Decimal | None
    body: str


@dataclass(frozen=True)
class Written:
    """A write the SMS carried out (or, for a CSV source, the local SMS side to keep)."""

    document_id: str
    action: str  # put | delete
    sms: str
    ref_internal: str | None
    body_hash: str | None
    local: SmsDocument | None = None  # the CSV source's copy to keep (put to ``csv``)


def _held(row: sa.Row[tuple[object, ...]]) -> Held:
    m = row._mapping
    return Held(
        document_id=str(m["document_id"]),
        sms=str(m["sms"]),
        ref_internal=m["ref_internal"],
        body_hash=m["body_hash"],
        pending=m["pending"],
        pending_sms=m["pending_sms"],
        pending_ref=m["pending_ref"],
        pending_hash=m["pending_hash"],
    )


def load_held(source: StoreOrConnection, connection_id: int) -> dict[str, Held]:
    """Every document the resync has written or tried to write for this organisation."""
    with reading(source) as conn:
        rows = conn.execute(
            sa.select(resync_documents).where(resync_documents.c.connection_id == connection_id)
        )
        return {str(r.document_id): _held(r) for r in rows}


def held_by(source: StoreOrConnection, connection_id: int, refs: Sequence[str]) -> list[Held]:
    """The documents the SMS holds (as far as the resync knows) on the learners ``refs``."""
    out: list[Held] = []
    with reading(source) as conn:
        for start in range(0, len(refs), _BATCH):
            rows = conn.execute(
                sa.select(resync_documents).where(
                    resync_documents.c.connection_id == connection_id,
                    resync_documents.c.ref_internal.in_(list(refs[start : start + _BATCH])),
                )
            )
            out.extend(_held(r) for r in rows)
    return out


def _existing(conn: Connection, connection_id: int, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), _BATCH):
        found.update(
            str(i)
            for i in conn.execute(
                sa.select(resync_documents.c.document_id).where(
                    resync_documents.c.connection_id == connection_id,
                    resync_documents.c.document_id.in_(list(ids[start : start + _BATCH])),
                )
            ).scalars()
        )
    return found


def _update_each(
    conn: Connection, connection_id: int, rows: Sequence[dict[str, Any]], **fixed: Any
) -> None:
    """Update documents one row each (``b_id`` names the document, every other key a column
    and its value), setting ``fixed`` on all of them too."""
    if not rows:
        return
    columns = [k for k in rows[0] if k != "b_id"]
    conn.execute(
        resync_documents.update()
        .where(
            resync_documents.c.connection_id == connection_id,
            resync_documents.c.document_id == sa.bindparam("b_id"),
        )
        .values({**{c: sa.bindparam(f"v_{c}") for c in columns}, **fixed}),
        [{"b_id": r["b_id"], **{f"v_{c}": r[c] for c in columns}} for r in rows],
    )


def mark_pending(conn: Connection, connection_id: int, writes: Sequence[Pending]) -> None:
    """Record ``writes`` as sent-with-unknown-outcome, before they are sent."""
    if not writes:
        return
    existing = _existing(conn, connection_id, [w.document_id for w in writes])
    fresh = [
        {
            "connection_id": connection_id,
            "document_id": w.document_id,
            "sms": w.sms,
            "ref_internal": None,
            "body_hash": None,
            "pending": w.action,
            "pending_sms": w.sms,
            "pending_ref": w.ref_internal,
            "pending_hash": w.body_hash,
        }
        for w in writes
        if w.document_id not in existing
    ]
    if fresh:
        conn.execute(resync_documents.insert(), fresh)
    changed = [
        {
            "b_id": w.document_id,
            "pending": w.action,
            "pending_sms": w.sms,
            "pending_ref": w.ref_internal,
            "pending_hash": w.body_hash,
        }
        for w in writes
        if w.document_id in existing
    ]
    _update_each(conn, connection_id, changed)


def clear_pending(conn: Connection, connection_id: int, document_ids: Sequence[str]) -> None:
    """The writes of ``document_ids`` did not happen (refused, never sent): forget them."""
    for start in range(0, len(document_ids), _BATCH):
        conn.execute(
            resync_documents.update()
            .where(
                resync_documents.c.connection_id == connection_id,
                resync_documents.c.document_id.in_(list(document_ids[start : start + _BATCH])),
            )
            .values(pending=None, pending_sms=None, pending_ref=None, pending_hash=None)
        )
        # A document never written that was refused leaves nothing behind.
        conn.execute(
            resync_documents.delete().where(
                resync_documents.c.connection_id == connection_id,
                resync_documents.c.document_id.in_(list(document_ids[start : start + _BATCH])),
                resync_documents.c.body_hash.is_(None),
                resync_documents.c.ref_internal.is_(None),
                resync_documents.c.written_ms.is_(None),
            )
        )


def _money_text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def record_written(
    conn: Connection, connection_id: int, writes: Sequence[Written], *, now_ms: int
) -> None:
    """The SMS holds ``writes`` now: keep where each document is and its digest (a CSV
    source's copy too), and close their pending writes. Of several writes of one document
    (removed from one SMS, written to the other) the last says where it is."""
    if not writes:
        return
    latest = {w.document_id: w for w in writes}
    existing = _existing(conn, connection_id, list(latest))
    rows = [
        {
            "b_id": w.document_id,
            "sms": w.sms,
            "ref_internal": w.ref_internal if w.action == "put" else None,
            "body_hash": w.body_hash if w.action == "put" else None,
            "written_ms": now_ms,
        }
        for w in latest.values()
    ]
    fresh = [r for r in rows if r["b_id"] not in existing]
    if fresh:
        conn.execute(
            resync_documents.insert(),
            [
                {
                    "connection_id": connection_id,
                    "document_id": r["b_id"],
                    "sms": r["sms"],
                    "ref_internal": r["ref_internal"],
                    "body_hash": r["body_hash"],
                    "written_ms": r["written_ms"],
                }
                for r in fresh
            ],
        )
    _update_each(
        conn,
        connection_id,
        [r for r in rows if r["b_id"] in existing],
        pending=None,
        pending_sms=None,
        pending_ref=None,
        pending_hash=None,
    )
    ids = sorted({w.document_id for w in writes if w.sms == "csv"})
    for start in range(0, len(ids), _BATCH):
        conn.execute(
            sms_documents.delete().where(
                sms_documents.c.connection_id == connection_id,
                sms_documents.c.document_id.in_(ids[start : start + _BATCH]),
            )
        )
    kept = [
        {
            "connection_id": connection_id,
            "document_id": w.local.document_id,
            "ref_internal": w.local.ref_internal,
            "number": w.local.number,
            "status": w.local.status,
            "date": w.local.date,
            "amount_total": _money_text(w.local.amount_total),
            "amount_due": _money_text(w.local.amount_due),
            "body": w.local.body,
            "written_ms": now_ms,
        }
        for w in latest.values()
        if w.sms == "csv" and w.action == "put" and w.local is not None
    ]
    if kept:
        conn.execute(sms_documents.insert(), kept)


def _money(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def iter_sms_documents(
    source: StoreOrConnection, connection_id: int, *, refs: Sequence[str] | None = None
) -> Iterator[SmsDocument]:
    """A CSV source's SMS side (of the learners ``refs``), by learner and document."""
    query = sa.select(sms_documents).where(sms_documents.c.connection_id == connection_id)
    if refs is not None:
        query = query.where(sms_documents.c.ref_internal.in_(list(refs)))
    query = query.order_by(
        sms_documents.c.ref_internal, sms_documents.c.date, sms_documents.c.number
    )
    with reading(source) as conn:
        for r in conn.execute(query):
            yield SmsDocument(
                document_id=str(r.document_id),
                ref_internal=str(r.ref_internal),
                number=r.number,
                status=r.status,
                date=r.date,
                amount_total=_money(r.amount_total),
                amount_due=_money(r.amount_due),
                body=str(r.body),
            )


def count_resynced(source: StoreOrConnection) -> int:
    """Documents the SMS holds because the resync wrote them, over every organisation."""
    with reading(source) as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(resync_documents)
                .where(resync_documents.c.ref_internal.is_not(None))
            ).scalar_one()
        )

"""The journal of planned writes: the only writer of ``journal_steps``.

A step is ``pending``, then ``sent`` (in the request whose Idempotency-Key is ``batch_key``),
then ``done`` or ``failed``. A step left ``sent`` by a crash or a lost answer has an unknown
outcome: the job settles it by what Xero holds before anything is sent again. Finishing a
step and linking its learner happen in one transaction (:func:`record_done`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from learnerledger.store.links import link_contact
from learnerledger.store.sync_tables import journal_steps

__all__ = [
    "NewStep",
    "Step",
    "add_steps",
    "mark_sent",
    "open_steps",
    "record_done",
    "record_failed",
    "reopen",
    "unfinished_runs",
]


@dataclass(frozen=True)
class NewStep:
    """A write to journal: what it is and exactly what will be sent."""

    ref_internal: str
    action: str  # create | update
    payload: Mapping[str, Any]
    mapped_hash: str
    step_key: str


@dataclass(frozen=True)
class Step:
    id: int
    run_id: int
    seq: int
    ref_internal: str
    action: str
    payload: Mapping[str, Any]
    mapped_hash: str
    step_key: str
    status: str
    batch_key: str | None
    contact_id: str | None
    attempts: int


def _now() -> datetime:
    return datetime.now(UTC)


def add_steps(conn: Connection, run_id: int, connection_id: int, steps: Sequence[NewStep]) -> int:
    """Store ``steps`` as the pending steps of ``run_id``, in order; returns how many."""
    now = _now()
    rows = [
        {
            "run_id": run_id,
            "connection_id": connection_id,
            "seq": seq,
            "ref_internal": s.ref_internal,
            "action": s.action,
            "payload": dict(s.payload),
            "mapped_hash": s.mapped_hash,
            "step_key": s.step_key,
            "status": "pending",
            "attempts": 0,
            "error": "",
            "updated_utc": now,
        }
        for seq, s in enumerate(steps)
    ]
    if rows:
        conn.execute(journal_steps.insert(), rows)
    return len(rows)


def _step(row: Any) -> Step:
    return Step(
        id=row.id,
        run_id=row.run_id,
        seq=row.seq,
        ref_internal=row.ref_internal,
        action=row.action,
        payload=row.payload,
        mapped_hash=row.mapped_hash,
        step_key=row.step_key,
        status=row.status,
        batch_key=row.batch_key,
        contact_id=row.contact_id,
        attempts=row.attempts,
    )


def open_steps(conn: Connection, run_id: int) -> list[Step]:
    """The steps of a run still to finish (pending, or sent with an unknown outcome)."""
    rows = conn.execute(
        sa.select(journal_steps)
        .where(journal_steps.c.run_id == run_id, journal_steps.c.status.in_(("pending", "sent")))
        .order_by(journal_steps.c.seq)
    )
    return [_step(r) for r in rows]


def unfinished_runs(conn: Connection, connection_id: int) -> list[int]:
    """Earlier runs of this organisation that still have steps to finish."""
    rows = conn.execute(
        sa.select(journal_steps.c.run_id)
        .where(
            journal_steps.c.connection_id == connection_id,
            journal_steps.c.status.in_(("pending", "sent")),
        )
        .group_by(journal_steps.c.run_id)
        .order_by(journal_steps.c.run_id)
    )
    return [int(r[0]) for r in rows]


def mark_sent(conn: Connection, steps: Sequence[Step], key: str) -> None:
    conn.execute(
        journal_steps.update()
        .where(journal_steps.c.id.in_([s.id for s in steps]))
        .values(
            status="sent",
            batch_key=key,
            attempts=journal_steps.c.attempts + 1,
            updated_utc=_now(),
        )
    )


def record_done(
    conn: Connection,
    step: Step,
    connection_id: int,
    contact_id: str,
    contact_updated_ms: int | None,
) -> None:
    """The step's write is in Xero: link the learner and close the step, in one transaction."""
    link_contact(
        conn,
        connection_id,
        step.ref_internal,
        contact_id,
        mapped_hash=step.mapped_hash,
        contact_updated_ms=contact_updated_ms,
    )
    conn.execute(
        journal_steps.update()
        .where(journal_steps.c.id == step.id)
        .values(status="done", contact_id=contact_id, error="", updated_utc=_now())
    )


def record_failed(conn: Connection, step: Step, message: str) -> None:
    conn.execute(
        journal_steps.update()
        .where(journal_steps.c.id == step.id)
        .values(status="failed", error=message, updated_utc=_now())
    )


def reopen(conn: Connection, steps: Sequence[Step]) -> None:
    """Looked up and not found in Xero: the write did not happen, send it again."""
    if steps:
        conn.execute(
            journal_steps.update()
            .where(journal_steps.c.id.in_([s.id for s in steps]))
            .values(status="pending", updated_utc=_now())
        )

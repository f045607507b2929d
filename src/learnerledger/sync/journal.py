"""The journal: every planned write, stored before it is sent, with what became of it.

A step's Idempotency-Key is derived from what it is (organisation, action, learner and the
exact payload), and a batch's key from its steps, so sending the same batch again after a
failure within Xero's six-minute window replays Xero's first answer instead of writing twice.
Beyond that window the key alone is no protection, which is why a step whose outcome is unknown
is looked up by its contact before anything is sent again (see ``runner``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from learnerledger.store.sync_tables import contact_links, journal_steps
from learnerledger.store.tables import runs
from learnerledger.sync.plan import Plan

__all__ = [
    "Step",
    "batch_key",
    "journal_plan",
    "link_contact",
    "load_links",
    "open_steps",
    "record_done",
    "record_failed",
    "reopen",
    "step_key",
    "unfinished_runs",
]

JOB = "sync learners"


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


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def step_key(tenant_id: str, action: str, ref_internal: str, payload: Mapping[str, Any]) -> str:
    text = "|".join((tenant_id, action, ref_internal, _canonical(payload)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def batch_key(steps: Sequence[Step], attempt: int) -> str:
    """The Idempotency-Key of one request: the same steps sent again give the same key. The
    attempt number changes it once the earlier attempt's outcome has been looked up."""
    digest = hashlib.sha256("|".join([str(attempt), *(s.step_key for s in steps)]).encode())
    return f"ll-sync-{digest.hexdigest()[:56]}"


def _now() -> datetime:
    return datetime.now(UTC)


def load_links(
    conn: Connection, connection_id: int
) -> tuple[dict[str, str], dict[str, str | None]]:
    """RefInternal -> ContactID, and RefInternal -> mapped hash, of the learners' own contacts."""
    rows = conn.execute(
        sa.select(
            contact_links.c.ref_internal, contact_links.c.contact_id, contact_links.c.mapped_hash
        ).where(contact_links.c.connection_id == connection_id, contact_links.c.role == "learner")
    )
    linked: dict[str, str] = {}
    hashes: dict[str, str | None] = {}
    for ref, contact_id, digest in rows:
        linked[str(ref)] = str(contact_id)
        hashes[str(ref)] = digest
    return linked, hashes


def link_contact(
    conn: Connection,
    connection_id: int,
    ref_internal: str,
    contact_id: str,
    *,
    mapped_hash: str | None,
    contact_updated_ms: int | None,
) -> None:
    """Make ``contact_id`` the learner's contact (replacing any earlier link of either)."""
    now = _now()
    conn.execute(
        contact_links.delete().where(
            contact_links.c.connection_id == connection_id,
            sa.or_(
                sa.and_(
                    contact_links.c.ref_internal == ref_internal,
                    contact_links.c.role == "learner",
                ),
                contact_links.c.contact_id == contact_id,
            ),
        )
    )
    conn.execute(
        contact_links.insert().values(
            connection_id=connection_id,
            ref_internal=ref_internal,
            contact_id=contact_id,
            role="learner",
            mapped_hash=mapped_hash,
            contact_updated_ms=contact_updated_ms,
            created_utc=now,
            updated_utc=now,
        )
    )


def journal_plan(
    conn: Connection, run_id: int, connection_id: int, tenant_id: str, plan: Plan
) -> int:
    """Store the plan's writes as pending steps of ``run_id``; returns how many."""
    rows = []
    now = _now()
    for seq, item in enumerate(i for i in plan.items if i.state in ("create", "update")):
        assert item.payload is not None
        assert item.mapped_hash is not None
        rows.append(
            {
                "run_id": run_id,
                "connection_id": connection_id,
                "seq": seq,
                "ref_internal": item.ref_internal,
                "action": item.state,
                "payload": dict(item.payload),
                "mapped_hash": item.mapped_hash,
                "step_key": step_key(tenant_id, item.state, item.ref_internal, item.payload),
                "status": "pending",
                "attempts": 0,
                "error": "",
                "updated_utc": now,
            }
        )
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
    """Earlier sync runs of this organisation that still have steps to finish."""
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


def step_counts(conn: Connection, run_id: int) -> dict[str, int]:
    rows = conn.execute(
        sa.select(journal_steps.c.action, journal_steps.c.status, sa.func.count())
        .where(journal_steps.c.run_id == run_id)
        .group_by(journal_steps.c.action, journal_steps.c.status)
    )
    return {f"{action} {status}": int(n) for action, status, n in rows}


def failed_steps(conn: Connection, run_id: int) -> list[dict[str, str]]:
    rows = conn.execute(
        sa.select(journal_steps.c.ref_internal, journal_steps.c.action, journal_steps.c.error)
        .where(journal_steps.c.run_id == run_id, journal_steps.c.status == "failed")
        .order_by(journal_steps.c.seq)
    )
    return [{"ref_internal": r[0], "action": r[1], "message": r[2]} for r in rows]


def run_job(conn: Connection, run_id: int) -> str | None:
    job = conn.execute(sa.select(runs.c.job).where(runs.c.id == run_id)).scalar_one_or_none()
    return None if job is None else str(job)

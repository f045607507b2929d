"""The History: the run record of every job, the only writer of ``runs``.

A run is inserted ``running`` when its job starts and finished exactly once with its outcome.
``learnerledger.jobs`` is the one caller that starts and finishes runs; readers (``status``,
the web UI, tests) use :func:`get_run`, :func:`latest_runs` and :func:`last_run`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from learnerledger.store.db import Store
from learnerledger.store.tables import connections, runs

__all__ = [
    "RunRow",
    "finish_run",
    "get_run",
    "last_run",
    "latest_runs",
    "list_runs",
    "save_progress",
    "start_run",
]


@dataclass(frozen=True)
class RunRow:
    """One run as stored."""

    id: int
    job: str
    connection_id: int | None
    organisation: str | None
    started: datetime
    finished: datetime | None
    status: str
    counts: dict[str, Any]
    calls: int
    problems: list[dict[str, Any]] = field(default_factory=list)
    problems_dropped: int = 0
    resume: dict[str, Any] | None = None
    progress: dict[str, Any] | None = None
    message: str = ""


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)  # SQLite hands back what was stored, without a zone
    return moment.astimezone(UTC)


def _row(r: Any) -> RunRow:
    started = _utc(r.started_utc)
    assert started is not None
    return RunRow(
        id=int(r.id),
        job=r.job,
        connection_id=r.connection_id,
        organisation=r.organisation,
        started=started,
        finished=_utc(r.finished_utc),
        status=r.status,
        counts=dict(r.counts or {}),
        calls=int(r.calls or 0),
        problems=list(r.problems or []),
        problems_dropped=int(r.problems_dropped or 0),
        resume=r.resume,
        progress=r.progress,
        message=r.message or "",
    )


def _select() -> sa.Select[Any]:
    return sa.select(runs, connections.c.name.label("organisation")).select_from(
        runs.outerjoin(connections, runs.c.connection_id == connections.c.id)
    )


def start_run(
    store: Store, job: str, *, connection_id: int | None, counts: Mapping[str, Any] | None = None
) -> int:
    with store.transaction() as conn:
        key = conn.execute(
            runs.insert().values(
                job=job,
                connection_id=connection_id,
                started_utc=datetime.now(UTC),
                status="running",
                counts=dict(counts or {}),
                problems=[],
                message="",
                calls=0,
                problems_dropped=0,
            )
        ).inserted_primary_key
    assert key is not None
    return int(key[0])


def save_progress(store: Store, run_id: int, progress: Mapping[str, Any]) -> None:
    """Keep the run's latest progress event, for a view in another process."""
    with store.transaction() as conn:
        conn.execute(sa.update(runs).where(runs.c.id == run_id).values(progress=dict(progress)))


def finish_run(
    store: Store,
    run_id: int,
    *,
    status: str,
    counts: Mapping[str, Any],
    calls: int,
    problems: Sequence[Mapping[str, Any]],
    problems_dropped: int,
    message: str,
    resume: Mapping[str, Any] | None,
    progress: Mapping[str, Any] | None,
) -> None:
    with store.transaction() as conn:
        conn.execute(
            sa.update(runs)
            .where(runs.c.id == run_id)
            .values(
                finished_utc=datetime.now(UTC),
                status=status,
                counts=dict(counts),
                calls=calls,
                problems=[dict(p) for p in problems],
                problems_dropped=problems_dropped,
                message=message,
                resume=None if resume is None else dict(resume),
                progress=None if progress is None else dict(progress),
            )
        )


def get_run(store: Store, run_id: int) -> RunRow | None:
    with store.read() as conn:
        row = conn.execute(_select().where(runs.c.id == run_id)).first()
    return None if row is None else _row(row)


def last_run(
    store: Store, job: str, connection_id: int | None, *, finished: bool = True
) -> RunRow | None:
    """The newest run of ``job`` for the organisation (finished ones only, by default)."""
    query = _select().where(runs.c.job == job)
    query = query.where(
        runs.c.connection_id.is_(None)
        if connection_id is None
        else runs.c.connection_id == connection_id
    )
    if finished:
        query = query.where(runs.c.status != "running")
    with store.read() as conn:
        row = conn.execute(query.order_by(runs.c.id.desc()).limit(1)).first()
    return None if row is None else _row(row)


def latest_runs(store: Store, *, limit: int = 20) -> list[RunRow]:
    """The newest run of each job and organisation, newest first."""
    latest = (
        sa.select(sa.func.max(runs.c.id)).group_by(runs.c.job, runs.c.connection_id)
    ).scalar_subquery()
    with store.read() as conn:
        rows = conn.execute(
            _select().where(runs.c.id.in_(latest)).order_by(runs.c.id.desc()).limit(limit)
        )
        return [_row(r) for r in rows]


def list_runs(
    store: Store, *, limit: int = 50, offset: int = 0, status: str | None = None
) -> tuple[list[RunRow], int]:
    """Every run, newest first, a page at a time (``status``: only those), and how many."""
    query = _select()
    counting = sa.select(sa.func.count()).select_from(runs)
    if status is not None:
        query = query.where(runs.c.status == status)
        counting = counting.where(runs.c.status == status)
    with store.read() as conn:
        total = int(conn.execute(counting).scalar_one())
        rows = conn.execute(query.order_by(runs.c.id.desc()).offset(offset).limit(limit))
        return [_row(r) for r in rows], total

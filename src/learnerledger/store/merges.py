"""Merges: the journal of a merge's writes and where each cluster stands; the only writer of
``merge_steps`` and ``merge_clusters``.

``merge_steps`` holds every write a ``merge apply`` plans, before it is sent, in phases that run
in order: ``free`` (a swap takes the learner's Contact Code and Name off its empty contact),
``adopt`` (the legacy contact takes them), ``move`` (a document re-pointed to the survivor) and
``archive`` (a contact left with nothing); a swap refused half way journals a ``restore`` (the
learner's contact gets its Contact Code and Name back) in the adopt phase. A step is
``pending``, then ``sent`` (in the request whose Idempotency-Key is ``batch_key``), then
``done``, ``failed`` (Xero refused it) or ``skipped`` (no longer needed when its turn came).
A step left ``sent`` by a crash or a lost answer has an unknown outcome: the next run looks
its record up before sending anything again.

``merge_clusters`` keeps, per learner (a cluster: the learner's own contact and its confirmed
legacy contacts), the state the last apply or verify left it in, the plan it acted on, the
documents and money seen before a run's writes (``before``, until the run has compared them
with what Xero holds after) and after the last check (``baseline``, what the next verify
compares with).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from learnerledger.store._reading import StoreOrConnection, reading
from learnerledger.store.sync_tables import journal_steps
from learnerledger.store.tables import metadata

__all__ = [
    "PHASES",
    "MergeStep",
    "NewMergeStep",
    "StoredCluster",
    "add_steps",
    "clusters_to_check",
    "contacts_created_by_sync",
    "count_clusters",
    "load_clusters",
    "mark_sent",
    "merge_clusters",
    "merge_steps",
    "open_steps",
    "put_cluster",
    "record_done",
    "record_failed",
    "reopen",
    "run_steps",
    "skip",
    "unfinished_runs",
]

# The phases of a merge's writes, in the order they run.
PHASES = {"free": 1, "adopt": 2, "restore": 2, "move": 3, "archive": 4}

merge_steps = sa.Table(
    "merge_steps",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("connection_id", sa.Integer, sa.ForeignKey("connections.id"), nullable=False),
    sa.Column("phase", sa.Integer, nullable=False),  # PHASES
    sa.Column("seq", sa.Integer, nullable=False),  # order within the run
    sa.Column("ref_internal", sa.String(50), nullable=False),  # the cluster's learner
    sa.Column("action", sa.String(20), nullable=False),  # free|adopt|restore|move|archive
    sa.Column("stream", sa.String(20), nullable=False),  # contacts | invoices | credit_notes
    sa.Column("target_id", sa.String(36), nullable=False),  # the contact or document written
    sa.Column("payload", sa.JSON, nullable=False),  # exactly what is sent for this item
    sa.Column("step_key", sa.String(64), nullable=False),  # deterministic digest of the step
    sa.Column("status", sa.String(20), nullable=False),  # pending|sent|done|failed|skipped
    sa.Column("batch_key", sa.String(128), nullable=True),  # Idempotency-Key it was sent with
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error", sa.Text, nullable=False, server_default=""),
    sa.Column("updated_utc", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("ix_merge_steps_run", merge_steps.c.run_id, merge_steps.c.status)
sa.Index("ix_merge_steps_open", merge_steps.c.connection_id, merge_steps.c.status)

merge_clusters = sa.Table(
    "merge_clusters",
    metadata,
    sa.Column("connection_id", sa.Integer, sa.ForeignKey("connections.id"), primary_key=True),
    sa.Column("ref_internal", sa.String(50), primary_key=True),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("run_id", sa.Integer, nullable=True),  # the apply run that last wrote for it
    sa.Column("survivor_id", sa.String(36), nullable=True),
    # None is SQL NULL here (not JSON null), so that "no snapshot" can be asked for.
    sa.Column("plan", sa.JSON(none_as_null=True), nullable=True),  # its plan when last acted on
    sa.Column("before", sa.JSON(none_as_null=True), nullable=True),  # before the run's writes
    sa.Column("baseline", sa.JSON(none_as_null=True), nullable=True),  # at the last check
    sa.Column("updated_utc", sa.DateTime(timezone=True), nullable=False),
)

_OPEN = ("pending", "sent")


@dataclass(frozen=True)
class NewMergeStep:
    """A write to journal: which cluster, what it does, exactly what will be sent."""

    ref_internal: str
    action: str  # free | adopt | restore | move | archive
    stream: str  # contacts | invoices | credit_notes
    target_id: str
    payload: Mapping[str, Any]
    step_key: str

    @property
    def phase(self) -> int:
        return PHASES[self.action]


@dataclass(frozen=True)
class MergeStep:
    id: int
    run_id: int
    phase: int
    seq: int
    ref_internal: str
    action: str
    stream: str
    target_id: str
    payload: Mapping[str, Any]
    step_key: str
    status: str
    batch_key: str | None
    attempts: int
    error: str


@dataclass(frozen=True)
class StoredCluster:
    ref_internal: str
    state: str
    run_id: int | None
    survivor_id: str | None
    plan: Mapping[str, Any] | None
    before: Mapping[str, Any] | None
    baseline: Mapping[str, Any] | None


def _now() -> datetime:
    return datetime.now(UTC)


# -- the journal ---------------------------------------------------------------------------


def add_steps(
    conn: Connection, run_id: int, connection_id: int, steps: Sequence[NewMergeStep]
) -> int:
    """Store ``steps`` as pending steps of ``run_id``, after any it already has; how many."""
    first = conn.execute(
        sa.select(sa.func.coalesce(sa.func.max(merge_steps.c.seq), -1)).where(
            merge_steps.c.run_id == run_id
        )
    ).scalar_one()
    now = _now()
    rows = [
        {
            "run_id": run_id,
            "connection_id": connection_id,
            "phase": s.phase,
            "seq": int(first) + 1 + n,
            "ref_internal": s.ref_internal,
            "action": s.action,
            "stream": s.stream,
            "target_id": s.target_id,
            "payload": dict(s.payload),
            "step_key": s.step_key,
            "status": "pending",
            "attempts": 0,
            "error": "",
            "updated_utc": now,
        }
        for n, s in enumerate(steps)
    ]
    if rows:
        conn.execute(merge_steps.insert(), rows)
    return len(rows)


def _step(row: Any) -> MergeStep:
    return MergeStep(
        id=row.id,
        run_id=row.run_id,
        phase=row.phase,
        seq=row.seq,
        ref_internal=row.ref_internal,
        action=row.action,
        stream=row.stream,
        target_id=row.target_id,
        payload=row.payload,
        step_key=row.step_key,
        status=row.status,
        batch_key=row.batch_key,
        attempts=row.attempts,
        error=row.error,
    )


def run_steps(source: StoreOrConnection, run_id: int) -> list[MergeStep]:
    """Every step of a run, in phase order."""
    with reading(source) as conn:
        rows = conn.execute(
            sa.select(merge_steps)
            .where(merge_steps.c.run_id == run_id)
            .order_by(merge_steps.c.phase, merge_steps.c.seq)
        )
        return [_step(r) for r in rows]


def open_steps(source: StoreOrConnection, run_id: int) -> list[MergeStep]:
    """The steps of a run still to finish (pending, or sent with an unknown outcome)."""
    return [s for s in run_steps(source, run_id) if s.status in _OPEN]


def unfinished_runs(source: StoreOrConnection, connection_id: int) -> list[int]:
    """Earlier runs of this organisation with steps to finish or clusters whose documents
    have not yet been compared after the run's writes."""
    with reading(source) as conn:
        with_steps = conn.execute(
            sa.select(merge_steps.c.run_id)
            .where(merge_steps.c.connection_id == connection_id, merge_steps.c.status.in_(_OPEN))
            .group_by(merge_steps.c.run_id)
        ).scalars()
        unchecked = conn.execute(
            sa.select(merge_clusters.c.run_id)
            .where(
                merge_clusters.c.connection_id == connection_id,
                merge_clusters.c.before.is_not(None),
                merge_clusters.c.state != "stopped",
                merge_clusters.c.run_id.is_not(None),
            )
            .group_by(merge_clusters.c.run_id)
        ).scalars()
        return sorted({int(r) for r in with_steps} | {int(r) for r in unchecked})


def mark_sent(conn: Connection, steps: Sequence[MergeStep], key: str) -> None:
    conn.execute(
        merge_steps.update()
        .where(merge_steps.c.id.in_([s.id for s in steps]))
        .values(
            status="sent",
            batch_key=key,
            attempts=merge_steps.c.attempts + 1,
            updated_utc=_now(),
        )
    )


def _finish(conn: Connection, step: MergeStep, status: str, error: str = "") -> None:
    conn.execute(
        merge_steps.update()
        .where(merge_steps.c.id == step.id)
        .values(status=status, error=error, updated_utc=_now())
    )


def record_done(conn: Connection, step: MergeStep) -> None:
    """Xero holds the step's write."""
    _finish(conn, step, "done")


def record_failed(conn: Connection, step: MergeStep, message: str) -> None:
    """Xero refused the step's write; ``message`` says why and what to do."""
    _finish(conn, step, "failed", message)


def skip(conn: Connection, step: MergeStep, reason: str) -> None:
    """The step is no longer needed (or no longer safe) when its turn came."""
    _finish(conn, step, "skipped", reason)


def reopen(conn: Connection, steps: Sequence[MergeStep]) -> None:
    """Looked up and not found in Xero: the write did not happen, send it again."""
    if steps:
        conn.execute(
            merge_steps.update()
            .where(merge_steps.c.id.in_([s.id for s in steps]))
            .values(status="pending", updated_utc=_now())
        )


# -- clusters ------------------------------------------------------------------------------

_UNSET: Any = object()


def put_cluster(
    conn: Connection,
    connection_id: int,
    ref_internal: str,
    *,
    state: str,
    survivor_id: str | None = _UNSET,
    run_id: int | None = _UNSET,
    plan: Mapping[str, Any] | None = _UNSET,
    before: Mapping[str, Any] | None = _UNSET,
    baseline: Mapping[str, Any] | None = _UNSET,
) -> None:
    """Record where a cluster stands; the values not given are kept as they were."""
    t = merge_clusters.c
    values: dict[str, Any] = {"state": state, "updated_utc": _now()}
    for name, value in (
        ("survivor_id", survivor_id),
        ("run_id", run_id),
        ("plan", plan),
        ("before", before),
        ("baseline", baseline),
    ):
        if value is not _UNSET:
            values[name] = dict(value) if isinstance(value, Mapping) else value
    where = (t.connection_id == connection_id, t.ref_internal == ref_internal)
    if conn.execute(merge_clusters.update().where(*where).values(values)).rowcount:
        return
    conn.execute(
        merge_clusters.insert().values(
            {
                "connection_id": connection_id,
                "ref_internal": ref_internal,
                "survivor_id": None,
                "run_id": None,
                "plan": None,
                "before": None,
                "baseline": None,
                **values,
            }
        )
    )


def _cluster(row: Any) -> StoredCluster:
    return StoredCluster(
        ref_internal=row.ref_internal,
        state=row.state,
        run_id=row.run_id,
        survivor_id=row.survivor_id,
        plan=row.plan,
        before=row.before,
        baseline=row.baseline,
    )


def load_clusters(source: StoreOrConnection, connection_id: int) -> dict[str, StoredCluster]:
    """RefInternal -> where each cluster of the organisation stands."""
    with reading(source) as conn:
        rows = conn.execute(
            sa.select(merge_clusters)
            .where(merge_clusters.c.connection_id == connection_id)
            .order_by(merge_clusters.c.ref_internal)
        )
        return {r.ref_internal: _cluster(r) for r in rows}


def clusters_to_check(
    source: StoreOrConnection, connection_id: int, run_id: int
) -> list[StoredCluster]:
    """The clusters a run wrote for whose documents are still to be compared after it."""
    return [
        c
        for c in load_clusters(source, connection_id).values()
        if c.run_id == run_id and c.before is not None and c.state != "stopped"
    ]


def count_clusters(source: StoreOrConnection, *, states: Sequence[str]) -> int:
    """Clusters of every organisation in one of ``states``."""
    with reading(source) as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(merge_clusters)
                .where(merge_clusters.c.state.in_(list(states)))
            ).scalar_one()
        )


def contacts_created_by_sync(source: StoreOrConnection, connection_id: int) -> set[str]:
    """The contacts learnerledger itself created in this organisation (its sync journal's
    finished creates): no other system was ever told their ContactIDs."""
    with reading(source) as conn:
        rows = conn.execute(
            sa.select(journal_steps.c.contact_id).where(
                journal_steps.c.connection_id == connection_id,
                journal_steps.c.action == "create",
                journal_steps.c.status == "done",
                journal_steps.c.contact_id.is_not(None),
            )
        ).scalars()
        return {str(r) for r in rows}

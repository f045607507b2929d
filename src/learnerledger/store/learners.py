"""The learner table: every learner read from the SMS (Wisenet API or a CSV export).

One row per RefInternal. ``ready`` and ``not_ready`` cache ``Learner.ready_for_xero()`` so
that counts and the web UI need not recompute it; ``row_hash`` lets a re-import or re-pull
tell a changed learner from an unchanged one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from learnerledger.domain.learner import Address, Learner
from learnerledger.store.tables import metadata

__all__ = [
    "LearnerCounts",
    "UpsertResult",
    "count_learners",
    "flagged_source_ids",
    "get_learner",
    "iter_learners",
    "learner_from_row",
    "learners",
    "set_sync_to_xero",
    "upsert_learners",
]

learners = sa.Table(
    "learners",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ref_internal", sa.String(50), nullable=False, unique=True),
    sa.Column("source", sa.String(20), nullable=False),  # wisenet | csv
    sa.Column("source_id", sa.String(64), nullable=True),  # Wisenet's LearnerId
    sa.Column("first_name", sa.String(255), nullable=False, server_default=""),
    sa.Column("last_name", sa.String(255), nullable=False, server_default=""),
    sa.Column("preferred_name", sa.String(255), nullable=False, server_default=""),
    sa.Column("email", sa.String(255), nullable=False, server_default=""),
    sa.Column("mobile", sa.String(50), nullable=False, server_default=""),
    sa.Column("phone_home", sa.String(50), nullable=False, server_default=""),
    sa.Column("phone_work", sa.String(50), nullable=False, server_default=""),
    sa.Column("date_of_birth", sa.Date, nullable=True),
    sa.Column("street_address", sa.String(500), nullable=False, server_default=""),
    sa.Column("street_suburb", sa.String(255), nullable=False, server_default=""),
    sa.Column("street_state", sa.String(50), nullable=False, server_default=""),
    sa.Column("street_postcode", sa.String(20), nullable=False, server_default=""),
    sa.Column("street_country", sa.String(100), nullable=False, server_default=""),
    sa.Column("postal_address", sa.String(500), nullable=False, server_default=""),
    sa.Column("postal_suburb", sa.String(255), nullable=False, server_default=""),
    sa.Column("postal_state", sa.String(50), nullable=False, server_default=""),
    sa.Column("postal_postcode", sa.String(20), nullable=False, server_default=""),
    sa.Column("postal_country", sa.String(100), nullable=False, server_default=""),
    sa.Column("sync_to_xero", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("ready", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("not_ready", sa.JSON, nullable=False),  # reasons, each phrased as a fix
    sa.Column("row_hash", sa.String(64), nullable=False),
    sa.Column("source_modified_utc", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_utc", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_utc", sa.DateTime(timezone=True), nullable=False),
    # Notes on values kept as the SMS had them (e.g. a phone number that could not be read).
    sa.Column("warnings", sa.JSON, nullable=False, server_default=sa.text("'[]'")),
)
sa.Index("ix_learners_source_id", learners.c.source, learners.c.source_id)
sa.Index("ix_learners_ready", learners.c.ready)


# Rows are looked up and written in batches of this size: large enough to be fast, small
# enough to stay under every database's limit on bound parameters.
_BATCH = 500


@dataclass
class UpsertResult:
    """How many learners a write inserted, updated, or found unchanged (and left alone)."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: UpsertResult) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged


@dataclass(frozen=True)
class LearnerCounts:
    """``status --json``'s ``counts.learners`` and ``counts.learners_ready``."""

    learners: int
    learners_ready: int


def _values(learner: Learner) -> dict[str, Any]:
    reasons = learner.ready_for_xero()
    street, postal = learner.street, learner.postal
    return {
        "ref_internal": learner.ref_internal,
        "source": learner.source,
        "source_id": learner.source_id,
        "first_name": learner.first_name,
        "last_name": learner.last_name,
        "preferred_name": learner.preferred_name,
        "email": learner.email,
        "mobile": learner.mobile,
        "phone_home": learner.phone_home,
        "phone_work": learner.phone_work,
        "date_of_birth": learner.date_of_birth,
        "street_address": street.line,
        "street_suburb": street.suburb,
        "street_state": street.state,
        "street_postcode": street.postcode,
        "street_country": street.country,
        "postal_address": postal.line,
        "postal_suburb": postal.suburb,
        "postal_state": postal.state,
        "postal_postcode": postal.postcode,
        "postal_country": postal.country,
        "sync_to_xero": learner.sync_to_xero,
        "ready": not reasons,
        "not_ready": reasons,
        "warnings": list(learner.warnings),
        "row_hash": learner.content_hash(),
        "source_modified_utc": learner.source_modified,
    }


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes even for timezone=True columns; they were stored as UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def learner_from_row(row: Any) -> Learner:
    m = row._mapping
    return Learner(
        ref_internal=m["ref_internal"],
        first_name=m["first_name"],
        last_name=m["last_name"],
        preferred_name=m["preferred_name"],
        email=m["email"],
        mobile=m["mobile"],
        phone_home=m["phone_home"],
        phone_work=m["phone_work"],
        date_of_birth=m["date_of_birth"],
        street=Address(
            m["street_address"],
            m["street_suburb"],
            m["street_state"],
            m["street_postcode"],
            m["street_country"],
        ),
        postal=Address(
            m["postal_address"],
            m["postal_suburb"],
            m["postal_state"],
            m["postal_postcode"],
            m["postal_country"],
        ),
        sync_to_xero=bool(m["sync_to_xero"]),
        source=m["source"],
        source_id=m["source_id"],
        source_modified=_aware(m["source_modified_utc"]),
        warnings=tuple(m["warnings"] or ()),
    )


def upsert_learners(
    conn: Connection, batch: Iterable[Learner], *, now: datetime | None = None
) -> UpsertResult:
    """Insert new learners and update changed ones, keyed by RefInternal.

    A learner whose data is unchanged (same ``content_hash``) is not written at all, so a
    re-import or a re-pull of the same data leaves every row, ``updated_utc`` included, as it
    was. Within one call a RefInternal should appear once; if it repeats, the last one wins.
    """
    now = now or datetime.now(UTC)
    result = UpsertResult()
    chunk: list[Learner] = []
    for learner in batch:
        chunk.append(learner)
        if len(chunk) >= _BATCH:
            result.add(_upsert_chunk(conn, chunk, now))
            chunk = []
    if chunk:
        result.add(_upsert_chunk(conn, chunk, now))
    return result


def _upsert_chunk(conn: Connection, chunk: Sequence[Learner], now: datetime) -> UpsertResult:
    latest = {learner.ref_internal: learner for learner in chunk}
    query = sa.select(learners.c.ref_internal, learners.c.row_hash).where(
        learners.c.ref_internal.in_(list(latest))
    )
    existing: dict[str, str] = {row.ref_internal: row.row_hash for row in conn.execute(query)}
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    result = UpsertResult()
    for ref, learner in latest.items():
        values = _values(learner)
        if ref not in existing:
            inserts.append({**values, "created_utc": now, "updated_utc": now})
            result.inserted += 1
        elif existing[ref] != values["row_hash"]:
            updates.append({**values, "b_ref": ref, "updated_utc": now})
            result.updated += 1
        else:
            result.unchanged += 1
    if inserts:
        conn.execute(learners.insert(), inserts)
    if updates:
        columns: dict[str, Any] = {
            k: sa.bindparam(k) for k in updates[0] if k not in ("b_ref", "ref_internal")
        }
        statement = learners.update().where(learners.c.ref_internal == sa.bindparam("b_ref"))
        conn.execute(statement.values(columns), updates)
    return result


def get_learner(conn: Connection, ref_internal: str) -> Learner | None:
    row = conn.execute(sa.select(learners).where(learners.c.ref_internal == ref_internal)).first()
    return learner_from_row(row) if row is not None else None


def iter_learners(conn: Connection, *, source: str | None = None) -> Iterator[Learner]:
    query = sa.select(learners).order_by(learners.c.ref_internal)
    if source is not None:
        query = query.where(learners.c.source == source)
    for row in conn.execute(query):
        yield learner_from_row(row)


def count_learners(conn: Connection) -> LearnerCounts:
    total, ready = conn.execute(
        sa.select(sa.func.count(), sa.func.count().filter(learners.c.ready.is_(True)))
    ).one()
    return LearnerCounts(learners=int(total), learners_ready=int(ready or 0))


def flagged_source_ids(conn: Connection, source: str) -> set[str]:
    """The source ids (Wisenet's LearnerIds) of the learners of ``source`` flagged for Xero."""
    rows = conn.execute(
        sa.select(learners.c.source_id).where(
            learners.c.source == source,
            learners.c.sync_to_xero.is_(True),
            learners.c.source_id.is_not(None),
        )
    )
    return {str(row.source_id) for row in rows}


def set_sync_to_xero(
    conn: Connection,
    source: str,
    source_ids: Iterable[str],
    value: bool,
    *,
    now: datetime | None = None,
) -> UpsertResult:
    """Change the Sync to Xero flag of the given learners of ``source`` (readiness follows)."""
    ids = list(source_ids)
    changed: list[Learner] = []
    for start in range(0, len(ids), _BATCH):
        rows = conn.execute(
            sa.select(learners).where(
                learners.c.source == source,
                learners.c.source_id.in_(ids[start : start + _BATCH]),
                learners.c.sync_to_xero.is_not(value),
            )
        )
        changed.extend(_with_flag(learner_from_row(row), value) for row in rows)
    return upsert_learners(conn, changed, now=now)


def _with_flag(learner: Learner, value: bool) -> Learner:
    return replace(learner, sync_to_xero=value)

"""Duplicate pairs and the decisions people made about them: the only writer of
``duplicate_pairs``.

A pair is a learner (``ref_internal``) and a legacy contact (``contact_id``) that the matcher
says may be the same person, with the learner's own contact (``survivor_id``) when it has one,
the score, the matcher's ``status`` (``auto`` or ``review``) and the evidence. A person's
``decision`` (``confirmed`` or ``rejected``) survives every later run: a run updates the score
and evidence of the pairs it finds again, forgets undecided pairs it no longer finds, and keeps
decided ones (marked ``found=False``) so that no decision is ever lost.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from learnerledger.store._reading import StoreOrConnection, reading
from learnerledger.store.db import Store
from learnerledger.store.tables import metadata

__all__ = [
    "DECISIONS",
    "FoundPair",
    "SaveCounts",
    "StoredPair",
    "count_open",
    "decide",
    "duplicate_pairs",
    "fitted_settings",
    "list_pairs",
    "save_fitted_settings",
    "save_found",
]

DECISIONS = ("confirmed", "rejected")

duplicate_pairs = sa.Table(
    "duplicate_pairs",
    metadata,
    sa.Column("connection_id", sa.Integer, sa.ForeignKey("connections.id"), primary_key=True),
    sa.Column("ref_internal", sa.String(50), primary_key=True),
    sa.Column("contact_id", sa.String(36), primary_key=True),  # the legacy contact
    sa.Column("survivor_id", sa.String(36), nullable=True),  # the learner's own contact
    sa.Column("score", sa.Float, nullable=False),  # a probability, not money
    sa.Column("status", sa.String(10), nullable=False),  # auto | review (the matcher's)
    sa.Column("decision", sa.String(10), nullable=True),  # confirmed | rejected (a person's)
    sa.Column("evidence", sa.JSON, nullable=False, default=list),
    sa.Column("reasons", sa.JSON, nullable=False, default=list),
    sa.Column("found", sa.Boolean, nullable=False),  # found again by the latest run
    sa.Column("found_utc", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_utc", sa.DateTime(timezone=True), nullable=True),
)


@dataclass(frozen=True)
class FoundPair:
    """A pair as the matcher found it."""

    ref_internal: str
    contact_id: str
    survivor_id: str | None
    score: float
    status: str  # auto | review
    evidence: Sequence[dict[str, Any]] = ()
    reasons: Sequence[str] = ()


@dataclass(frozen=True)
class StoredPair:
    ref_internal: str
    contact_id: str
    survivor_id: str | None
    score: float
    status: str  # auto | review
    decision: str | None  # confirmed | rejected
    evidence: list[dict[str, Any]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    found: bool = True

    @property
    def shown_status(self) -> str:
        """What a person sees: their decision if they made one, else the matcher's status."""
        return self.decision or self.status

    def as_json(self) -> dict[str, Any]:
        return {
            "ref_internal": self.ref_internal,
            "contact_id": self.contact_id,
            "survivor_id": self.survivor_id,
            "score": round(self.score, 4),
            "status": self.shown_status,
            "matched_as": self.status,
            "decision": self.decision,
            "found_by_last_run": self.found,
            "evidence": self.evidence,
            "reasons": self.reasons,
        }


@dataclass(frozen=True)
class SaveCounts:
    new: int
    updated: int
    forgotten: int  # undecided pairs no longer found
    kept_decided: int  # decided pairs no longer found, kept with their decision


def _key(ref: str, contact_id: str) -> tuple[str, str]:
    return ref, contact_id


def save_found(
    store: Store,
    connection_id: int,
    pairs: Iterable[FoundPair],
    *,
    learners: Collection[str] | None = None,
) -> SaveCounts:
    """Record what a run found, in one transaction, keeping every decision. ``learners``
    names the learners the run looked at (default: all): other learners' pairs are left as
    they are."""
    now = datetime.now(UTC)
    found = {_key(p.ref_internal, p.contact_id): p for p in pairs}
    t = duplicate_pairs.c
    new = updated = forgotten = kept = 0
    with store.transaction() as conn:
        existing = {
            _key(r.ref_internal, r.contact_id): r.decision
            for r in conn.execute(
                sa.select(t.ref_internal, t.contact_id, t.decision).where(
                    t.connection_id == connection_id
                )
            )
        }
        inserts = []
        for key, p in found.items():
            values = {
                "survivor_id": p.survivor_id,
                "score": float(p.score),
                "status": p.status,
                "evidence": [dict(e) for e in p.evidence],
                "reasons": list(p.reasons),
                "found": True,
            }
            if key in existing:
                conn.execute(
                    duplicate_pairs.update()
                    .where(
                        t.connection_id == connection_id,
                        t.ref_internal == key[0],
                        t.contact_id == key[1],
                    )
                    .values(values)
                )
                updated += 1
            else:
                inserts.append(
                    {
                        "connection_id": connection_id,
                        "ref_internal": key[0],
                        "contact_id": key[1],
                        "decision": None,
                        "found_utc": now,
                        **values,
                    }
                )
        if inserts:
            conn.execute(duplicate_pairs.insert(), inserts)
            new = len(inserts)
        for key, decision in existing.items():
            if key in found or (learners is not None and key[0] not in learners):
                continue
            where = (
                t.connection_id == connection_id,
                t.ref_internal == key[0],
                t.contact_id == key[1],
            )
            if decision is None:
                conn.execute(duplicate_pairs.delete().where(*where))
                forgotten += 1
            else:
                conn.execute(duplicate_pairs.update().where(*where).values(found=False))
                kept += 1
    return SaveCounts(new, updated, forgotten, kept)


def _stored(r: Any) -> StoredPair:
    return StoredPair(
        ref_internal=r.ref_internal,
        contact_id=r.contact_id,
        survivor_id=r.survivor_id,
        score=float(r.score),
        status=r.status,
        decision=r.decision,
        evidence=list(r.evidence or []),
        reasons=list(r.reasons or []),
        found=bool(r.found),
    )


def list_pairs(
    source: StoreOrConnection,
    connection_id: int,
    *,
    status: str | None = None,
    min_score: float | None = None,
) -> list[StoredPair]:
    """The pairs of an organisation, by learner then score (highest first). ``status`` is what
    a person sees: ``auto``/``review`` (undecided) or ``confirmed``/``rejected``."""
    t = duplicate_pairs.c
    query = sa.select(duplicate_pairs).where(t.connection_id == connection_id)
    if min_score is not None:
        query = query.where(t.score >= min_score)
    if status in DECISIONS:
        query = query.where(t.decision == status)
    elif status is not None:
        query = query.where(t.decision.is_(None), t.status == status)
    with reading(source) as conn:
        rows = conn.execute(query.order_by(t.ref_internal, t.score.desc(), t.contact_id))
        return [_stored(r) for r in rows]


def decide(store: Store, connection_id: int, keys: Sequence[tuple[str, str]], decision: str) -> int:
    """Record ``decision`` on the pairs ``keys`` (RefInternal, ContactID); returns how many."""
    if decision not in DECISIONS:
        raise ValueError(f"unknown decision {decision!r}")
    t = duplicate_pairs.c
    now = datetime.now(UTC)
    done = 0
    with store.transaction() as conn:
        for ref, contact_id in keys:
            done += conn.execute(
                duplicate_pairs.update()
                .where(
                    t.connection_id == connection_id,
                    t.ref_internal == ref,
                    t.contact_id == contact_id,
                )
                .values(decision=decision, decided_utc=now)
            ).rowcount
    return done


def count_open(source: StoreOrConnection) -> int:
    """Pairs found by the latest runs that no one has decided yet (every organisation)."""
    t = duplicate_pairs.c
    with reading(source) as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(duplicate_pairs)
                .where(t.decision.is_(None), t.found.is_(True))
            ).scalar_one()
        )


def _settings_key(connection_id: int) -> str:
    return f"matching.settings:{connection_id}"


def fitted_settings(store: Store, connection_id: int) -> dict[str, Any] | None:
    """The matcher's settings that ``duplicates calibrate`` fitted for an organisation, as
    the JSON object it stored (None before any calibration)."""
    text = store.get_meta(_settings_key(connection_id))
    if not text:
        return None
    value = json.loads(text)
    return value if isinstance(value, dict) else None


def save_fitted_settings(store: Store, connection_id: int, settings: dict[str, Any]) -> None:
    """Keep the settings calibration fitted for the organisation (a meta value, written by
    ``Store.set_meta``)."""
    store.set_meta(_settings_key(connection_id), json.dumps(settings, sort_keys=True))

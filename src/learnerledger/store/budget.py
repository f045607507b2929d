"""The shared rate budget of each connected Xero organisation: the only writer of
``xero_budget_calls``, ``xero_budget_state`` and ``xero_budget_slots``.

Each function here is one transaction; ``learnerledger.xero.ratelimit`` decides what a call may
do. Taking a call is :func:`locked_budget`: it locks the organisation's state row, so every
process acquiring for that organisation is serialised, and hands the caller a
:class:`BudgetLedger` to read the windows and take a slot within that one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from learnerledger.store.db import Store
from learnerledger.store.xero_tables import (
    xero_budget_calls,
    xero_budget_slots,
    xero_budget_state,
)

__all__ = [
    "BudgetLedger",
    "BudgetState",
    "BudgetUsage",
    "locked_budget",
    "read_usage",
    "record_call",
    "release_slot",
    "save_remaining",
    "set_blocked",
]


@dataclass(frozen=True)
class BudgetState:
    """What Xero itself said last about an organisation's budget."""

    blocked_until_ms: int | None = None
    blocked_limit: str | None = None
    minute_remaining: int | None = None
    day_remaining: int | None = None
    remaining_seen_ms: int | None = None


@dataclass(frozen=True)
class BudgetUsage:
    """One consistent read of an organisation's budget, for a snapshot."""

    state: BudgetState | None
    day_used: int
    day_oldest_ms: int | None
    minute_used: int
    in_flight: int
    calls_since_seen: int  # calls at or after ``state.remaining_seen_ms`` (0 without one)


def _num(value: Any) -> int | None:
    return None if value is None else int(value)


def _state(row: Any) -> BudgetState:
    return BudgetState(
        blocked_until_ms=_num(row.blocked_until_ms),
        blocked_limit=None if row.blocked_limit is None else str(row.blocked_limit),
        minute_remaining=_num(row.minute_remaining),
        day_remaining=_num(row.day_remaining),
        remaining_seen_ms=_num(row.remaining_seen_ms),
    )


def _lock(connection_id: int) -> str:
    # Check-then-write on one organisation's budget runs alone on PostgreSQL too (store/db.py).
    return f"xero.budget:{connection_id}"


def _ensure_state(store: Store, conn: Connection, connection_id: int) -> BudgetState:
    """The organisation's state row, created if missing, locked for the transaction."""
    query = (
        sa.select(xero_budget_state)
        .where(xero_budget_state.c.connection_id == connection_id)
        .with_for_update()
    )
    row = conn.execute(query).first()
    if row is None:
        try:
            with store.transaction() as inner:
                inner.execute(xero_budget_state.insert().values(connection_id=connection_id))
        except IntegrityError:
            pass  # another process created it first (PostgreSQL); it is there now
        row = conn.execute(query).one()
    return _state(row)


def _window(
    conn: Connection, connection_id: int, now_ms: int, span_ms: int
) -> tuple[int, int | None]:
    count, oldest = conn.execute(
        sa.select(sa.func.count(), sa.func.min(xero_budget_calls.c.at_ms)).where(
            xero_budget_calls.c.connection_id == connection_id,
            xero_budget_calls.c.at_ms > now_ms - span_ms,
        )
    ).one()
    return int(count), (int(oldest) if oldest is not None else None)


def _calls_after(conn: Connection, connection_id: int, ms: int) -> int:
    return int(
        conn.execute(
            sa.select(sa.func.count()).where(
                xero_budget_calls.c.connection_id == connection_id,
                xero_budget_calls.c.at_ms >= ms,
            )
        ).scalar_one()
    )


def _insert_call(conn: Connection, connection_id: int, at_ms: int) -> None:
    conn.execute(xero_budget_calls.insert().values(connection_id=connection_id, at_ms=at_ms))


class BudgetLedger:
    """An organisation's budget inside the transaction of :func:`locked_budget`."""

    def __init__(self, conn: Connection, connection_id: int, state: BudgetState) -> None:
        self._conn = conn
        self.connection_id = connection_id
        self.state = state

    def forget_calls_before(self, ms: int) -> None:
        """Drop the calls at or before ``ms``: they have left every window."""
        self._conn.execute(
            xero_budget_calls.delete().where(
                xero_budget_calls.c.connection_id == self.connection_id,
                xero_budget_calls.c.at_ms <= ms,
            )
        )

    def window(self, now_ms: int, span_ms: int) -> tuple[int, int | None]:
        """Calls in the ``span_ms`` before ``now_ms``, and when the oldest of them was made."""
        return _window(self._conn, self.connection_id, now_ms, span_ms)

    def calls_after(self, ms: int) -> int:
        return _calls_after(self._conn, self.connection_id, ms)

    def free_slot(self, now_ms: int, concurrency: int) -> int | None:
        """A slot below ``concurrency`` that nobody holds (created if new), or None."""
        conn = self._conn
        rows = conn.execute(
            sa.select(
                xero_budget_slots.c.slot,
                xero_budget_slots.c.holder,
                xero_budget_slots.c.expires_ms,
            ).where(
                xero_budget_slots.c.connection_id == self.connection_id,
                xero_budget_slots.c.slot < concurrency,
            )
        ).all()
        known = {r.slot: r for r in rows}
        for slot in range(concurrency):
            row = known.get(slot)
            if row is None:
                conn.execute(
                    xero_budget_slots.insert().values(connection_id=self.connection_id, slot=slot)
                )
                return slot
            # A lease that ran out belongs to a process that died mid-call.
            if row.holder is None or (row.expires_ms or 0) <= now_ms:
                return slot
        return None

    def take_slot(self, slot: int, holder: str, *, expires_ms: int) -> None:
        self._conn.execute(
            xero_budget_slots.update()
            .where(
                xero_budget_slots.c.connection_id == self.connection_id,
                xero_budget_slots.c.slot == slot,
            )
            .values(holder=holder, expires_ms=expires_ms)
        )

    def record_call(self, at_ms: int) -> None:
        _insert_call(self._conn, self.connection_id, at_ms)


@contextmanager
def locked_budget(store: Store, connection_id: int) -> Iterator[BudgetLedger]:
    """One write transaction holding the organisation's budget locked: every process
    acquiring a call for it waits here for the one before."""
    with store.transaction(lock=_lock(connection_id)) as conn:
        yield BudgetLedger(conn, connection_id, _ensure_state(store, conn, connection_id))


def release_slot(store: Store, connection_id: int, holder: str) -> None:
    """Free the slot ``holder`` took."""
    with store.transaction() as conn:
        conn.execute(
            xero_budget_slots.update()
            .where(
                xero_budget_slots.c.connection_id == connection_id,
                xero_budget_slots.c.holder == holder,
            )
            .values(holder=None, expires_ms=None)
        )


def record_call(store: Store, connection_id: int, at_ms: int) -> None:
    """Count one call made inside a slot already held."""
    with store.transaction() as conn:
        _insert_call(conn, connection_id, at_ms)


def save_remaining(
    store: Store, connection_id: int, *, minute: int | None, day: int | None, seen_ms: int
) -> None:
    """Keep the calls Xero said remain this minute and today, and when it said so."""
    with store.transaction() as conn:
        _ensure_state(store, conn, connection_id)
        conn.execute(
            xero_budget_state.update()
            .where(xero_budget_state.c.connection_id == connection_id)
            .values(minute_remaining=minute, day_remaining=day, remaining_seen_ms=seen_ms)
        )


def set_blocked(store: Store, connection_id: int, *, until_ms: int, limit: str) -> None:
    """Block every call to the organisation until ``until_ms``; a later block already set
    stays (a block is only ever lengthened)."""
    with store.transaction(lock=_lock(connection_id)) as conn:
        state = _ensure_state(store, conn, connection_id)
        if until_ms > (state.blocked_until_ms or 0):
            conn.execute(
                xero_budget_state.update()
                .where(xero_budget_state.c.connection_id == connection_id)
                .values(blocked_until_ms=until_ms, blocked_limit=limit)
            )


def read_usage(
    store: Store, connection_id: int, *, now_ms: int, minute_ms: int, day_ms: int
) -> BudgetUsage:
    """The organisation's calls in the rolling windows, its slots in use and Xero's last word,
    read in one snapshot."""
    with store.read() as conn:
        row = conn.execute(
            sa.select(xero_budget_state).where(xero_budget_state.c.connection_id == connection_id)
        ).first()
        state = None if row is None else _state(row)
        day_used, oldest = _window(conn, connection_id, now_ms, day_ms)
        minute_used, _ = _window(conn, connection_id, now_ms, minute_ms)
        in_flight = conn.execute(
            sa.select(sa.func.count()).where(
                xero_budget_slots.c.connection_id == connection_id,
                xero_budget_slots.c.holder.is_not(None),
                xero_budget_slots.c.expires_ms > now_ms,
            )
        ).scalar_one()
        seen = state.remaining_seen_ms if state is not None else None
        since = _calls_after(conn, connection_id, seen) if seen is not None else 0
    return BudgetUsage(
        state=state,
        day_used=day_used,
        day_oldest_ms=oldest,
        minute_used=minute_used,
        in_flight=int(in_flight),
        calls_since_seen=since,
    )

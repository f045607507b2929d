"""The rate budget of one connected organisation, kept in the store so that every process and
every job shares it.

Xero counts calls per organisation and app: at most 5 in flight, 60 in a rolling minute and
5,000 in a rolling 24 hours (1,000 on its Starter tier). Before each call :meth:`RateBudget.call`
takes a slot and records the call in one store transaction; when the budget is spent it waits
(and tells the ``on_wait`` hook, so a progress bar can say so), or, when the wait would be longer
than ``max_wait`` (a spent daily limit), raises :class:`~learnerledger.errors.RateLimited` with
the time the job can resume. Xero's own word overrides the local count: a 429's ``Retry-After``
pauses every process, and ``X-MinLimit-Remaining`` lowers the calls left this minute when
another program is using the same app and organisation. ``X-DayLimit-Remaining`` is recorded
and shown; Xero's 429 says exactly when a spent day frees up.

The clock and the sleeper are injected, so tests cross minute and day windows without sleeping.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from learnerledger.config import Config
from learnerledger.errors import ConfigError, RateLimited
from learnerledger.store import Store
from learnerledger.store.xero_tables import (
    xero_budget_calls,
    xero_budget_slots,
    xero_budget_state,
)
from learnerledger.xero.wire import from_ms

__all__ = ["BudgetSnapshot", "Limits", "RateBudget", "Waiting"]

MINUTE_MS = 60_000
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Limits:
    """Calls allowed per organisation: in flight, per rolling minute, per rolling day."""

    concurrency: int = 5
    minute: int = 60
    day: int = 5000

    def __post_init__(self) -> None:
        for name in ("concurrency", "minute", "day"):
            if getattr(self, name) < 1:
                raise ConfigError(
                    f"xero_{name}_limit" if name != "concurrency" else "xero_concurrency",
                    "the rate budget",
                    f"{getattr(self, name)} is not a positive number of calls.",
                )

    @classmethod
    def from_config(cls, config: Config) -> Limits:
        return cls(
            concurrency=int(config["xero_concurrency"]),
            minute=int(config["xero_minute_limit"]),
            day=int(config["xero_day_limit"]),
        )


@dataclass(frozen=True)
class Waiting:
    """Sent to ``on_wait`` before the budget sleeps: which limit, how long, until when."""

    organisation: str
    limit: str  # minute | day | appminute | concurrent
    seconds: float
    until: datetime


@dataclass(frozen=True)
class BudgetSnapshot:
    """What is left, for ``status`` and the web UI."""

    minute_remaining: int
    day_remaining: int
    in_flight: int
    blocked_until: datetime | None
    blocked_limit: str | None
    day_resumes_at: datetime | None  # when the oldest call of the day leaves the window


@dataclass(frozen=True)
class _Wait:
    limit: str
    until_ms: int


class RateBudget:
    """The shared budget of the organisation behind ``connection_id``."""

    def __init__(
        self,
        store: Store,
        connection_id: int,
        *,
        limits: Limits | None = None,
        organisation: str = "",
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = 900.0,
        lease_seconds: float = 180.0,
        poll_seconds: float = 0.05,
        on_wait: Callable[[Waiting], None] | None = None,
    ) -> None:
        self.store = store
        self.connection_id = connection_id
        self.limits = limits or Limits()
        self.organisation = organisation
        self.clock = clock
        self.sleep = sleep
        self.max_wait = max_wait
        self.lease_ms = int(lease_seconds * 1000)
        self.poll_seconds = poll_seconds
        self.on_wait = on_wait
        self.waited_seconds = 0.0  # total time spent waiting, for reports and benchmarks

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- taking and giving back a call ----------------------------------------------------

    @contextmanager
    def call(self, request: str | None = None) -> Iterator[None]:
        """Hold one slot and one counted call for the duration of the block."""
        holder = self.acquire(request)
        try:
            yield
        finally:
            self.release(holder)

    def acquire(self, request: str | None = None) -> str:
        """Wait for room in the budget, then count one call. Returns the slot's holder token."""
        holder = uuid.uuid4().hex
        while True:
            wait = self._try_acquire(holder)
            if wait is None:
                return holder
            now_ms = self._now_ms()
            seconds = max(0.0, (wait.until_ms - now_ms) / 1000)
            if wait.limit == "concurrent":
                self.sleep(self.poll_seconds)
                self.waited_seconds += self.poll_seconds
                continue
            if seconds > self.max_wait:
                raise RateLimited(
                    wait.limit,
                    seconds,
                    from_ms(wait.until_ms),
                    organisation=self.organisation or None,
                    request=request,
                )
            if self.on_wait is not None:
                self.on_wait(
                    Waiting(self.organisation, wait.limit, seconds, from_ms(wait.until_ms))
                )
            # Sleep a little past the boundary: a window frees the millisecond after.
            self.sleep(seconds + 0.001)
            self.waited_seconds += seconds + 0.001

    def release(self, holder: str) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                xero_budget_slots.update()
                .where(
                    xero_budget_slots.c.connection_id == self.connection_id,
                    xero_budget_slots.c.holder == holder,
                )
                .values(holder=None, expires_ms=None)
            )

    def record_extra_call(self) -> None:
        """Count a call made inside a held slot (the retry after a token refresh)."""
        with self.store.transaction() as conn:
            conn.execute(
                xero_budget_calls.insert().values(
                    connection_id=self.connection_id, at_ms=self._now_ms()
                )
            )

    # -- what Xero says ---------------------------------------------------------------------

    def observe(self, headers: Mapping[str, str]) -> None:
        """Record ``X-MinLimit-Remaining`` and ``X-DayLimit-Remaining`` from an answer."""
        minute = _int_header(headers, "x-minlimit-remaining")
        day = _int_header(headers, "x-daylimit-remaining")
        if minute is None and day is None:
            return
        with self.store.transaction() as conn:
            self._ensure_state(conn)
            conn.execute(
                xero_budget_state.update()
                .where(xero_budget_state.c.connection_id == self.connection_id)
                .values(
                    minute_remaining=minute, day_remaining=day, remaining_seen_ms=self._now_ms()
                )
            )

    def blocked(self, limit: str, retry_after: float) -> None:
        """Xero answered 429: no process calls this organisation until ``retry_after`` passes."""
        until = self._now_ms() + int(retry_after * 1000)
        with self.store.transaction(lock=f"xero.budget:{self.connection_id}") as conn:
            state = self._ensure_state(conn)
            current = state.blocked_until_ms or 0
            if until > current:
                conn.execute(
                    xero_budget_state.update()
                    .where(xero_budget_state.c.connection_id == self.connection_id)
                    .values(blocked_until_ms=until, blocked_limit=limit)
                )

    # -- reading ------------------------------------------------------------------------------

    def snapshot(self) -> BudgetSnapshot:
        now = self._now_ms()
        with self.store.read() as conn:
            state = conn.execute(
                sa.select(xero_budget_state).where(
                    xero_budget_state.c.connection_id == self.connection_id
                )
            ).first()
            day_used, oldest = self._window(conn, now, DAY_MS)
            minute_used, _ = self._window(conn, now, MINUTE_MS)
            in_flight = conn.execute(
                sa.select(sa.func.count()).where(
                    xero_budget_slots.c.connection_id == self.connection_id,
                    xero_budget_slots.c.holder.is_not(None),
                    xero_budget_slots.c.expires_ms > now,
                )
            ).scalar_one()
            minute_left = self.limits.minute - minute_used
            day_left = self.limits.day - day_used
            blocked_until: int | None = None
            blocked_limit: str | None = None
            if state is not None:
                seen = state.remaining_seen_ms
                if seen is not None:
                    since = self._calls_after(conn, seen)
                    if state.minute_remaining is not None and seen > now - MINUTE_MS:
                        minute_left = min(minute_left, state.minute_remaining - since)
                    if state.day_remaining is not None and seen > now - DAY_MS:
                        day_left = min(day_left, state.day_remaining - since)
                if state.blocked_until_ms is not None and state.blocked_until_ms > now:
                    blocked_until, blocked_limit = state.blocked_until_ms, state.blocked_limit
        return BudgetSnapshot(
            minute_remaining=max(0, minute_left),
            day_remaining=max(0, day_left),
            in_flight=int(in_flight),
            blocked_until=from_ms(blocked_until) if blocked_until else None,
            blocked_limit=blocked_limit,
            day_resumes_at=from_ms(oldest + DAY_MS)
            if oldest is not None and day_left <= 0
            else None,
        )

    # -- internals ------------------------------------------------------------------------------

    def _ensure_state(self, conn: Connection) -> sa.Row[tuple[object, ...]]:
        query = (
            sa.select(xero_budget_state)
            .where(xero_budget_state.c.connection_id == self.connection_id)
            .with_for_update()
        )
        row = conn.execute(query).first()
        if row is None:
            try:
                with self.store.transaction() as inner:
                    inner.execute(
                        xero_budget_state.insert().values(connection_id=self.connection_id)
                    )
            except IntegrityError:
                pass  # another process created it first (PostgreSQL); it is there now
            row = conn.execute(query).one()
        return row

    def _window(self, conn: Connection, now: int, span: int) -> tuple[int, int | None]:
        count, oldest = conn.execute(
            sa.select(sa.func.count(), sa.func.min(xero_budget_calls.c.at_ms)).where(
                xero_budget_calls.c.connection_id == self.connection_id,
                xero_budget_calls.c.at_ms > now - span,
            )
        ).one()
        return int(count), (int(oldest) if oldest is not None else None)

    def _calls_after(self, conn: Connection, ms: int) -> int:
        return int(
            conn.execute(
                sa.select(sa.func.count()).where(
                    xero_budget_calls.c.connection_id == self.connection_id,
                    xero_budget_calls.c.at_ms >= ms,
                )
            ).scalar_one()
        )

    def _try_acquire(self, holder: str) -> _Wait | None:
        now = self._now_ms()
        with self.store.transaction(lock=f"xero.budget:{self.connection_id}") as conn:
            # Locking the state row serialises every process acquiring for this organisation.
            state = self._ensure_state(conn)
            if state.blocked_until_ms is not None and state.blocked_until_ms > now:
                return _Wait(state.blocked_limit or "minute", int(state.blocked_until_ms))
            conn.execute(
                xero_budget_calls.delete().where(
                    xero_budget_calls.c.connection_id == self.connection_id,
                    xero_budget_calls.c.at_ms <= now - DAY_MS,
                )
            )
            day_used, day_oldest = self._window(conn, now, DAY_MS)
            if day_used >= self.limits.day and day_oldest is not None:
                return _Wait("day", day_oldest + DAY_MS)
            minute_used, minute_oldest = self._window(conn, now, MINUTE_MS)
            if minute_used >= self.limits.minute and minute_oldest is not None:
                return _Wait("minute", minute_oldest + MINUTE_MS)
            seen = state.remaining_seen_ms
            # Xero may count calls this store does not know of (another program, same app).
            if (
                state.minute_remaining is not None
                and seen is not None
                and seen > now - MINUTE_MS
                and state.minute_remaining - self._calls_after(conn, seen) <= 0
            ):
                return _Wait("minute", int(seen) + MINUTE_MS)
            slot = self._free_slot(conn, now)
            if slot is None:
                return _Wait("concurrent", now)
            conn.execute(
                xero_budget_slots.update()
                .where(
                    xero_budget_slots.c.connection_id == self.connection_id,
                    xero_budget_slots.c.slot == slot,
                )
                .values(holder=holder, expires_ms=now + self.lease_ms)
            )
            conn.execute(
                xero_budget_calls.insert().values(connection_id=self.connection_id, at_ms=now)
            )
        return None

    def _free_slot(self, conn: Connection, now: int) -> int | None:
        rows = conn.execute(
            sa.select(
                xero_budget_slots.c.slot,
                xero_budget_slots.c.holder,
                xero_budget_slots.c.expires_ms,
            ).where(
                xero_budget_slots.c.connection_id == self.connection_id,
                xero_budget_slots.c.slot < self.limits.concurrency,
            )
        ).all()
        known = {r.slot: r for r in rows}
        for slot in range(self.limits.concurrency):
            row = known.get(slot)
            if row is None:
                conn.execute(
                    xero_budget_slots.insert().values(connection_id=self.connection_id, slot=slot)
                )
                return slot
            # A lease that ran out belongs to a process that died mid-call.
            if row.holder is None or (row.expires_ms or 0) <= now:
                return slot
        return None


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None

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

from learnerledger.config import Config
from learnerledger.errors import ConfigError, RateLimited
from learnerledger.store import Store
from learnerledger.store import budget as ledger
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
        ledger.release_slot(self.store, self.connection_id, holder)

    def record_extra_call(self) -> None:
        """Count a call made inside a held slot (the retry after a token refresh)."""
        ledger.record_call(self.store, self.connection_id, self._now_ms())

    # -- what Xero says ---------------------------------------------------------------------

    def observe(self, headers: Mapping[str, str]) -> None:
        """Record ``X-MinLimit-Remaining`` and ``X-DayLimit-Remaining`` from an answer."""
        minute = _int_header(headers, "x-minlimit-remaining")
        day = _int_header(headers, "x-daylimit-remaining")
        if minute is None and day is None:
            return
        ledger.save_remaining(
            self.store, self.connection_id, minute=minute, day=day, seen_ms=self._now_ms()
        )

    def blocked(self, limit: str, retry_after: float) -> None:
        """Xero answered 429: no process calls this organisation until ``retry_after`` passes."""
        until = self._now_ms() + int(retry_after * 1000)
        ledger.set_blocked(self.store, self.connection_id, until_ms=until, limit=limit)

    # -- reading ------------------------------------------------------------------------------

    def snapshot(self) -> BudgetSnapshot:
        now = self._now_ms()
        usage = ledger.read_usage(
            self.store, self.connection_id, now_ms=now, minute_ms=MINUTE_MS, day_ms=DAY_MS
        )
        state = usage.state
        minute_left = self.limits.minute - usage.minute_used
        day_left = self.limits.day - usage.day_used
        blocked_until: int | None = None
        blocked_limit: str | None = None
        if state is not None:
            seen = state.remaining_seen_ms
            if seen is not None:
                since = usage.calls_since_seen
                if state.minute_remaining is not None and seen > now - MINUTE_MS:
                    minute_left = min(minute_left, state.minute_remaining - since)
                if state.day_remaining is not None and seen > now - DAY_MS:
                    day_left = min(day_left, state.day_remaining - since)
            if state.blocked_until_ms is not None and state.blocked_until_ms > now:
                blocked_until, blocked_limit = state.blocked_until_ms, state.blocked_limit
        oldest = usage.day_oldest_ms
        return BudgetSnapshot(
            minute_remaining=max(0, minute_left),
            day_remaining=max(0, day_left),
            in_flight=usage.in_flight,
            blocked_until=from_ms(blocked_until) if blocked_until else None,
            blocked_limit=blocked_limit,
            day_resumes_at=from_ms(oldest + DAY_MS)
            if oldest is not None and day_left <= 0
            else None,
        )

    # -- internals ------------------------------------------------------------------------------

    def _try_acquire(self, holder: str) -> _Wait | None:
        now = self._now_ms()
        # One transaction with the organisation's budget locked: every process acquiring for
        # this organisation is serialised.
        with ledger.locked_budget(self.store, self.connection_id) as budget:
            state = budget.state
            if state.blocked_until_ms is not None and state.blocked_until_ms > now:
                return _Wait(state.blocked_limit or "minute", int(state.blocked_until_ms))
            budget.forget_calls_before(now - DAY_MS)
            day_used, day_oldest = budget.window(now, DAY_MS)
            if day_used >= self.limits.day and day_oldest is not None:
                return _Wait("day", day_oldest + DAY_MS)
            minute_used, minute_oldest = budget.window(now, MINUTE_MS)
            if minute_used >= self.limits.minute and minute_oldest is not None:
                return _Wait("minute", minute_oldest + MINUTE_MS)
            seen = state.remaining_seen_ms
            # Xero may count calls this store does not know of (another program, same app).
            if (
                state.minute_remaining is not None
                and seen is not None
                and seen > now - MINUTE_MS
                and state.minute_remaining - budget.calls_after(seen) <= 0
            ):
                return _Wait("minute", int(seen) + MINUTE_MS)
            slot = budget.free_slot(now, self.limits.concurrency)
            if slot is None:
                return _Wait("concurrent", now)
            budget.take_slot(slot, holder, expires_ms=now + self.lease_ms)
            budget.record_call(now)
        return None


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None

"""Wisenet's day quota as learnerledger counts it: the calls the resync and the reconciliation
made today (UTC) with this Wisenet connection, against the plan's limit (setting
``wisenet_day_limit``: 1,000 a day on Wisenet's Basic plan, 10,000 on Full).

Wisenet says nothing about what is left of a quota, so the count is kept in the store (as one
small job state, ``meta_values``; each job adds its calls to it), so a run sees what earlier
runs used today; a job that reaches the
limit stops before the call that would go over and pauses until the quota resets at 00:00 UTC
(when Wisenet resets it, contract §1.3). Wisenet's own 429 ("Limit Exceeded") still pauses a
job that the count did not foresee (calls made by other tools with the same key).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol

from learnerledger.errors import WisenetQuotaExhausted
from learnerledger.store import Store

__all__ = ["CountsCalls", "WisenetDayBudget", "next_reset"]


class CountsCalls(Protocol):
    calls: int


def next_reset(now: datetime) -> datetime:
    """When Wisenet's day quota comes back: the next 00:00 UTC."""
    return datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time(), UTC)


class WisenetDayBudget:
    """The calls left today for one Wisenet connection; ``check()`` before each call."""

    def __init__(
        self,
        store: Store,
        connection_id: int,
        limit: int,
        client: CountsCalls,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.limit = max(0, limit)
        self.client = client
        self.now = now
        self._key = f"wisenet:{connection_id}:calls_today"
        self._day = self._today()
        self._saved = self._stored(self._day)  # today's count in the store, as last read
        self._unsaved = 0  # calls made since
        self._seen = client.calls

    def _today(self) -> date:
        return self.now().astimezone(UTC).date()

    def _stored(self, day: date) -> int:
        raw = self.store.get_meta(self._key)
        try:
            saved = json.loads(raw) if raw else {}
            if saved.get("day") == day.isoformat():
                return int(saved.get("calls", 0))
        except (ValueError, TypeError, AttributeError):
            pass
        return 0

    def _catch_up(self) -> None:
        made = self.client.calls - self._seen
        self._seen = self.client.calls
        today = self._today()
        if today != self._day:  # past midnight UTC: a new day's quota
            self._day, self._saved, self._unsaved = today, self._stored(today), 0
        self._unsaved += made

    @property
    def used(self) -> int:
        self._catch_up()
        return self._saved + self._unsaved

    @property
    def left(self) -> int:
        return max(0, self.limit - self.used)

    def check(self, calls: int = 1) -> None:
        """Raise the pause if ``calls`` more would go over today's limit."""
        if self.used + calls > self.limit:
            self.save()
            resets = next_reset(self.now())
            raise WisenetQuotaExhausted(
                f"The {self.limit:,} Wisenet calls allowed today (setting wisenet_day_limit) "
                "are used up.",
                fix=f"Run the same command again after {resets:%Y-%m-%d %H:%M} UTC, when the "
                "quota resets; it carries on where it stopped.",
                resets_at=resets,
            )

    def save(self) -> None:
        """Add the calls made since the last save to today's count in the store."""
        self._catch_up()
        if not self._unsaved:
            return
        total = self._stored(self._day) + self._unsaved
        self.store.set_meta(self._key, json.dumps({"day": self._day.isoformat(), "calls": total}))
        self._saved, self._unsaved = total, 0

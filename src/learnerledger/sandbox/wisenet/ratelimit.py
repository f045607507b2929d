"""Wisenet's usage limits per API key (contract §1.3): requests per second and calls per day.

Over the rate: ``429 {"message": "Too Many Requests"}``; over the day quota:
``429 {"message": "Limit Exceeded"}``; no ``Retry-After``. The second is a rolling one-second
window; the day quota resets at 00:00 UTC (sandbox clock). Refused calls do not count. For
tests, ``fail_next(n)`` refuses the next n calls whatever the counts.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from learnerledger.sandbox.clock import Clock

__all__ = ["LIMIT_EXCEEDED", "TOO_MANY_REQUESTS", "Limits", "RateLimiter"]

TOO_MANY_REQUESTS = "Too Many Requests"
LIMIT_EXCEEDED = "Limit Exceeded"
_DAY = 86_400


@dataclass(frozen=True)
class Limits:
    per_second: int = 10
    day: int = 10_000  # for keys registered without a plan of their own


@dataclass
class _Usage:
    second: deque[float]
    day: int = -1
    day_calls: int = 0


class RateLimiter:
    def __init__(self, limits: Limits, clock: Clock) -> None:
        self.limits = limits
        self.clock = clock
        self._lock = threading.Lock()
        self._usage: dict[str, _Usage] = {}
        self._fail_next = 0
        self._fail_message = TOO_MANY_REQUESTS

    def fail_next(self, count: int, message: str = TOO_MANY_REQUESTS) -> None:
        with self._lock:
            self._fail_next = count
            self._fail_message = message

    def acquire(self, key_hash: str, day_limit: int | None) -> str | None:
        """Count one call for the key, or return the 429 message that refuses it."""
        now = self.clock.now()
        today = int(now // _DAY)
        with self._lock:
            if self._fail_next > 0:
                self._fail_next -= 1
                return self._fail_message
            usage = self._usage.setdefault(key_hash, _Usage(deque()))
            if usage.day != today:
                usage.day, usage.day_calls = today, 0
            if usage.day_calls >= (day_limit or self.limits.day):
                return LIMIT_EXCEEDED
            while usage.second and usage.second[0] <= now - 1.0:
                usage.second.popleft()
            if len(usage.second) >= self.limits.per_second:
                return TOO_MANY_REQUESTS
            usage.second.append(now)
            usage.day_calls += 1
        return None

    def state(self, key_hash: str, day_limit: int | None) -> dict[str, int]:
        """Calls made today and left today, for ``/sandbox/limits``."""
        today = int(self.clock.now() // _DAY)
        with self._lock:
            usage = self._usage.get(key_hash)
            used = usage.day_calls if usage and usage.day == today else 0
        limit = day_limit or self.limits.day
        return {"day_limit": limit, "calls_today": used, "calls_left_today": max(0, limit - used)}

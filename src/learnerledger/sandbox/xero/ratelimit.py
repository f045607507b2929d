"""Xero's rate limits: per organisation and app (in flight, per minute, per day) and per app.

Windows are rolling, as Xero's limits page describes them. Calls refused with 429 do not count.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field

from learnerledger.sandbox.clock import Clock

__all__ = ["Decision", "Limits", "RateLimiter"]

_MINUTE = 60.0
_DAY = 86_400.0


@dataclass(frozen=True)
class Limits:
    concurrency: int = 5
    minute: int = 60
    day: int = 5_000
    app_minute: int = 10_000


@dataclass
class Decision:
    allowed: bool
    headers: dict[str, str]
    problem: str | None = None  # Xero's X-Rate-Limit-Problem: minute, day, appminute, concurrent
    retry_after: int | None = None


@dataclass
class _Window:
    calls: deque[float] = field(default_factory=deque)

    def trim(self, now: float, span: float) -> None:
        while self.calls and self.calls[0] <= now - span:
            self.calls.popleft()

    def retry_after(self, now: float, span: float) -> int:
        return max(1, math.ceil(self.calls[0] + span - now))


class RateLimiter:
    def __init__(self, limits: Limits, clock: Clock) -> None:
        self.limits = limits
        self.clock = clock
        self._lock = threading.Lock()
        self._minute: dict[tuple[str, str], _Window] = {}
        self._day: dict[tuple[str, str], _Window] = {}
        self._app: dict[str, _Window] = {}
        self._in_flight: dict[tuple[str, str], int] = {}

    def acquire(self, client_id: str, tenant_id: str) -> Decision:
        """Count one call, or refuse it. An allowed call must be ``release``d when answered."""
        key = (client_id, tenant_id)
        now = self.clock.now()
        with self._lock:
            minute = self._minute.setdefault(key, _Window())
            day = self._day.setdefault(key, _Window())
            app = self._app.setdefault(client_id, _Window())
            minute.trim(now, _MINUTE)
            day.trim(now, _DAY)
            app.trim(now, _MINUTE)
            in_flight = self._in_flight.get(key, 0)
            problem: str | None = None
            retry_after = 1
            if len(day.calls) >= self.limits.day:
                problem, retry_after = "day", day.retry_after(now, _DAY)
            elif len(minute.calls) >= self.limits.minute:
                problem, retry_after = "minute", minute.retry_after(now, _MINUTE)
            elif len(app.calls) >= self.limits.app_minute:
                problem, retry_after = "appminute", app.retry_after(now, _MINUTE)
            elif in_flight >= self.limits.concurrency:
                problem, retry_after = "concurrent", 1
            if problem is None:
                minute.calls.append(now)
                day.calls.append(now)
                app.calls.append(now)
                self._in_flight[key] = in_flight + 1
            headers = {
                "X-DayLimit-Remaining": str(max(0, self.limits.day - len(day.calls))),
                "X-MinLimit-Remaining": str(max(0, self.limits.minute - len(minute.calls))),
                "X-AppMinLimit-Remaining": str(max(0, self.limits.app_minute - len(app.calls))),
            }
        if problem is None:
            return Decision(True, headers)
        headers["Retry-After"] = str(retry_after)
        headers["X-Rate-Limit-Problem"] = problem
        return Decision(False, headers, problem, retry_after)

    def release(self, client_id: str, tenant_id: str) -> None:
        key = (client_id, tenant_id)
        with self._lock:
            self._in_flight[key] = max(0, self._in_flight.get(key, 0) - 1)

"""Sandbox time: the real clock plus an offset that tests (and ``/sandbox/clock``) move forward.

Both sandboxes read it for everything that depends on time (Xero's token expiry, rate-limit
windows and idempotency expiry; Wisenet's per-second window, day quota and
LastModifiedTimeStamp), so a test can cross a one-second window, a 30-minute token or a day
without sleeping.
"""

from __future__ import annotations

import threading
import time

__all__ = ["Clock"]


class Clock:
    def __init__(self, offset: float = 0.0) -> None:
        self._offset = offset
        self._lock = threading.Lock()

    def now(self) -> float:
        """Seconds since the epoch, as the sandbox sees them."""
        return time.time() + self._offset

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    @property
    def offset(self) -> float:
        return self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += seconds

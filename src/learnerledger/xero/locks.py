"""A lock that every process on every machine sharing the store respects, and that frees
itself when its holder dies: a named lease (``store/leases.py``) waited for and held."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from learnerledger.errors import StoreError
from learnerledger.store import Store, leases

__all__ = ["StoreLock"]


class StoreLock:
    def __init__(
        self,
        store: Store,
        name: str,
        *,
        lease_seconds: float = 120.0,
        timeout: float = 300.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        poll_seconds: float = 0.05,
    ) -> None:
        self.store = store
        self.name = name
        self.lease_ms = int(lease_seconds * 1000)
        self.timeout = timeout
        self.clock = clock
        self.sleep = sleep
        self.poll_seconds = poll_seconds
        self.holder = uuid.uuid4().hex

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def try_acquire(self) -> bool:
        return leases.acquire(
            self.store, self.name, self.holder, now_ms=self._now_ms(), lease_ms=self.lease_ms
        )

    def renew(self) -> None:
        """Extend the lease before a step that may take long."""
        leases.renew(
            self.store, self.name, self.holder, now_ms=self._now_ms(), lease_ms=self.lease_ms
        )

    def release(self) -> None:
        leases.release(self.store, self.name, self.holder)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Wait for the lock (at most ``timeout`` seconds), hold it for the block."""
        started = time.monotonic()
        while not self.try_acquire():
            if time.monotonic() - started > self.timeout:
                raise StoreError(
                    f"The lock {self.name!r} has been held by another process for over "
                    f"{self.timeout:.0f} seconds.",
                    fix="Check for a stuck learnerledger process; the lock frees itself when "
                    "its lease runs out.",
                )
            self.sleep(self.poll_seconds)
        try:
            yield
        finally:
            self.release()

"""Named leases in the store: a lock that every process on every machine sharing the store
respects, and that frees itself when its holder dies (the lease runs out).

Taking the lock is one conditional ``UPDATE`` (``holder IS NULL OR expires_ms <= now``), which
is atomic on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from learnerledger.errors import StoreError
from learnerledger.store import Store
from learnerledger.store.xero_tables import xero_locks

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
        now = self._now_ms()
        with self.store.transaction(lock=f"xero.lock:{self.name}") as conn:
            exists = conn.execute(
                sa.select(xero_locks.c.name).where(xero_locks.c.name == self.name)
            ).first()
            if exists is None:
                try:
                    with self.store.transaction() as inner:
                        inner.execute(xero_locks.insert().values(name=self.name))
                except IntegrityError:
                    pass  # created by another process meanwhile
            taken = conn.execute(
                xero_locks.update()
                .where(
                    xero_locks.c.name == self.name,
                    sa.or_(xero_locks.c.holder.is_(None), xero_locks.c.expires_ms <= now),
                )
                .values(holder=self.holder, expires_ms=now + self.lease_ms)
            ).rowcount
        return bool(taken)

    def renew(self) -> None:
        """Extend the lease before a step that may take long."""
        with self.store.transaction() as conn:
            conn.execute(
                xero_locks.update()
                .where(xero_locks.c.name == self.name, xero_locks.c.holder == self.holder)
                .values(expires_ms=self._now_ms() + self.lease_ms)
            )

    def release(self) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                xero_locks.update()
                .where(xero_locks.c.name == self.name, xero_locks.c.holder == self.holder)
                .values(holder=None, expires_ms=None)
            )

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

"""Reading through a store or inside a connection already open."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection

from learnerledger.store.db import Store

StoreOrConnection = Store | Connection


@contextmanager
def reading(source: StoreOrConnection) -> Iterator[Connection]:
    """A read snapshot of ``source``, or ``source`` itself when it is a connection (the caller's
    transaction)."""
    if isinstance(source, Store):
        with source.read() as conn:
            yield conn
    else:
        yield source

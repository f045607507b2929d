"""Where each incremental read of a Xero organisation stands: the only writer of
``xero_cursors``.

A cursor is the If-Modified-Since of a stream's next read. A read in progress keeps, with it,
the page to carry on from and when its first answer came; once complete, the cursor moves on.
Besides the pulls, a sync that knows its own writes are the only changes moves the contacts
cursor past them with :func:`advance_cursor`, which never moves a cursor back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from learnerledger.store._reading import StoreOrConnection, reading
from learnerledger.store.db import Store
from learnerledger.store.xero_tables import xero_cursors

__all__ = [
    "Cursor",
    "CursorRow",
    "advance_cursor",
    "cursor_ms",
    "list_cursors",
    "load_cursor",
    "save_cursor",
]


@dataclass(frozen=True)
class Cursor:
    """Where one stream's reads stand."""

    since_ms: int | None  # the If-Modified-Since of the next read (or of the interrupted one)
    complete: bool
    resume_page: int | None = None  # where an interrupted read carries on
    started_ms: int | None = None  # when the interrupted read's first answer came


@dataclass(frozen=True)
class CursorRow:
    """A cursor as ``status`` shows it."""

    connection_id: int
    stream: str
    cursor_ms: int | None
    last_pull_ms: int | None
    complete: bool


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def load_cursor(source: StoreOrConnection, connection_id: int, stream: str) -> Cursor:
    """The cursor of ``stream`` (a stream never read: from the start, nothing to resume)."""
    with reading(source) as conn:
        row = conn.execute(
            sa.select(
                xero_cursors.c.cursor_ms,
                xero_cursors.c.complete,
                xero_cursors.c.resume_page,
                xero_cursors.c.pull_started_ms,
            ).where(xero_cursors.c.connection_id == connection_id, xero_cursors.c.stream == stream)
        ).first()
    if row is None:
        return Cursor(None, True)
    return Cursor(
        _int(row.cursor_ms), bool(row.complete), _int(row.resume_page), _int(row.pull_started_ms)
    )


def cursor_ms(source: StoreOrConnection, connection_id: int, stream: str) -> int | None:
    """The If-Modified-Since of ``stream``'s next read (None: from the start)."""
    return load_cursor(source, connection_id, stream).since_ms


def save_cursor(
    conn: Connection, connection_id: int, stream: str, cursor: Cursor, *, now_ms: int
) -> None:
    """Keep where ``stream`` stands, in the caller's transaction (with the page just stored);
    a complete cursor also records ``now_ms`` as the time of the last pull."""
    values: dict[str, Any] = {
        "cursor_ms": cursor.since_ms,
        "complete": cursor.complete,
        "resume_page": cursor.resume_page,
        "pull_started_ms": cursor.started_ms,
    }
    if cursor.complete:
        values["last_pull_ms"] = now_ms
    updated = conn.execute(
        xero_cursors.update()
        .where(xero_cursors.c.connection_id == connection_id, xero_cursors.c.stream == stream)
        .values(values)
    ).rowcount
    if not updated:
        conn.execute(
            xero_cursors.insert().values(connection_id=connection_id, stream=stream, **values)
        )


def advance_cursor(store: Store, connection_id: int, stream: str, to_ms: int) -> bool:
    """Move the cursor of ``stream`` forward to ``to_ms``; never back. A stream not read yet
    (no cursor, or one that starts from the beginning) is left alone: moving it would skip
    what was never read. True when the cursor moved."""
    with store.transaction() as conn:
        moved = conn.execute(
            xero_cursors.update()
            .where(
                xero_cursors.c.connection_id == connection_id,
                xero_cursors.c.stream == stream,
                xero_cursors.c.cursor_ms < to_ms,
            )
            .values(cursor_ms=to_ms)
        ).rowcount
    return bool(moved)


def list_cursors(source: StoreOrConnection) -> list[CursorRow]:
    """Every cursor, by organisation, then stream."""
    with reading(source) as conn:
        rows = conn.execute(
            sa.select(xero_cursors).order_by(xero_cursors.c.connection_id, xero_cursors.c.stream)
        )
        return [
            CursorRow(
                connection_id=int(r.connection_id),
                stream=str(r.stream),
                cursor_ms=_int(r.cursor_ms),
                last_pull_ms=_int(r.last_pull_ms),
                complete=bool(r.complete),
            )
            for r in rows
        ]

"""Opening the store, migrating it, and the one way to touch it: ``transaction()``.

SQLite is the default (WAL mode, one writer at a time, ``BEGIN IMMEDIATE`` for writes so that
two processes never deadlock on a lock upgrade); PostgreSQL is selected by a URL. The same
``transaction()`` nests on both: the outermost call begins a transaction, inner calls open
savepoints, so an inner failure rolls back only its own work.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from learnerledger.errors import StoreError
from learnerledger.store.tables import meta_values

__all__ = ["Connection", "Store", "open_store"]

# The open transaction a repository function takes (``with store.transaction() as conn``);
# callers outside the store hold it and pass it on, and never run SQL on it themselves.

_MIGRATIONS = Path(__file__).with_name("migrations")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin (savepoints need it).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # Writers take the write lock up front, so two processes never deadlock upgrading a
    # read lock; readers take a plain snapshot.
    if conn.get_execution_options().get("learnerledger_read"):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class Store:
    """A migrated database. Create with :func:`open_store`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._current: contextvars.ContextVar[Connection | None] = contextvars.ContextVar(
            f"learnerledger_store_{id(self)}", default=None
        )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Run the block in one write transaction; nested calls use savepoints of the outer one."""
        outer = self._current.get()
        if outer is not None:
            with outer.begin_nested():
                yield outer
            return
        with self.engine.begin() as conn:
            token = self._current.set(conn)
            try:
                yield conn
            finally:
                self._current.reset(token)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """Run the block in a read-only snapshot that never waits for a writer (WAL)."""
        outer = self._current.get()
        if outer is not None:
            yield outer
            return
        with self.engine.connect() as conn:
            conn.execution_options(learnerledger_read=True)
            with conn.begin():
                token = self._current.set(conn)
                try:
                    yield conn
                finally:
                    self._current.reset(token)

    def get_meta(self, key: str) -> str | None:
        with self.read() as conn:
            return conn.execute(
                sa.select(meta_values.c.value).where(meta_values.c.key == key)
            ).scalar_one_or_none()

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            updated = conn.execute(
                meta_values.update().where(meta_values.c.key == key).values(value=value)
            ).rowcount
            if not updated:
                conn.execute(meta_values.insert().values(key=key, value=value))

    def close(self) -> None:
        self.engine.dispose()


def _alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open the store at ``url`` and bring its schema up to date."""
    try:
        engine = _make_engine(url)
        store = Store(engine)
        if migrate:
            with engine.begin() as conn:
                cfg = _alembic_config(url)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "heads")
            if store.get_meta("store_id") is None:
                store.set_meta("store_id", str(uuid.uuid4()))
                store.set_meta("created_utc", datetime.now(UTC).isoformat(timespec="seconds"))
    except OSError as exc:
        raise StoreError(
            f"The store at {_redact(url)} cannot be opened: {exc.strerror or exc}.",
            fix="Check --home (or LEARNERLEDGER_HOME): it must be a directory you can write to.",
        ) from None
    except SQLAlchemyError as exc:
        raise StoreError(
            f"The store at {_redact(url)} cannot be opened: {exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]}",
            fix="Check LEARNERLEDGER_DATABASE_URL (or --home) and that the database is reachable.",
        ) from None
    return store


def schema_revisions(store: Store) -> set[str]:
    """The Alembic revisions the store is at (one per migration branch)."""
    with store.engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def head_revisions() -> set[str]:
    """The newest revision of every migration branch shipped with this version."""
    return set(ScriptDirectory.from_config(_alembic_config("sqlite://")).get_heads())


def _redact(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparseable URL>"

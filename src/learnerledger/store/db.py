"""Opening the store, migrating it, and the one way to touch it: ``transaction()``.

SQLite is the default (WAL mode, one writer at a time, ``BEGIN IMMEDIATE`` for writes so that
two processes never deadlock on a lock upgrade); PostgreSQL is selected by a URL
(``postgresql://`` means psycopg 3, installed by the ``postgres`` extra). The same
``transaction()`` nests on both: the outermost call begins a transaction, inner calls open
savepoints, so an inner failure rolls back only its own work.

Check-then-write on both databases: ``transaction(lock=NAME)``. On SQLite every write
transaction already runs alone (``BEGIN IMMEDIATE`` takes the database's one write lock), so a
block that reads, decides and writes sees no other writer in between. PostgreSQL runs writers
side by side under READ COMMITTED: two processes can both find no holder of a lease, or both
count four calls of five, and both go ahead. There ``lock=NAME`` takes a transaction-scoped
advisory lock (``pg_advisory_xact_lock``) on a 64-bit key hashed from the name before the block
runs, so every transaction naming the same lock (the rate budget of one organisation, one named
lease) runs one at a time and each sees what the previous one committed; transactions naming
other locks, or none, are not held up. An advisory lock rather than ``SELECT ... FOR UPDATE`` on
a per-organisation row because it needs no row: the first call for an organisation or a lease
name never taken has nothing to lock yet, and two inserts racing for it would otherwise have to
be settled by a unique-key error. The lock ends with the transaction (commit, rollback, or a
dropped connection), so a crashed process never leaves it held; a nested ``transaction()`` that
names a lock holds it until the outermost transaction ends. A hash collision between two names
only makes them wait for each other, never lets two holders in. On SQLite ``lock`` does nothing.
"""

from __future__ import annotations

import contextvars
import hashlib
import uuid
import weakref
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
# Two processes opening a new PostgreSQL store at once must not both create its tables.
_MIGRATION_LOCK = "learnerledger.store.migrations"


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
        # A store dropped without close() still closes its connections (PostgreSQL's driver
        # warns about a connection left open when it is collected).
        weakref.finalize(self, engine.dispose)
        self._current: contextvars.ContextVar[Connection | None] = contextvars.ContextVar(
            f"learnerledger_store_{id(self)}", default=None
        )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self, *, lock: str | None = None) -> Iterator[Connection]:
        """Run the block in one write transaction; nested calls use savepoints of the outer one.

        ``lock`` names what the block reads and then writes on that reading: every transaction
        naming the same lock runs alone (see the module's docstring).
        """
        outer = self._current.get()
        if outer is not None:
            with outer.begin_nested():
                self._lock(outer, lock)
                yield outer
            return
        with self.engine.begin() as conn:
            token = self._current.set(conn)
            try:
                self._lock(conn, lock)
                yield conn
            finally:
                self._current.reset(token)

    def _lock(self, conn: Connection, name: str | None) -> None:
        if name is not None and not self.is_sqlite:
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_key(name))))

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """Run the block in a read-only snapshot that never waits for a writer (WAL on SQLite,
        a REPEATABLE READ snapshot on PostgreSQL)."""
        outer = self._current.get()
        if outer is not None:
            yield outer
            return
        with self.engine.connect() as conn:
            if self.is_sqlite:
                conn.execution_options(learnerledger_read=True)
            else:
                conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
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
        with self.transaction(lock=f"learnerledger.meta:{key}") as conn:
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


def _lock_key(name: str) -> int:
    """The advisory lock key of ``name``: a stable signed 64-bit hash, the same in every process."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _driver_url(url: str) -> str:
    # A bare postgresql:// URL would mean psycopg2; learnerledger[postgres] installs psycopg 3.
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url[len(bare) :]
    return url


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
    url = _driver_url(url)
    try:
        engine = _make_engine(url)
        store = Store(engine)
        if migrate:
            with store.transaction(lock=_MIGRATION_LOCK) as conn:
                cfg = _alembic_config(url)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "heads")
                if store.get_meta("store_id") is None:
                    store.set_meta("store_id", str(uuid.uuid4()))
                    store.set_meta("created_utc", datetime.now(UTC).isoformat(timespec="seconds"))
    except ImportError as exc:
        raise StoreError(
            f"The store at {_redact(url)} needs a database driver that is not installed "
            f"({exc.name or exc}).",
            fix="For PostgreSQL install learnerledger with its extra: "
            "pip install 'learnerledger[postgres]'.",
        ) from None
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

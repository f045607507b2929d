"""The store foundation: migrations build exactly the declared tables, ``transaction()``
nests with savepoints, SQLite runs in WAL mode, and errors name the store and the fix.

Every test that takes ``store`` or ``store_url`` runs twice: on SQLite and on PostgreSQL."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from learnerledger.errors import StoreError
from learnerledger.store import Store, open_store
from learnerledger.store.db import head_revisions, schema_revisions
from learnerledger.store.secrets import SECRET_KEY_ENV, load_secret_box
from learnerledger.store.tables import meta_values, metadata


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = open_store(store_url)
    yield s
    s.close()


def test_migrations_build_exactly_the_declared_tables(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    assert schema_revisions(store) == head_revisions()


def test_sqlite_store_is_in_wal_mode(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'learnerledger.db'}")
    try:
        with store.read() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        store.close()


def test_reopening_is_idempotent_and_keeps_data(store_url: str) -> None:
    url = store_url
    first = open_store(url)
    store_id = first.get_meta("store_id")
    first.set_meta("hello", "world")
    first.close()
    second = open_store(url)
    assert second.get_meta("store_id") == store_id
    assert second.get_meta("hello") == "world"
    second.close()


def test_inner_failure_rolls_back_only_the_inner_block(store: Store) -> None:
    with store.transaction() as conn:
        conn.execute(meta_values.insert().values(key="outer", value="1"))
        with pytest.raises(RuntimeError), store.transaction() as inner:
            inner.execute(meta_values.insert().values(key="inner", value="2"))
            raise RuntimeError("boom")
        conn.execute(meta_values.insert().values(key="after", value="3"))
    assert store.get_meta("outer") == "1"
    assert store.get_meta("inner") is None
    assert store.get_meta("after") == "3"


def test_outer_failure_rolls_back_everything(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as conn:
        conn.execute(meta_values.insert().values(key="a", value="1"))
        with store.transaction() as inner:
            inner.execute(meta_values.insert().values(key="b", value="2"))
        raise RuntimeError("boom")
    assert store.get_meta("a") is None
    assert store.get_meta("b") is None


def test_concurrent_writers_naming_one_lock_are_serialised(store: Store) -> None:
    store.set_meta("counter", "0")

    def bump() -> None:
        for _ in range(25):
            with store.transaction(lock="counter") as conn:
                value = int(
                    conn.execute(
                        sa.select(meta_values.c.value).where(meta_values.c.key == "counter")
                    ).scalar_one()
                )
                conn.execute(
                    meta_values.update()
                    .where(meta_values.c.key == "counter")
                    .values(value=str(value + 1))
                )

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get_meta("counter") == "100"


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError) as info:
        open_store(f"sqlite:///{blocker / 'sub' / 'x.db'}")
    assert "cannot be opened" in str(info.value)
    assert "--home" in str(info.value)


def test_secrets_round_trip_and_key_file_is_private(tmp_path: Path) -> None:
    box = load_secret_box(tmp_path, environ={})
    sealed = box.seal({"refresh_token": "abc"})
    assert b"abc" not in sealed
    assert load_secret_box(tmp_path, environ={}).open(sealed) == {"refresh_token": "abc"}
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0


def test_secret_with_another_key_is_a_clear_error(tmp_path: Path) -> None:
    sealed = load_secret_box(tmp_path / "a", environ={}).seal({"k": "v"})
    other = load_secret_box(tmp_path / "b", environ={})
    with pytest.raises(StoreError, match="cannot be decrypted"):
        other.open(sealed)


def test_bad_key_in_environment_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="Fernet"):
        load_secret_box(tmp_path, environ={SECRET_KEY_ENV: "short"})


def test_a_read_block_sees_one_snapshot(store: Store) -> None:
    store.set_meta("seen", "before")
    with store.read() as conn:
        query = sa.select(meta_values.c.value).where(meta_values.c.key == "seen")
        assert conn.execute(query).scalar_one() == "before"
        writer = threading.Thread(target=store.set_meta, args=("seen", "after"))
        writer.start()
        writer.join()  # committed meanwhile: a reader never waits for it, nor sees it
        assert conn.execute(query).scalar_one() == "before"
    assert store.get_meta("seen") == "after"


def test_a_named_lock_is_held_until_the_outermost_transaction_ends(
    postgres_store: Store,
) -> None:
    from learnerledger.store.db import _lock_key

    def free(name: str) -> bool:
        # Asked from another connection: pg_try_advisory_xact_lock answers at once.
        with postgres_store.engine.connect() as other:
            taken = other.execute(sa.select(sa.func.pg_try_advisory_xact_lock(_lock_key(name))))
            return bool(taken.scalar_one())

    with postgres_store.transaction():
        with postgres_store.transaction(lock="budget:1"):
            assert not free("budget:1")
            assert free("budget:2")
        assert not free("budget:1")  # the savepoint ended, the transaction did not
    assert free("budget:1")


def _open_at_once(barrier: Any, results: Any, url: str) -> None:
    try:
        barrier.wait()
        store = open_store(url)
        results.put(store.get_meta("store_id"))
        store.close()
    except BaseException as exc:
        barrier.abort()
        results.put(f"error: {exc!r}")


@pytest.mark.slow
def test_processes_opening_a_new_database_at_once_migrate_it_once(postgres_url: str) -> None:
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(4, timeout=120), ctx.Queue()
    procs = [
        ctx.Process(target=_open_at_once, args=(barrier, results, postgres_url)) for _ in "1234"
    ]
    for p in procs:
        p.start()
    ids = {results.get(timeout=180) for _ in procs}
    for p in procs:
        p.join(timeout=60)
    assert len(ids) == 1, ids  # one store id: no process created the schema a second time
    store = open_store(postgres_url, migrate=False)
    try:
        assert schema_revisions(store) == head_revisions()
        assert store.get_meta("store_id") in ids
    finally:
        store.close()


def test_a_bare_postgresql_url_means_psycopg_and_an_unreachable_server_says_so() -> None:
    with pytest.raises(StoreError) as info:
        open_store("postgresql://nobody:s3cret@127.0.0.1:1/learnerledger")
    message = str(info.value)
    assert "cannot be opened: OperationalError" in message
    assert "postgresql+psycopg://nobody:***@127.0.0.1:1/learnerledger" in message
    assert "s3cret" not in message
    assert "LEARNERLEDGER_DATABASE_URL" in message


def test_a_missing_database_driver_says_what_to_install() -> None:
    with pytest.raises(StoreError) as info:
        open_store("postgresql+psycopg2://nobody@127.0.0.1:1/learnerledger")
    assert "driver that is not installed (psycopg2)" in str(info.value)
    assert "pip install 'learnerledger[postgres]'" in str(info.value)

"""The store foundation: migrations build exactly the declared tables, ``transaction()``
nests with savepoints, SQLite runs in WAL mode, and errors name the store and the fix."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from learnerledger.errors import StoreError
from learnerledger.store import Store, open_store
from learnerledger.store.db import head_revisions, schema_revisions
from learnerledger.store.secrets import SECRET_KEY_ENV, load_secret_box
from learnerledger.store.tables import meta_values, metadata


def test_migrations_build_exactly_the_declared_tables(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    assert schema_revisions(store) == head_revisions()


def test_sqlite_store_is_in_wal_mode(store: Store) -> None:
    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_reopening_is_idempotent_and_keeps_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
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


def test_concurrent_writers_are_serialised(store: Store) -> None:
    store.set_meta("counter", "0")

    def bump() -> None:
        for _ in range(25):
            with store.transaction() as conn:
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

"""The Wisenet sandbox's own SQLite file: API keys, learners, invoices, workplaces, learner
positions and the call counters. State survives restarts; one connection, one writer.

Records keep their JSON (only the fields that are set) in ``data`` and copy the fields that
filters use into indexed columns, casefolded where filters ignore case.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from learnerledger.sandbox.wisenet.wire import format_ts

__all__ = ["PLANS", "ApiKey", "SandboxStore", "hash_key", "learner_columns"]

# Wisenet's usage plans (contract §1.3): calls per day; both allow 10 requests per second.
PLANS = {"basic": 1_000, "full": 10_000}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS api_keys (
    key_hash TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    day_limit INTEGER,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS learners (
    learner_id INTEGER PRIMARY KEY,
    guid TEXT NOT NULL UNIQUE,
    number TEXT NOT NULL UNIQUE,
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    mobile TEXT NOT NULL DEFAULT '',
    usi TEXT NOT NULL DEFAULT '',
    alt1 TEXT NOT NULL DEFAULT '',
    alt2 TEXT NOT NULL DEFAULT '',
    username TEXT NOT NULL DEFAULT '',
    is_active INTEGER,
    sync_to_xero INTEGER,
    modified_ms INTEGER NOT NULL,
    modified_text TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS learners_sync ON learners (sync_to_xero, learner_id);
CREATE INDEX IF NOT EXISTS learners_modified ON learners (modified_ms);
CREATE INDEX IF NOT EXISTS learners_email ON learners (email);
CREATE TABLE IF NOT EXISTS invoices (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    invoice_id TEXT NOT NULL UNIQUE,
    learner_id INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS invoices_learner ON invoices (learner_id, seq);
CREATE INDEX IF NOT EXISTS invoices_learner_id ON invoices (learner_id, invoice_id);
CREATE TABLE IF NOT EXISTS workplaces (
    workplace_id INTEGER PRIMARY KEY,
    code TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    modified_ms INTEGER NOT NULL,
    modified_text TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS positions (
    position_id INTEGER PRIMARY KEY,
    learner_id INTEGER NOT NULL,
    workplace_id INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL,
    modified_text TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS positions_learner ON positions (learner_id);
CREATE TABLE IF NOT EXISTS calls (endpoint TEXT PRIMARY KEY, count INTEGER NOT NULL);
"""


def hash_key(key: str) -> str:
    """Keys are kept as hashes: the sandbox's file never holds a usable key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ApiKey:
    def __init__(self, key_hash: str, label: str, day_limit: int | None) -> None:
        self.key_hash = key_hash
        self.label = label
        self.day_limit = day_limit


def _fold(value: Any) -> str:
    return value.strip().casefold() if isinstance(value, str) else ""


def learner_columns(data: dict[str, Any]) -> dict[str, Any]:
    """The indexed copies of a learner's filterable fields."""
    personal = data.get("Personal") or {}
    phones = personal.get("PhoneNumbers") or {}
    emails = personal.get("EmailAddresses") or {}
    access = data.get("LearnerAccess") or {}
    return {
        "first_name": _fold(personal.get("FirstName")),
        "last_name": _fold(personal.get("LastName")),
        "email": _fold(emails.get("Email")),
        "mobile": _fold(phones.get("Mobile")),
        "usi": _fold(personal.get("UniqueStudentIdentifier")),
        "alt1": _fold(personal.get("LearnerAlt1Number")),
        "alt2": _fold(personal.get("LearnerAlt2Number")),
        "username": _fold(access.get("Username")),
        "is_active": personal.get("IsActive"),
        "sync_to_xero": personal.get("SyncToXero"),
    }


def _compact(value: Any) -> Any:
    """Drop nulls (and objects left empty): ``model.expand`` puts them back for answers."""
    if isinstance(value, dict):
        out = {k: _compact(v) for k, v in value.items() if v is not None}
        return {k: v for k, v in out.items() if v != {}}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value


def dump(data: dict[str, Any]) -> str:
    return json.dumps(_compact(data), ensure_ascii=False, separators=(",", ":"))


class SandboxStore:
    def __init__(self, path: Path | str) -> None:
        path = Path(path)
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction at a time; rolled back if the block raises."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- keys ---------------------------------------------------------------------------------

    def add_key(self, key: str, *, label: str = "", day_limit: int | None, now_ms: int) -> None:
        with self.tx() as conn:
            conn.execute(
                "INSERT INTO api_keys (key_hash, label, day_limit, created_ms) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (key_hash) DO UPDATE SET label = excluded.label,"
                " day_limit = excluded.day_limit",
                (hash_key(key), label, day_limit, now_ms),
            )

    def find_key(self, key: str) -> ApiKey | None:
        with self.read() as conn:
            row = conn.execute(
                "SELECT key_hash, label, day_limit FROM api_keys WHERE key_hash = ?",
                (hash_key(key),),
            ).fetchone()
        return ApiKey(row["key_hash"], row["label"], row["day_limit"]) if row else None

    def key_count(self) -> int:
        with self.read() as conn:
            return int(conn.execute("SELECT count(*) FROM api_keys").fetchone()[0])

    # -- counters -----------------------------------------------------------------------------

    def count_call(self, endpoint: str) -> None:
        with self.tx() as conn:
            conn.execute(
                "INSERT INTO calls (endpoint, count) VALUES (?, 1)"
                " ON CONFLICT (endpoint) DO UPDATE SET count = count + 1",
                (endpoint,),
            )

    def calls(self) -> dict[str, int]:
        with self.read() as conn:
            rows = conn.execute("SELECT endpoint, count FROM calls ORDER BY endpoint").fetchall()
        return {row["endpoint"]: int(row["count"]) for row in rows}

    def reset_calls(self) -> None:
        with self.tx() as conn:
            conn.execute("DELETE FROM calls")

    # -- learners -----------------------------------------------------------------------------

    def learner_count(self) -> int:
        with self.read() as conn:
            return int(conn.execute("SELECT count(*) FROM learners").fetchone()[0])

    def next_learner_ids(self, conn: sqlite3.Connection) -> tuple[int, int]:
        """The next LearnerId and the next LearnerNumber sequence."""
        row = conn.execute("SELECT max(learner_id) FROM learners").fetchone()
        next_id = int(row[0] or 10_000) + 1
        seq = conn.execute("SELECT value FROM meta WHERE key = 'learner_number'").fetchone()
        return next_id, int(seq[0]) + 1 if seq else 1

    def save_learner_number(self, conn: sqlite3.Connection, seq: int) -> None:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('learner_number', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(seq),),
        )

    def next_modified_ms(self, conn: sqlite3.Connection, now_ms: int) -> int:
        """``LastModifiedTimeStamp`` moves forward on every write, even within a millisecond."""
        row = conn.execute("SELECT value FROM meta WHERE key = 'last_modified_ms'").fetchone()
        stamp = max(now_ms, int(row[0]) + 1 if row else now_ms)
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('last_modified_ms', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(stamp),),
        )
        return stamp

    def write_learner(
        self, conn: sqlite3.Connection, record: dict[str, Any], *, modified: int, insert: bool
    ) -> None:
        """Insert or replace a learner (its ``LastModifiedTimeStamp`` set to ``modified``)."""
        record["LastModifiedTimeStamp"] = format_ts(modified)
        columns = learner_columns(record)
        values = {
            **columns,
            "learner_id": record["LearnerId"],
            "guid": record["LearnerGuid"],
            "number": str(record["Personal"]["LearnerNumber"]).casefold(),
            "modified_ms": modified,
            "modified_text": format_ts(modified),
            "data": dump(record),
        }
        names = list(values)
        if insert:
            conn.execute(
                f"INSERT INTO learners ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                [values[n] for n in names],
            )
        else:
            sets = ", ".join(f"{n} = ?" for n in names if n != "learner_id")
            conn.execute(
                f"UPDATE learners SET {sets} WHERE learner_id = ?",
                [values[n] for n in names if n != "learner_id"] + [values["learner_id"]],
            )

    def learner(self, conn: sqlite3.Connection, learner_id: int) -> dict[str, Any] | None:
        row = conn.execute(
            "SELECT data FROM learners WHERE learner_id = ?", (learner_id,)
        ).fetchone()
        return dict(json.loads(row["data"])) if row else None

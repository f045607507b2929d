"""The sandbox's own SQLite file: organisations, apps, tokens, connections, contacts, accounts
and the idempotency cache. State survives restarts; one connection, one writer at a time.

Contacts keep their Xero JSON in ``data`` and copy the fields that queries filter or sort on
into indexed columns. Documents (invoices, credit notes, payments) follow the same pattern.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_ORGANISATION",
    "DEFAULT_TENANT_ID",
    "App",
    "Organisation",
    "SandboxStore",
]

DEFAULT_TENANT_ID = "3f7b9c2e-5a1d-4e8f-9b6c-0d2a4e6f8a10"
DEFAULT_ORGANISATION = "Demo Training Co"
_ORG_NAMESPACE = uuid.UUID("6f1c3a52-2b0e-4d7a-8c91-5e4f3a2b1c0d")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS organisations (
    tenant_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    short_code TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS apps (
    client_id TEXT PRIMARY KEY,
    client_secret TEXT,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('custom', 'oauth')),
    tenant_id TEXT REFERENCES organisations(tenant_id),
    scopes TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS auth_codes (
    code TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    code_challenge TEXT,
    code_challenge_method TEXT,
    auth_event_id TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    auth_event_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    replaced_by TEXT,
    replaced_ms INTEGER,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS connections (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES organisations(tenant_id),
    auth_event_id TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    UNIQUE (client_id, tenant_id)
);
CREATE TABLE IF NOT EXISTS contacts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL REFERENCES organisations(tenant_id),
    contact_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    contact_number TEXT,
    number_key TEXT,
    status TEXT NOT NULL,
    email TEXT,
    first_name TEXT,
    last_name TEXT,
    account_number TEXT,
    is_customer INTEGER NOT NULL DEFAULT 0,
    is_supplier INTEGER NOT NULL DEFAULT 0,
    merged_to TEXT,
    updated_ms INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS contacts_name ON contacts (tenant_id, status, name, seq);
CREATE INDEX IF NOT EXISTS contacts_name_key ON contacts (tenant_id, name_key);
CREATE INDEX IF NOT EXISTS contacts_number_key ON contacts (tenant_id, number_key);
CREATE INDEX IF NOT EXISTS contacts_updated ON contacts (tenant_id, updated_ms);
CREATE INDEX IF NOT EXISTS contacts_email ON contacts (tenant_id, email);
CREATE INDEX IF NOT EXISTS contacts_id ON contacts (tenant_id, contact_id);
CREATE TABLE IF NOT EXISTS accounts (
    tenant_id TEXT NOT NULL REFERENCES organisations(tenant_id),
    account_id TEXT NOT NULL,
    code TEXT,
    updated_ms INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (tenant_id, account_id)
);
CREATE TABLE IF NOT EXISTS idempotency (
    client_id TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    body BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (client_id, key)
);
CREATE TABLE IF NOT EXISTS seed_truth (
    tenant_id TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    person_ref TEXT,
    kind TEXT NOT NULL,
    variant TEXT NOT NULL,
    PRIMARY KEY (tenant_id, contact_id)
);
-- Invoices, credit notes, prepayments and overpayments. Money columns hold cents; amount_due
-- is the invoice's AmountDue or the credit's RemainingCredit. The document itself is kept as
-- Xero's JSON (Decimal amounts as JSON numbers) in three parts, so that a page of documents is
-- answered by joining text: data (the fields), lines (LineItems, unit amounts to 2 decimals;
-- lines4 holds them to 4 when that differs) and applied (Payments, CreditNotes, Allocations...).
CREATE TABLE IF NOT EXISTS documents (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL REFERENCES organisations(tenant_id),
    doc_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('invoice', 'creditnote', 'prepayment', 'overpayment')),
    type TEXT NOT NULL,
    number TEXT,
    number_key TEXT,
    reference TEXT,
    contact_id TEXT NOT NULL,
    status TEXT NOT NULL,
    date_ms INTEGER NOT NULL,
    due_date_ms INTEGER,
    total INTEGER NOT NULL,
    amount_due INTEGER NOT NULL,
    amount_paid INTEGER NOT NULL,
    amount_credited INTEGER NOT NULL,
    created_by TEXT,
    updated_ms INTEGER NOT NULL,
    data TEXT NOT NULL,
    lines TEXT NOT NULL,
    lines4 TEXT,
    applied TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_kind ON documents (tenant_id, kind);
CREATE INDEX IF NOT EXISTS documents_id ON documents (tenant_id, kind, doc_id);
CREATE INDEX IF NOT EXISTS documents_contact ON documents (tenant_id, contact_id, kind, status);
CREATE INDEX IF NOT EXISTS documents_updated ON documents (tenant_id, kind, updated_ms);
CREATE INDEX IF NOT EXISTS documents_date ON documents (tenant_id, kind, date_ms);
CREATE INDEX IF NOT EXISTS documents_status ON documents (tenant_id, kind, status);
CREATE INDEX IF NOT EXISTS documents_number ON documents (tenant_id, kind, number_key);
-- Payments of invoices and refunds of credits; doc_id is the document paid or refunded.
CREATE TABLE IF NOT EXISTS payments (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL REFERENCES organisations(tenant_id),
    payment_id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id),
    status TEXT NOT NULL,
    payment_type TEXT NOT NULL,
    date_ms INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    reconciled INTEGER NOT NULL DEFAULT 0,
    updated_ms INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS payments_tenant ON payments (tenant_id);
CREATE INDEX IF NOT EXISTS payments_id ON payments (tenant_id, payment_id);
CREATE INDEX IF NOT EXISTS payments_doc ON payments (doc_id, status);
CREATE INDEX IF NOT EXISTS payments_updated ON payments (tenant_id, updated_ms);
CREATE INDEX IF NOT EXISTS payments_date ON payments (tenant_id, date_ms);
-- A credit (credit note, prepayment, overpayment) applied to an invoice.
CREATE TABLE IF NOT EXISTS allocations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL REFERENCES organisations(tenant_id),
    allocation_id TEXT NOT NULL UNIQUE,
    credit_id TEXT NOT NULL REFERENCES documents(doc_id),
    invoice_id TEXT NOT NULL REFERENCES documents(doc_id),
    amount INTEGER NOT NULL,
    date_ms INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS allocations_credit ON allocations (credit_id, deleted);
CREATE INDEX IF NOT EXISTS allocations_invoice ON allocations (invoice_id, deleted);
CREATE TABLE IF NOT EXISTS bank_transactions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL REFERENCES organisations(tenant_id),
    bank_transaction_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    status TEXT NOT NULL,
    date_ms INTEGER NOT NULL,
    total INTEGER NOT NULL,
    doc_id TEXT,
    updated_ms INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bank_transactions_tenant ON bank_transactions (tenant_id);
CREATE INDEX IF NOT EXISTS bank_transactions_updated ON bank_transactions (tenant_id, updated_ms);
CREATE INDEX IF NOT EXISTS bank_transactions_contact ON bank_transactions (tenant_id, contact_id);
-- The organisation's next automatic numbers (INV-0001, CN-0001).
CREATE TABLE IF NOT EXISTS sequences (
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    next INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
"""

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Organisation:
    tenant_id: str
    name: str
    short_code: str
    created_ms: int


@dataclass(frozen=True)
class App:
    client_id: str
    client_secret: str | None
    name: str
    kind: str  # custom | oauth
    tenant_id: str | None
    scopes: tuple[str, ...]


class SandboxStore:
    """One SQLite file. ``tx()`` is a write transaction (nesting with savepoints)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA busy_timeout=30000")
        self.lock = threading.RLock()
        self._depth = 0
        self._conn.executescript(_SCHEMA)
        with self.tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('signing_key', ?)",
                (secrets.token_hex(32),),
            )

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            if self._depth:
                name = f"sp{self._depth}"
                self._conn.execute(f"SAVEPOINT {name}")
                self._depth += 1
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute(f"ROLLBACK TO {name}")
                    self._conn.execute(f"RELEASE {name}")
                    raise
                else:
                    self._conn.execute(f"RELEASE {name}")
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                self._depth = 0

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            yield self._conn

    def close(self) -> None:
        with self.lock:
            self._conn.close()

    # -- meta ---------------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        with self.read() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["value"])

    # -- organisations and apps ---------------------------------------------------------------

    def ensure_organisation(
        self, name: str, tenant_id: str | None = None, *, now_ms: int
    ) -> Organisation:
        tenant_id = tenant_id or str(uuid.uuid5(_ORG_NAMESPACE, name))
        with self.tx() as conn:
            row = conn.execute(
                "SELECT * FROM organisations WHERE tenant_id = ?", (tenant_id,)
            ).fetchone()
            if row is None:
                short = "!" + uuid.uuid5(_ORG_NAMESPACE, tenant_id).hex[:5]
                conn.execute(
                    "INSERT INTO organisations (tenant_id, name, short_code, created_ms) "
                    "VALUES (?, ?, ?, ?)",
                    (tenant_id, name, short, now_ms),
                )
                row = conn.execute(
                    "SELECT * FROM organisations WHERE tenant_id = ?", (tenant_id,)
                ).fetchone()
        return _org(row)

    def organisations(self) -> list[Organisation]:
        with self.read() as conn:
            rows = conn.execute("SELECT * FROM organisations ORDER BY created_ms, name").fetchall()
        return [_org(r) for r in rows]

    def organisation(self, tenant_id: str) -> Organisation | None:
        with self.read() as conn:
            row = conn.execute(
                "SELECT * FROM organisations WHERE tenant_id = ?", (tenant_id,)
            ).fetchone()
        return None if row is None else _org(row)

    def register_app(
        self,
        client_id: str,
        client_secret: str | None,
        *,
        kind: str,
        name: str,
        scopes: tuple[str, ...],
        tenant_id: str | None,
        now_ms: int,
    ) -> App:
        with self.tx() as conn:
            conn.execute(
                "INSERT INTO apps (client_id, client_secret, name, kind, tenant_id, scopes, "
                "created_ms) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (client_id) DO UPDATE SET "
                "client_secret = excluded.client_secret, name = excluded.name, "
                "kind = excluded.kind, tenant_id = excluded.tenant_id, scopes = excluded.scopes",
                (client_id, client_secret, name, kind, tenant_id, " ".join(scopes), now_ms),
            )
            if kind == "custom" and tenant_id is not None:
                conn.execute(
                    "INSERT INTO connections (id, client_id, tenant_id, auth_event_id, "
                    "created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (client_id, tenant_id) DO NOTHING",
                    (str(uuid.uuid4()), client_id, tenant_id, str(uuid.uuid4()), now_ms, now_ms),
                )
        app = self.app(client_id)
        assert app is not None
        return app

    def app(self, client_id: str) -> App | None:
        with self.read() as conn:
            row = conn.execute("SELECT * FROM apps WHERE client_id = ?", (client_id,)).fetchone()
        if row is None:
            return None
        return App(
            client_id=row["client_id"],
            client_secret=row["client_secret"],
            name=row["name"],
            kind=row["kind"],
            tenant_id=row["tenant_id"],
            scopes=tuple(str(row["scopes"]).split()),
        )


def _org(row: sqlite3.Row) -> Organisation:
    return Organisation(
        tenant_id=row["tenant_id"],
        name=row["name"],
        short_code=row["short_code"],
        created_ms=row["created_ms"],
    )


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

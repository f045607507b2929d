"""The local store: SQLAlchemy tables, Alembic migrations, one nesting ``transaction()``, and
the repositories: the only modules that run SQL against learnerledger's tables, each table
written by exactly one of them (``docs/architecture.md`` lists which).

Each part of learnerledger declares its tables in a module here, on one ``metadata``;
importing this package registers them all. The package exposes the repository modules
(``store.history``, ``store.leases``, ...), not the tables.
"""

from learnerledger.store import budget as budget
from learnerledger.store import connections as connections
from learnerledger.store import cursors as cursors
from learnerledger.store import duplicates as duplicates
from learnerledger.store import history as history
from learnerledger.store import journal as journal
from learnerledger.store import learners as learners
from learnerledger.store import leases as leases
from learnerledger.store import links as links
from learnerledger.store import listing as listing
from learnerledger.store import merges as merges
from learnerledger.store import mirror as mirror
from learnerledger.store import resync as resync
from learnerledger.store import sync_tables as sync_tables  # registers the sync tables
from learnerledger.store import users as users
from learnerledger.store import xero_tables as xero_tables  # registers the Xero tables
from learnerledger.store.db import Connection, Store, open_store
from learnerledger.store.secrets import SecretBox, load_secret_box
from learnerledger.store.tables import metadata

__all__ = [
    "Connection",
    "SecretBox",
    "Store",
    "budget",
    "connections",
    "cursors",
    "duplicates",
    "history",
    "journal",
    "learners",
    "leases",
    "links",
    "listing",
    "load_secret_box",
    "merges",
    "metadata",
    "mirror",
    "open_store",
    "resync",
    "users",
]

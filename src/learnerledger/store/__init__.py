"""The local store: SQLAlchemy tables, Alembic migrations and one nesting ``transaction()``.

Each part of learnerledger declares its tables in its own module here, on one ``metadata``;
importing this package registers them all.
"""

from learnerledger.store import sync_tables as sync_tables  # registers the sync tables
from learnerledger.store import xero_tables as xero_tables  # registers the Xero tables
from learnerledger.store.db import Store, open_store
from learnerledger.store.learners import learners
from learnerledger.store.secrets import SecretBox, load_secret_box
from learnerledger.store.tables import connections, metadata, runs

__all__ = [
    "SecretBox",
    "Store",
    "connections",
    "learners",
    "load_secret_box",
    "metadata",
    "open_store",
    "runs",
]

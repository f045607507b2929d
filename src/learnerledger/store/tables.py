"""Tables shared by every part of learnerledger. Each part keeps its own tables in its own
module of this package (on the same ``metadata``); migrations under ``migrations/versions``
build exactly what the modules declare, and a test compares the two.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["connections", "leases", "meta_values", "metadata", "runs"]

metadata = sa.MetaData()

# Facts about this store itself (its id, when it was created), as key/value text.
meta_values = sa.Table(
    "meta_values",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# One row per connected system: a Xero organisation or a Wisenet account.
connections = sa.Table(
    "connections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(20), nullable=False),  # xero | wisenet
    sa.Column("name", sa.String(255), nullable=False),  # organisation or account name
    sa.Column("tenant_id", sa.String(64), nullable=True),  # Xero's tenant id
    sa.Column("base_url", sa.String(500), nullable=False),
    sa.Column("auth_mode", sa.String(30), nullable=False),  # custom_connection|oauth|api_key
    sa.Column("secret", sa.LargeBinary, nullable=True),  # encrypted JSON (store.secrets)
    sa.Column("state", sa.String(30), nullable=False),  # connected|reconnect_needed|disconnected
    sa.Column("state_detail", sa.Text, nullable=False, server_default=""),
    sa.Column("created_utc", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_utc", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("kind", "tenant_id", "base_url", name="uq_connections_kind_tenant"),
)

# Every job run (History): what ran, for which organisation, how it ended (``status``: running,
# then succeeded|failed|paused|cancelled), its counts, the API calls it used, where a paused run
# resumes, its last progress event and its per-record problems (capped; ``problems_dropped``
# says how many more there were). Written only by ``store/runs.py``.
runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job", sa.String(50), nullable=False),  # e.g. "pull learners", "sync learners"
    sa.Column("connection_id", sa.Integer, sa.ForeignKey("connections.id"), nullable=True),
    sa.Column("started_utc", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_utc", sa.DateTime(timezone=True), nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("counts", sa.JSON, nullable=False, default=dict),
    sa.Column("problems", sa.JSON, nullable=False, default=list),
    sa.Column("message", sa.Text, nullable=False, server_default=""),
    sa.Column("calls", sa.Integer, nullable=False, server_default="0"),
    sa.Column("problems_dropped", sa.Integer, nullable=False, server_default="0"),
    sa.Column("resume", sa.JSON, nullable=True),
    sa.Column("progress", sa.JSON, nullable=True),
)
sa.Index("ix_runs_job", runs.c.job, runs.c.connection_id, runs.c.id)

# Named leases that every process on every machine sharing the store respects, and that free
# themselves when their holder dies (the lease runs out): ``job:<job>:<organisation>`` keeps a
# job to one run at a time, ``refresh:<connection>`` lets one process refresh a token set.
# ``detail`` says who holds it (run, host, process) for the message a second start gets.
# Written only by ``store/leases.py``.
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("holder", sa.String(64), nullable=True),
    sa.Column("expires_ms", sa.BigInteger, nullable=True),
    sa.Column("detail", sa.JSON, nullable=True),
)

"""Recording job runs in the ``runs`` table (the History page): what ran, how it ended, its
counts and the per-record errors, each with its fix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from learnerledger.store import Store
from learnerledger.store.tables import runs

__all__ = ["MAX_STORED_ERRORS", "finish_run", "start_run"]

# A run with a hundred thousand bad records keeps the first thousand; the count says how many.
MAX_STORED_ERRORS = 1000


def start_run(store: Store, job: str, *, connection_id: int | None = None) -> int:
    with store.transaction() as conn:
        result = conn.execute(
            runs.insert().values(
                job=job,
                connection_id=connection_id,
                started_utc=datetime.now(UTC),
                status="running",
                counts={},
                problems=[],
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


def finish_run(
    store: Store,
    run_id: int,
    *,
    status: str,
    counts: Mapping[str, int],
    errors: Sequence[Mapping[str, Any]] = (),
    message: str = "",
) -> None:
    stored = [dict(e) for e in errors[:MAX_STORED_ERRORS]]
    all_counts = dict(counts)
    if len(errors) > MAX_STORED_ERRORS:
        all_counts["errors_not_stored"] = len(errors) - MAX_STORED_ERRORS
    with store.transaction() as conn:
        conn.execute(
            sa.update(runs)
            .where(runs.c.id == run_id)
            .values(
                finished_utc=datetime.now(UTC),
                status=status,
                counts=all_counts,
                problems=stored,
                message=message,
            )
        )

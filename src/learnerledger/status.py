"""``learnerledger status``: what is connected, what the mirror holds, what each organisation's
rate budget has left, where the incremental reads stand, and how the last runs ended.

:func:`collect_status` returns the stable JSON contract of DESIGN.md §4 (an object with at least
``connections``, ``counts``, ``budget`` and ``last_runs``); :func:`format_status` renders it
for people. Counts of things later parts of learnerledger keep (links, duplicates, resynced
documents) are registered in :data:`COUNTERS`; a count whose table does not exist is 0.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from learnerledger.config import Config
from learnerledger.store import (
    Connection,
    Store,
    connections,
    cursors,
    duplicates,
    history,
    links,
    merges,
    mirror,
    resync,
)
from learnerledger.store.learners import count_learners
from learnerledger.xero.connections import list_connections
from learnerledger.xero.ratelimit import Limits, RateBudget
from learnerledger.xero.wire import from_ms

__all__ = ["COUNTERS", "collect_status", "format_status"]

Counter = Callable[[Connection], int]


def _documents(kind: str) -> Counter:
    return lambda conn: mirror.count_documents(conn, kind)


# Every integer of ``counts``, in the order shown, each read through the repository of its
# table. ``documents_resynced`` counts the documents the resync has written to the SMS (and
# not removed since). ``linked`` counts learners with their own contact; ``duplicates_open``
# the pairs found that no one has decided yet; ``contacts_absorbed`` the legacy contacts merged
# into learners' contacts; ``merges_worklist`` the clusters waiting for Xero's own Merge.
COUNTERS: dict[str, Counter] = {
    "learners": lambda conn: count_learners(conn).learners,
    "learners_ready": lambda conn: count_learners(conn).learners_ready,
    "contacts": lambda conn: mirror.count_contacts(conn),
    "contacts_archived": lambda conn: mirror.count_contacts(conn, status="ARCHIVED"),
    "linked": lambda conn: links.count_linked(conn),
    "duplicates_open": lambda conn: duplicates.count_open(conn),
    "contacts_absorbed": lambda conn: links.count_linked(conn, role="absorbed"),
    "merges_worklist": lambda conn: merges.count_clusters(
        conn, states=("worklist", "swap_refused")
    ),
    "invoices": _documents("invoice"),
    "credit_notes": _documents("credit_note"),
    "payments": _documents("payment"),
    "prepayments": _documents("prepayment"),
    "overpayments": _documents("overpayment"),
    "documents_resynced": lambda conn: resync.count_resynced(conn),
    "records_unreadable": lambda conn: mirror.count_rejects(conn),
}


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # SQLite hands back what was stored, without a zone
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _iso_ms(ms: int | None) -> str | None:
    return None if ms is None else _iso(from_ms(int(ms)))


def collect_status(
    store: Store, config: Config, *, clock: Callable[[], float] = time.time
) -> dict[str, Any]:
    """The status document (DESIGN.md §4). It holds no secret."""
    limits = Limits.from_config(config)
    rows = sorted(connections.list_connections(store), key=lambda c: (c.kind, c.id))
    connection_list = [
        {
            "id": r.id,
            "kind": r.kind,
            "organisation": r.name,
            "tenant_id": r.tenant_id,
            "state": r.state,
            "state_detail": r.state_detail,
            "auth_mode": r.auth_mode,
            "base_url": r.base_url,
        }
        for r in rows
    ]
    names = {c.id: c.name for c in rows}
    with store.read() as conn:
        counts = {name: counter(conn) for name, counter in COUNTERS.items()}
        cursor_list = [
            {
                "organisation": names.get(c.connection_id),
                "stream": c.stream,
                "cursor_utc": _iso_ms(c.cursor_ms),
                "last_pull_utc": _iso_ms(c.last_pull_ms),
                "complete": c.complete,
            }
            for c in cursors.list_cursors(conn)
        ]
    run_list = [
        {
            "id": r.id,
            "job": r.job,
            "organisation": r.organisation,
            "status": r.status,
            "started_utc": _iso(r.started),
            "finished_utc": _iso(r.finished),
            "counts": r.counts,
            "calls": r.calls,
            "problems": len(r.problems) + r.problems_dropped,
            "errors": len(r.problems),  # the problems kept; ``problems`` counts them all
            "message": r.message,
        }
        for r in history.latest_runs(store, limit=20)
    ]
    budget = []
    for c in list_connections(store):
        snap = RateBudget(store, c.id, limits=limits, organisation=c.name, clock=clock).snapshot()
        budget.append(
            {
                "organisation": c.name,
                "tenant_id": c.tenant_id,
                "minute_remaining": snap.minute_remaining,
                "day_remaining": snap.day_remaining,
                "minute_limit": limits.minute,
                "day_limit": limits.day,
                "in_flight": snap.in_flight,
                "paused_until": _iso(snap.blocked_until),
                "paused_by": snap.blocked_limit,
                "day_resumes_at": _iso(snap.day_resumes_at),
            }
        )
    return {
        "connections": connection_list,
        "counts": counts,
        "budget": budget,
        "cursors": cursor_list,
        "last_runs": run_list,
    }


def format_status(status: dict[str, Any]) -> str:
    """The status document as lines for a terminal."""
    lines = ["Connections:"]
    if not status["connections"]:
        lines.append("  none (run `learnerledger connect xero`)")
    for c in status["connections"]:
        state = c["state"].replace("_", " ")
        lines.append(f"  {c['kind']:8} {c['organisation']} ({c['tenant_id'] or '-'}): {state}")
        if c["state_detail"]:
            lines.append(f"           {c['state_detail']}")
    lines.append("Counts:")
    for name, value in status["counts"].items():
        lines.append(f"  {name.replace('_', ' '):20} {value:>10,}")
    if status["budget"]:
        lines.append("Rate budget:")
    for b in status["budget"]:
        line = (
            f"  {b['organisation']}: {b['minute_remaining']} of {b['minute_limit']} calls left "
            f"this minute, {b['day_remaining']} of {b['day_limit']} today"
        )
        if b["paused_until"]:
            line += f"; paused by Xero ({b['paused_by']}) until {b['paused_until']}"
        elif b["day_resumes_at"]:
            line += f"; the daily limit frees up at {b['day_resumes_at']}"
        lines.append(line)
    if status["cursors"]:
        lines.append("Mirror:")
    for c in status["cursors"]:
        done = "" if c["complete"] else " (incomplete: run the pull again)"
        lines.append(
            f"  {c['organisation']} {c['stream']}: changes up to {c['cursor_utc'] or '-'}, "
            f"last pulled {c['last_pull_utc'] or 'never'}{done}"
        )
    if status["last_runs"]:
        lines.append("Last runs:")
    for r in status["last_runs"]:
        who = f" ({r['organisation']})" if r["organisation"] else ""
        lines.append(f"  #{r['id']} {r['job']}{who}: {r['status']} {r['finished_utc'] or ''}")
        if r["message"]:
            lines.append(f"      {r['message']}")
    return "\n".join(lines)

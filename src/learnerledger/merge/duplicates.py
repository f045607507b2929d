"""``duplicates``: find the organisation's contacts that are one of its learners, and record
what people decide about each pair.

A run of the job frame: it reads the contacts changed since the last pull (so the pairs are
found against what Xero holds now), matches every learner flagged for Xero against the other
contacts (``learnerledger.matching``; the learner's own contact, from the link table, is the
survivor and never a candidate, nor is a contact already absorbed into one by a merge), and
records the pairs with their scores and evidence.
Decisions (``confirmed``, ``rejected``) are kept across runs (``store/duplicates.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from learnerledger.errors import LearnerLedgerError
from learnerledger.jobs import Job, ProgressListener
from learnerledger.matching import MatchSettings, find_duplicates
from learnerledger.store import Store, links, mirror
from learnerledger.store import duplicates as pairs_repo
from learnerledger.store.duplicates import FoundPair, StoredPair
from learnerledger.store.learners import iter_learners
from learnerledger.text import count
from learnerledger.xero.mirror import pull_contacts
from learnerledger.xero.protocols import ContactReader

__all__ = ["JOB", "DuplicatesReport", "decide", "find_duplicates_job"]

JOB = "find duplicates"


@dataclass
class DuplicatesReport:
    organisation: str
    status: str = "running"  # succeeded | paused | failed
    run_id: int | None = None
    calls: int = 0
    message: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    pairs: list[StoredPair] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "organisation": self.organisation,
            "status": self.status,
            "run_id": self.run_id,
            "calls": self.calls,
            "message": self.message,
            "counts": self.counts,
            "pairs": [p.as_json() for p in self.pairs],
        }


def find_duplicates_job(
    store: Store,
    client: ContactReader,
    *,
    settings: MatchSettings | None = None,
    on_progress: ProgressListener | None = None,
) -> DuplicatesReport:
    """Find and record the organisation's duplicate pairs; returns every pair now stored."""
    connection_id = client.connection.id
    report = DuplicatesReport(client.organisation)
    with Job(
        store,
        JOB,
        connection_id=connection_id,
        organisation=client.organisation,
        calls=lambda: client.calls,
        on_progress=on_progress,
    ) as job:
        report.run_id = job.run_id
        pulled = pull_contacts(store, client)
        if pulled.paused is not None:
            raise pulled.paused
        with store.read() as conn:
            learners = [x for x in iter_learners(conn) if x.sync_to_xero]
            index = mirror.load_contact_index(conn, connection_id)
            linked, _ = links.load_links(conn, connection_id)
            absorbed = links.load_absorbed(conn, connection_id)
        # A contact already merged into a learner's (or emptied by a swap) is settled.
        candidates = [c for c in index.by_id.values() if c.contact_id not in absorbed]
        if settings is None:  # what `duplicates calibrate` fitted, else the defaults
            fitted = pairs_repo.fitted_settings(store, connection_id)
            settings = MatchSettings.from_json(fitted) if fitted is not None else None
        job.progress("matching", 0, len(learners))
        found = find_duplicates(learners, candidates, survivors=linked, settings=settings)
        job.progress("matching", len(learners), len(learners))
        saved = pairs_repo.save_found(
            store,
            connection_id,
            [
                FoundPair(
                    ref_internal=p.ref_internal,
                    contact_id=p.contact_id,
                    survivor_id=p.survivor_id,
                    score=p.score,
                    status=p.status,
                    evidence=p.as_json().get("evidence", []),
                    reasons=list(p.reasons),
                )
                for p in found
            ],
        )
        report.pairs = pairs_repo.list_pairs(store, connection_id)
        auto = sum(1 for p in found if p.status == "auto")
        report.counts = {
            "learners": len(learners),
            "contacts": len(index.by_id),
            "pairs": len(found),
            "auto": auto,
            "review": len(found) - auto,
            "new": saved.new,
            "forgotten": saved.forgotten,
            "decided": sum(1 for p in report.pairs if p.decision),
        }
        job.counts.update(report.counts)
        job.message = (
            f"{client.organisation}: {count(len(found), 'possible duplicate')} of "
            f"{count(len(learners), 'learner')} ({auto} auto, {len(found) - auto} to review); "
            f"{report.counts['decided']} decided."
        )
    report.status = str(job.outcome)
    report.calls = job.calls
    report.message = job.message
    return report


def decide(
    store: Store,
    connection_id: int,
    decision: str,
    *,
    pair: tuple[str, str] | None = None,
    all_auto: bool = False,
    min_score: float | None = None,
) -> int:
    """Confirm or reject one pair (RefInternal, ContactID), every undecided ``auto`` pair, or
    every undecided pair scoring at least ``min_score``; returns how many were decided."""
    if sum((pair is not None, all_auto, min_score is not None)) != 1:
        raise LearnerLedgerError(
            "Say which pairs to decide.",
            fix="Give one pair (REF CONTACT_ID), or --all-auto, or --min-score X.",
        )
    stored = pairs_repo.list_pairs(store, connection_id)
    if pair is not None:
        keys = [
            (p.ref_internal, p.contact_id) for p in stored if (p.ref_internal, p.contact_id) == pair
        ]
        if not keys:
            raise LearnerLedgerError(
                f"There is no pair of learner {pair[0]} and contact {pair[1]}.",
                fix="Run `learnerledger duplicates` to list the pairs and copy one from there.",
            )
    else:
        undecided: Sequence[StoredPair] = [p for p in stored if p.decision is None and p.found]
        if all_auto:
            keys = [(p.ref_internal, p.contact_id) for p in undecided if p.status == "auto"]
        else:
            assert min_score is not None
            keys = [(p.ref_internal, p.contact_id) for p in undecided if p.score >= min_score]
    return pairs_repo.decide(store, connection_id, keys, decision)

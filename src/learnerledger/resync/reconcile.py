"""``report reconcile``: learner by learner, what Xero holds against what the SMS holds.

Xero's side is read fresh (the contacts and the documents of the resync's range, into the
mirror, as a resync reads them); each sales invoice goes to its learner as the resync maps it.
The SMS side is what Wisenet holds, read back over its API (every invoice, a thousand to a
call; those Xero wrote, ``SourceAppKey`` "Xero", or that carry a Xero document's id), or, for a
CSV source, the local SMS side that ``export documents`` exports. Per learner the two sides'
outstanding totals (what approved invoices still ask for) and document counts are compared,
and every document on which they differ is a :class:`Mismatch` with its likely cause and what
to do about it.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from learnerledger.domain.documents import MirroredDocument
from learnerledger.jobs import Job, ProgressListener
from learnerledger.resync.budget import WisenetDayBudget
from learnerledger.resync.mapping import LearnerFinder, Match
from learnerledger.resync.run import (
    STREAMS,
    Scope,
    WisenetTarget,
    XeroDocuments,
    applied_to_invoices,
    learner_refs,
    resync_scope,
)
from learnerledger.resync.shape import SOURCE_APP_KEY, digest, outstanding, wisenet_invoice
from learnerledger.store import Store, links, mirror
from learnerledger.store import resync as held_store
from learnerledger.xero.mirror import pull_contacts, pull_documents

__all__ = ["JOB", "Mismatch", "Reconciliation", "Side", "reconcile"]

JOB = "report reconcile"
_ZERO = Decimal("0.00")
_CENT = Decimal("0.01")
_FIELDS = ("Status", "AmountTotal", "AmountDue")

# Likely causes, each with what to do.
_CAUSES = {
    "not_resynced": "Run learnerledger resync documents.",
    "removed_in_sms": "Run learnerledger resync documents --learner {ref} to write it again.",
    "wrong_learner": "Run learnerledger resync documents: it moves the document to {ref}.",
    "changed_in_xero": "Run learnerledger resync documents.",
    "changed_in_sms": "Run learnerledger resync documents --learner {ref} to put Xero's "
    "version back.",
    "not_a_learners": "The document belongs to no learner in Xero (an employer's, say): remove "
    "it from the learner in the SMS if it should not be there.",
    "outside_range": "Resync its dates (learnerledger resync documents --from ... --to ...), "
    "or leave it: it is older than the resync's range.",
    "not_in_xero": "Xero does not hold this document (an earlier integration left it, or it "
    "was typed in the SMS): delete it in the SMS if it is not owed.",
}


@dataclass(frozen=True)
class Side:
    """One side's view of a document."""

    ref_internal: str
    number: str | None
    status: str | None
    total: Decimal | None
    due: Decimal | None

    def value(self, name: str) -> Decimal | str | None:
        return {"Status": self.status, "AmountTotal": self.total, "AmountDue": self.due}[name]


@dataclass(frozen=True)
class Mismatch:
    ref_internal: str
    document_id: str
    number: str | None
    field: str  # Status | AmountTotal | AmountDue | learner | document
    xero: str | None
    sms: str | None
    cause: str
    fix: str

    def as_json(self) -> dict[str, str | None]:
        return {
            "ref_internal": self.ref_internal,
            "document_id": self.document_id,
            "number": self.number,
            "field": self.field,
            "xero": self.xero,
            "sms": self.sms,
            "cause": self.cause,
            "fix": self.fix,
        }


@dataclass
class _Totals:
    xero_outstanding: Decimal = _ZERO
    sms_outstanding: Decimal = _ZERO
    xero_documents: int = 0
    sms_documents: int = 0


@dataclass
class Reconciliation:
    organisation: str
    scope: Scope
    sms: str  # wisenet | csv
    totals: dict[str, _Totals] = field(default_factory=dict)
    mismatches: list[Mismatch] = field(default_factory=list)
    unmatched: int = 0  # Xero documents in range that belong to no learner (not compared)
    status: str = "succeeded"
    message: str = ""
    paused: Any = None

    def learners(self) -> list[dict[str, Any]]:
        return [
            {
                "ref_internal": ref,
                "xero_outstanding": str(t.xero_outstanding.quantize(_CENT)),
                "sms_outstanding": str(t.sms_outstanding.quantize(_CENT)),
                "xero_documents": t.xero_documents,
                "sms_documents": t.sms_documents,
            }
            for ref, t in sorted(self.totals.items())
        ]

    def as_json(self) -> dict[str, Any]:
        """The report's contract: ``mismatches`` (empty when both sides agree) and
        ``learners`` (per learner, the totals as Decimal strings and the counts)."""
        return {"mismatches": [m.as_json() for m in self.mismatches], "learners": self.learners()}


def _money(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    return Decimal(str(value)) if not isinstance(value, Decimal) else value


def _text(value: Decimal | str | None) -> str | None:
    return None if value is None else str(value)


class _Reconcile:
    def __init__(
        self, store: Store, xero: XeroDocuments, wisenet: WisenetTarget | None, job: Job
    ) -> None:
        self.store = store
        self.xero = xero
        self.wisenet = wisenet
        self.job = job
        self.connection_id = xero.connection.id

    def read_xero(self, scope: Scope, clock: Callable[[], float]) -> None:
        for report in (
            pull_contacts(self.store, self.xero, clock=clock),
            pull_documents(
                self.store,
                self.xero,
                streams=STREAMS,
                date_from=scope.date_from,
                date_to=None,
                clock=clock,
            ),
        ):
            if report.paused is not None:
                raise report.paused

    def xero_side(
        self, scope: Scope, finder: LearnerFinder, held: dict[str, held_store.Held]
    ) -> tuple[dict[str, Side], dict[str, str], set[str], int]:
        """The invoices in range that belong to a learner (and their digests as the resync
        would write them), every invoice id Xero holds, and how many belong to no one."""
        applied = applied_to_invoices(self.store, self.connection_id)
        sides: dict[str, Side] = {}
        digests: dict[str, str] = {}
        known: set[str] = set()
        unmatched = 0
        for chunk in mirror.iter_documents(self.store, self.connection_id, kinds=["invoice"]):
            for doc in chunk:
                key = doc.document_id.lower()
                known.add(key)
                kept = held.get(doc.document_id)
                if doc.type != "ACCREC" or not (
                    scope.holds(doc.date) or (kept is not None and kept.ref_internal)
                ):
                    continue
                found = finder.find(doc.contact_id)
                if not isinstance(found, Match):
                    unmatched += 1
                    continue
                sides[key] = _xero(doc, found.learner.ref_internal)
                sms = "wisenet" if found.learner.source == "wisenet" else "csv"
                learner_id = int(found.learner.sms_id) if found.learner.sms_id else None
                body = wisenet_invoice(
                    doc,
                    learner_id=learner_id if sms == "wisenet" else None,
                    applied=applied.get(key, ()),
                )
                digests[key] = digest(sms, found.learner.ref_internal, body.body)
        return sides, digests, known, unmatched

    def sms_side(self, finder: LearnerFinder, known: set[str]) -> Iterator[tuple[str, Side]]:
        if self.wisenet is None:
            for doc in held_store.iter_sms_documents(self.store, self.connection_id):
                yield (
                    doc.document_id.lower(),
                    Side(
                        doc.ref_internal, doc.number, doc.status, doc.amount_total, doc.amount_due
                    ),
                )
            return
        by_id = {
            learner.sms_id: learner.ref_internal
            for learner in finder.learners.values()
            if learner.source == "wisenet" and learner.sms_id
        }
        budget = WisenetDayBudget(
            self.store, self.wisenet.connection_id, self.wisenet.day_limit, self.wisenet.client
        )
        pages = self.wisenet.client.iter_invoices()
        try:
            while True:
                budget.check()
                page = next(pages, None)
                if page is None:
                    return
                for invoice in page:
                    invoice_id = str(invoice.get("InvoiceId") or "").lower()
                    source = str(invoice.get("SourceAppKey") or "")
                    if source.casefold() != SOURCE_APP_KEY.casefold() and invoice_id not in known:
                        continue  # the SMS's own invoices are not Xero's to compare
                    learner = str(invoice.get("LearnerId"))
                    yield (
                        invoice_id,
                        Side(
                            by_id.get(learner, f"LearnerId {learner}"),
                            invoice.get("InvoiceNumber"),
                            invoice.get("Status"),
                            _money(invoice.get("AmountTotal")),
                            _money(invoice.get("AmountDue")),
                        ),
                    )
                self.job.progress("reading the SMS", 0)
        finally:
            budget.save()


def _xero(doc: MirroredDocument, ref: str) -> Side:
    return Side(ref, doc.number, doc.status, doc.total, doc.amount_due)


def _compare(
    result: Reconciliation,
    xero: dict[str, Side],
    sms: dict[str, Side],
    digests: dict[str, str],
    known: set[str],
    held: dict[str, held_store.Held],
) -> None:
    held_by_key = {k.lower(): v for k, v in held.items()}

    def add(ref: str, key: str, side: Side, name: str, x: Any, s: Any, cause: str) -> None:
        target = xero[key].ref_internal if key in xero else ref
        result.mismatches.append(
            Mismatch(
                ref,
                key,
                side.number,
                name,
                _text(x),
                _text(s),
                cause,
                _CAUSES[cause].format(ref=target),
            )
        )

    for key in sorted(set(xero) | set(sms)):
        x, s = xero.get(key), sms.get(key)
        kept = held_by_key.get(key)
        if x is not None and s is None:
            written = kept is not None and kept.ref_internal == x.ref_internal
            add(
                x.ref_internal,
                key,
                x,
                "document",
                x.number,
                None,
                "removed_in_sms" if written else "not_resynced",
            )
            continue
        if s is not None and x is None:
            if key not in known:
                cause = "not_in_xero"
            elif kept is not None and kept.ref_internal:
                cause = "not_a_learners"
            else:
                cause = "outside_range"
            add(s.ref_internal, key, s, "document", None, s.number, cause)
            continue
        assert x is not None
        assert s is not None
        if x.ref_internal != s.ref_internal:
            add(s.ref_internal, key, s, "learner", x.ref_internal, s.ref_internal, "wrong_learner")
            continue
        changed_in_xero = kept is None or kept.body_hash != digests.get(key)
        for name in _FIELDS:
            if x.value(name) != s.value(name):
                cause = "changed_in_xero" if changed_in_xero else "changed_in_sms"
                add(x.ref_internal, key, x, name, x.value(name), s.value(name), cause)


def reconcile(
    store: Store,
    xero: XeroDocuments,
    *,
    wisenet: WisenetTarget | None = None,
    on_progress: ProgressListener | None = None,
    clock: Callable[[], float] = time.time,
) -> Reconciliation:
    """Compare Xero and the SMS learner by learner (see the module's docstring). A spent
    budget (Xero's, or Wisenet's day quota) ends it ``paused``, like any job."""
    connection_id = xero.connection.id
    today = datetime.fromtimestamp(clock(), UTC).date()
    scope = resync_scope(store, connection_id, today)
    result = Reconciliation(xero.organisation, scope, "wisenet" if wisenet else "csv")
    before = xero.calls + (wisenet.client.calls if wisenet else 0)
    job = Job(
        store,
        JOB,
        connection_id=connection_id,
        organisation=xero.organisation,
        calls=lambda: xero.calls + (wisenet.client.calls if wisenet else 0) - before,
        on_progress=on_progress,
    )
    with job:
        work = _Reconcile(store, xero, wisenet, job)
        job.progress("reading Xero", 0)
        work.read_xero(scope, clock)
        with store.read() as conn:
            contacts = mirror.load_contact_index(conn, connection_id)
            linked = links.load_contact_learners(conn, connection_id)
        finder = LearnerFinder(contacts, linked, learner_refs(store))
        held = held_store.load_held(store, connection_id)
        x, digests, known, result.unmatched = work.xero_side(scope, finder, held)
        s = dict(work.sms_side(finder, known))
        for side in x.values():
            totals = result.totals.setdefault(side.ref_internal, _Totals())
            totals.xero_documents += 1
            totals.xero_outstanding += outstanding(side.status, side.due)
        for side in s.values():
            totals = result.totals.setdefault(side.ref_internal, _Totals())
            totals.sms_documents += 1
            totals.sms_outstanding += outstanding(side.status, side.due)
        _compare(result, x, s, digests, known, held)
        job.counts.update({"learners": len(result.totals), "mismatches": len(result.mismatches)})
        result.message = (
            f"{len(result.totals)} learners compared, {len(result.mismatches)} mismatches"
            f" ({result.unmatched} documents in range belong to no learner and are not compared)."
        )
        job.message = result.message
    if job.paused is not None:
        result.status, result.paused = "paused", job.paused
        result.message = str(job.paused)
    return result


# The columns of ``learnerledger report reconcile --csv``, one row per learner.
CSV_COLUMNS = (
    "ref_internal",
    "xero_outstanding",
    "sms_outstanding",
    "xero_documents",
    "sms_documents",
    "mismatches",
    "causes",
)


def reconciliation_csv(result: Reconciliation) -> str:
    """The reconciliation as CSV (``report reconcile --csv`` and the web UI's download): one
    row per learner, with the number of mismatches and their causes."""
    causes: dict[str, list[str]] = {}
    for mismatch in result.mismatches:
        causes.setdefault(mismatch.ref_internal, []).append(mismatch.cause)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for learner in result.learners():
        found = causes.get(learner["ref_internal"], [])
        writer.writerow(
            (
                learner["ref_internal"],
                learner["xero_outstanding"],
                learner["sms_outstanding"],
                learner["xero_documents"],
                learner["sms_documents"],
                len(found),
                " ".join(sorted(set(found))),
            )
        )
    return out.getvalue()

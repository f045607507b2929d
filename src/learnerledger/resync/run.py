"""``resync documents``: Xero's sales invoices, with their payments and credits, written to the
learners in the SMS; only what changed, exactly once.

A run, on the job frame (``learnerledger.jobs``):

1. reads what changed in Xero into the local mirror: the contacts (merges included), then the
   invoices, credit notes, prepayments and overpayments dated in the run's range (payments come
   with the invoices they pay). Without a range the resync reads incrementally, one cursor per
   stream, from the first run's start (one year before the organisation was connected); a run
   with ``--from``/``--to`` reads that range under cursors of its own and never moves those;
2. settles the writes an earlier run sent without seeing the answer (killed, connection lost):
   each is read back from Wisenet and counts as done if Wisenet holds it;
3. maps every invoice in range to its learner (``resync.mapping``), shapes it for Wisenet
   (``resync.shape``) and compares its digest with the stored one: an unchanged document is
   neither written nor read; a new or changed one is written (``PUT /invoices/{InvoiceID}`` on
   its learner, which also takes it off a learner it was on before); one that belongs to no
   learner any more is removed from the learner it was on. A CSV source's documents go to the
   local store instead (``learnerledger export documents --csv``);
4. lists what maps to no learner and what Wisenet v1 cannot hold, and ends with a summary.

Each write is recorded as pending before it is sent and as done after, in batches; Wisenet's
day quota is counted (``resync.budget``) and the run pauses before going over it, like on a
spent Xero budget: the next run carries on. A dry run reads Xero into the mirror (a copy, not
a write), writes nothing to the SMS, and says what the run would write and whether today's
budgets allow it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any, Protocol

from learnerledger.domain.documents import MirroredDocument
from learnerledger.errors import (
    BudgetSpent,
    LearnerLedgerError,
    SourceError,
    WisenetAuthError,
    WisenetError,
)
from learnerledger.jobs import Job, ProgressListener
from learnerledger.resync.budget import WisenetDayBudget, next_reset
from learnerledger.resync.mapping import LearnerFinder, LearnerRef, Match, NoMatch
from learnerledger.resync.shape import (
    CREDIT_KINDS,
    Applied,
    allocations,
    canonical,
    digest,
    open_credit,
    wisenet_invoice,
)
from learnerledger.store import Store, links, mirror
from learnerledger.store import connections as stored_connections
from learnerledger.store import resync as held_store
from learnerledger.store.learners import iter_learners
from learnerledger.store.resync import Held, Pending, SmsDocument, Written
from learnerledger.xero.mirror import pull_contacts, pull_documents
from learnerledger.xero.protocols import ContactReader, DocumentReader
from learnerledger.xero.wire import dumps

__all__ = [
    "JOB",
    "STREAMS",
    "ResyncReport",
    "Scope",
    "WisenetInvoices",
    "WisenetTarget",
    "XeroDocuments",
    "applied_to_invoices",
    "learner_refs",
    "resync_documents",
    "resync_scope",
]

JOB = "resync documents"
# The Xero streams a resync reads; payments come with the invoices they pay.
STREAMS = ("invoices", "credit_notes", "prepayments", "overpayments")
LISTED = 1000  # unmatched and not-representable documents kept in a report (all are counted)
_CHUNK = 500  # documents read from the mirror and planned together
# Writes marked pending, sent and recorded together: after a crash at most this many are read
# back from Wisenet to settle them.
WRITE_BATCH = 50


class XeroDocuments(ContactReader, DocumentReader, Protocol):
    """What the resync reads from Xero: contacts and documents, paged and incremental."""


class WisenetInvoices(Protocol):
    """What the resync needs of Wisenet (``WisenetClient`` has it)."""

    calls: int

    def put_invoice(self, invoice_id: str, invoice: Mapping[str, Any]) -> dict[str, Any]: ...

    def delete_invoice(self, invoice_id: str) -> bool: ...

    def get_invoice(self, invoice_id: str) -> dict[str, Any] | None: ...

    def iter_invoices(self, *, learner_id: int | None = None) -> Iterator[list[dict[str, Any]]]: ...


@dataclass
class WisenetTarget:
    """The Wisenet side: its client, its connection (whose day quota is counted) and the
    plan's calls per day."""

    client: WisenetInvoices
    connection_id: int
    day_limit: int


@dataclass(frozen=True)
class Scope:
    """The documents a run covers: dated ``date_from`` to ``date_to``; ``incremental`` when no
    range was given (the resync's own cursors; documents written before stay looked after)."""

    date_from: date
    date_to: date
    incremental: bool
    first: bool

    def holds(self, day: date | None) -> bool:
        return day is None or self.date_from <= day <= self.date_to

    def as_json(self) -> dict[str, Any]:
        return {
            "from": self.date_from.isoformat(),
            "to": self.date_to.isoformat(),
            "incremental": self.incremental,
            "first": self.first,
        }


@dataclass
class ResyncReport:
    """What a resync did (or, dry, would do); the run record holds the same counts."""

    organisation: str
    scope: Scope
    dry_run: bool
    status: str = "running"  # planned | succeeded | paused | failed
    run_id: int | None = None
    written: int = 0  # new in the SMS
    updated: int = 0  # changed there
    moved: int = 0  # of those, now on another learner
    removed: int = 0  # taken off a learner they no longer belong to
    unchanged: int = 0
    refused: int = 0  # the SMS refused them (see problems)
    settled: int = 0  # writes of an earlier run found done
    left: int = 0  # writes a pause left for the next run
    unmatched_count: int = 0
    not_representable_count: int = 0
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    not_representable: list[dict[str, Any]] = field(default_factory=list)
    xero_calls: int = 0
    wisenet_calls: int = 0
    budget: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    paused: BudgetSpent | None = None

    @property
    def mismatches(self) -> int:
        """Documents the SMS does not hold as Xero has them once the run is over: what a dry
        run would write; what a run could not (refused, or left by a pause)."""
        if self.dry_run:
            return self.written + self.updated + self.moved + self.removed
        return self.refused + self.left

    def counts(self) -> dict[str, int]:
        return {
            "written": self.written,
            "updated": self.updated,
            "moved": self.moved,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "unmatched": self.unmatched_count,
            "not_representable": self.not_representable_count,
            "refused": self.refused,
            "settled": self.settled,
            "left": self.left,
            "mismatches": self.mismatches,
            "xero_calls": self.xero_calls,
            "wisenet_calls": self.wisenet_calls,
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "dry_run": self.dry_run,
            "organisation": self.organisation,
            "run_id": self.run_id,
            "range": self.scope.as_json(),
            "counts": self.counts(),
            "budget": self.budget,
            "unmatched": self.unmatched,
            "not_representable": self.not_representable,
            "message": self.message,
        }


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _state_key(connection_id: int) -> str:
    return f"resync:{connection_id}"


def _stored_floor(store: Store, connection_id: int) -> date | None:
    raw = store.get_meta(_state_key(connection_id))
    try:
        value = json.loads(raw).get("floor") if raw else None
        return date.fromisoformat(value) if isinstance(value, str) else None
    except (ValueError, AttributeError):
        return None


def resync_scope(
    store: Store,
    connection_id: int,
    today: date,
    date_from: date | None = None,
    date_to: date | None = None,
) -> Scope:
    """The range a run covers. Without dates: from the first run's start (one year before the
    organisation was connected) to today, incrementally; with dates, that range (a missing
    end is the first run's start, or today)."""
    floor = _stored_floor(store, connection_id)
    first = floor is None
    if floor is None:
        connected = stored_connections.connected_utc(store, connection_id)
        floor = _year_before(connected.astimezone(UTC).date() if connected else today)
    if date_from is None and date_to is None:
        return Scope(floor, today, incremental=True, first=first)
    start = date_from or floor
    end = date_to or today
    if start > end:
        raise LearnerLedgerError(
            f"The date range {start}..{end} is empty.", fix="Give --from on or before --to."
        )
    return Scope(start, end, incremental=False, first=first)


def applied_to_invoices(store: Store, connection_id: int) -> dict[str, list[Applied]]:
    """InvoiceID (lower case) -> the allocations of credit notes, prepayments and overpayments
    to it, from the credits' own records (which say on which day each was applied)."""
    applied: dict[str, list[Applied]] = {}
    for chunk in mirror.iter_documents(store, connection_id, kinds=list(CREDIT_KINDS)):
        for credit in chunk:
            for invoice_id, allocation in allocations(credit):
                applied.setdefault(invoice_id, []).append(allocation)
    return applied


def learner_refs(store: Store) -> dict[str, LearnerRef]:
    """Every learner the store holds, by RefInternal, as the resync needs it."""
    with store.read() as conn:
        return {
            learner.ref_internal: LearnerRef(
                learner.ref_internal, learner.source, learner.source_id
            )
            for learner in iter_learners(conn)
        }


# -- the steps of a run --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Step:
    """One write to one SMS: ``put`` the document on a learner, or ``delete`` it."""

    document_id: str
    label: str  # how a person finds it: "invoice INV-0042"
    action: str  # put | delete
    sms: str  # wisenet | csv
    ref_internal: str | None
    body: Mapping[str, Any] | None = None
    body_hash: str | None = None
    counted_as: str = ""  # written | updated | moved | removed ("" for the first of a pair)
    doc: MirroredDocument | None = None

    def pending(self) -> Pending:
        return Pending(self.document_id, self.action, self.sms, self.ref_internal, self.body_hash)

    def written(self) -> Written:
        local = None
        if self.sms == "csv" and self.action == "put" and self.doc is not None:
            local = _local_copy(self.doc, self.ref_internal or "", self.body or {})
        return Written(
            self.document_id, self.action, self.sms, self.ref_internal, self.body_hash, local
        )


def _local_copy(doc: MirroredDocument, ref: str, body: Mapping[str, Any]) -> SmsDocument:
    return SmsDocument(
        document_id=doc.document_id,
        ref_internal=ref,
        number=doc.number,
        status=doc.status,
        date=doc.date,
        amount_total=doc.total,
        amount_due=doc.amount_due,
        body=dumps({**body, "RefInternal": ref}),  # amounts as JSON numbers, digit for digit
    )


def _label(doc: MirroredDocument) -> str:
    kind = doc.kind.replace("_", " ")
    return f"{kind} {doc.number}" if doc.number else f"{kind} {doc.document_id}"


class _Run:
    """One resync's moving parts."""

    def __init__(
        self,
        store: Store,
        xero: XeroDocuments,
        wisenet: WisenetTarget | None,
        job: Job,
        report: ResyncReport,
        chosen: set[str] | None,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.xero = xero
        self.wisenet = wisenet
        self.job = job
        self.report = report
        self.chosen = chosen
        self.clock = clock
        self.connection_id = xero.connection.id
        self.budget: WisenetDayBudget | None = None
        if wisenet is not None:
            self.budget = WisenetDayBudget(
                store,
                wisenet.connection_id,
                wisenet.day_limit,
                wisenet.client,
                now=lambda: datetime.fromtimestamp(clock(), UTC),
            )
        self.held: dict[str, Held] = {}
        self.applied: dict[str, list[Applied]] = {}
        self.in_sms: dict[str, dict[str, Any]] = {}  # --learner: what Wisenet holds of them
        self.needed_calls = 0
        self.done = 0

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- reading ------------------------------------------------------------------------------

    def read_xero(self) -> None:
        scope = self.report.scope
        pulled = pull_contacts(self.store, self.xero, clock=self.clock)
        if pulled.paused is not None:
            raise pulled.paused
        read = pull_documents(
            self.store,
            self.xero,
            streams=STREAMS,
            date_from=scope.date_from,
            date_to=None if scope.incremental else scope.date_to,
            clock=self.clock,
        )
        if read.paused is not None:
            raise read.paused
        for problem in [*pulled.problems, *read.problems]:
            self.job.problem(**problem)

    def finder(self) -> LearnerFinder:
        with self.store.read() as conn:
            contacts = mirror.load_contact_index(conn, self.connection_id)
            linked = links.load_contact_learners(conn, self.connection_id)
        return LearnerFinder(contacts, linked, learner_refs(self.store))

    def read_sms(self, finder: LearnerFinder) -> None:
        """``--learner``: what Wisenet holds on the chosen learners, so that a copy changed
        there (by hand, by another tool) is written again even though Xero did not change."""
        if self.wisenet is None or not self.chosen or self.budget is None:
            return
        for ref in sorted(self.chosen):
            learner = finder.learners.get(ref.casefold())
            if learner is None or learner.source != "wisenet" or not learner.sms_id:
                continue
            self.budget.check()
            for page in self.wisenet.client.iter_invoices(learner_id=int(learner.sms_id)):
                for invoice in page:
                    invoice_id = str(invoice.get("InvoiceId") or "").lower()
                    if invoice_id:
                        self.in_sms[invoice_id] = invoice
        self.budget.save()

    # -- settling what an earlier run left pending ---------------------------------------------

    def settle(self) -> None:
        pending = [
            h for h in held_store.load_held(self.store, self.connection_id).values() if h.pending
        ]
        if not pending:
            return
        self.job.progress("settling", 0, len(pending), note="reading back unanswered writes")
        done: list[Written] = []
        undone: list[str] = []
        try:
            for number, held in enumerate(pending, start=1):
                if self._settled(held):
                    done.append(
                        Written(
                            held.document_id,
                            held.pending or "put",
                            held.pending_sms or held.sms,
                            held.pending_ref,
                            held.pending_hash,
                        )
                    )
                else:
                    undone.append(held.document_id)
                self.job.progress("settling", number, len(pending))
        finally:
            with self.store.transaction() as conn:
                held_store.record_written(conn, self.connection_id, done, now_ms=self.now_ms())
                held_store.clear_pending(conn, self.connection_id, undone)
            self.report.settled += len(done)
            if self.budget is not None:
                self.budget.save()

    def _settled(self, held: Held) -> bool:
        """Whether the SMS holds what the pending write of ``held`` was to do."""
        if held.pending_sms != "wisenet":
            return False  # a CSV source's writes are local: never left pending
        if self.wisenet is None or self.budget is None:
            raise _no_wisenet(held.document_id)
        self.budget.check()
        found = self.wisenet.client.get_invoice(held.document_id)
        if held.pending == "delete":
            return found is None
        return found is not None and held.pending_hash == digest(
            "wisenet", held.pending_ref or "", found
        )

    # -- planning -------------------------------------------------------------------------------

    def read_credits(self, finder: LearnerFinder) -> None:
        """What each invoice had applied to it (from the credits' own records), and the open
        credit that Wisenet v1 cannot hold (listed)."""
        self.applied = applied_to_invoices(self.store, self.connection_id)
        scope = self.report.scope
        for chunk in mirror.iter_documents(
            self.store, self.connection_id, kinds=list(CREDIT_KINDS)
        ):
            for credit in chunk:
                if not scope.holds(credit.date):
                    continue
                note = open_credit(credit)
                if note is None:
                    continue
                found = finder.find(credit.contact_id)
                if isinstance(found, NoMatch):
                    if self._chosen(None, None):
                        self._unmatched(credit, found)
                elif self._chosen(found.learner.ref_internal, None):
                    self._unrepresentable(
                        credit, found.learner.ref_internal, note.code, note.message
                    )

    def _chosen(self, ref: str | None, held: Held | None) -> bool:
        if self.chosen is None:
            return True
        return (ref is not None and ref in self.chosen) or (
            held is not None and held.ref_internal in self.chosen
        )

    def in_scope(self, doc: MirroredDocument) -> bool:
        """A sales invoice dated in the run's range (or, incrementally, one written before)."""
        if doc.type != "ACCREC":
            return False
        if self.report.scope.holds(doc.date):
            return True
        held = self.held.get(doc.document_id)
        return self.report.scope.incremental and held is not None and held.ref_internal is not None

    def plan(self, doc: MirroredDocument, finder: LearnerFinder) -> list[_Step]:
        """The writes that bring the SMS in step with one invoice (none when it is)."""
        held = self.held.get(doc.document_id)
        found = finder.find(doc.contact_id)
        ref = found.learner.ref_internal if isinstance(found, Match) else None
        if not self._chosen(ref, held):
            return []
        label = _label(doc)
        if isinstance(found, NoMatch):
            self._unmatched(doc, found)
            if held is not None and held.ref_internal is not None:
                return [
                    _Step(
                        doc.document_id,
                        label,
                        "delete",
                        held.sms,
                        held.ref_internal,
                        counted_as="removed",
                        doc=doc,
                    )
                ]
            return []
        learner = found.learner
        sms = "wisenet" if learner.source == "wisenet" else "csv"
        learner_id = int(learner.sms_id) if sms == "wisenet" and learner.sms_id else None
        shaped = wisenet_invoice(
            doc, learner_id=learner_id, applied=self.applied.get(doc.document_id.lower(), ())
        )
        for note in shaped.notes:
            self._unrepresentable(doc, learner.ref_internal, note.code, note.message)
        body_hash = digest(sms, learner.ref_internal, shaped.body)
        same = (
            held is not None
            and held.sms == sms
            and held.ref_internal == learner.ref_internal
            and held.body_hash == body_hash
        )
        if sms == "wisenet" and self.chosen is not None:
            # --learner: what Wisenet holds decides (it may have been changed there).
            copy = self.in_sms.get(doc.document_id.lower())
            if same and copy is not None and canonical(copy) == canonical(shaped.body):
                self.report.unchanged += 1
                return []
        elif same:
            self.report.unchanged += 1
            return []
        if held is None or held.ref_internal is None:
            counted = "written"
        elif held.ref_internal != learner.ref_internal or held.sms != sms:
            counted = "moved"
        else:
            counted = "updated"
        steps = []
        if held is not None and held.ref_internal is not None and held.sms != sms:
            steps.append(
                _Step(doc.document_id, label, "delete", held.sms, held.ref_internal, doc=doc)
            )
        steps.append(
            _Step(
                doc.document_id,
                label,
                "put",
                sms,
                learner.ref_internal,
                body=shaped.body,
                body_hash=body_hash,
                counted_as=counted,
                doc=doc,
            )
        )
        return steps

    def _unmatched(self, doc: MirroredDocument, found: NoMatch) -> None:
        self.report.unmatched_count += 1
        contact = found.contact_name
        if contact is None and found.contact_id:
            contact = str((doc.data.get("Contact") or {}).get("Name") or "") or None
        entry = {
            "document_id": doc.document_id,
            "kind": doc.kind,
            "number": doc.number,
            "status": doc.status,
            "contact_id": found.contact_id,
            "contact": contact,
            "code": found.code,
            "reason": found.reason,
        }
        if len(self.report.unmatched) < LISTED:
            self.report.unmatched.append(entry)
        self.job.problem(_label(doc), found.code, found.reason, field="Contact")

    def _unrepresentable(self, doc: MirroredDocument, ref: str, code: str, message: str) -> None:
        self.report.not_representable_count += 1
        entry = {
            "document_id": doc.document_id,
            "kind": doc.kind,
            "number": doc.number,
            "ref_internal": ref,
            "code": code,
            "message": message,
        }
        if len(self.report.not_representable) < LISTED:
            self.report.not_representable.append(entry)
        self.job.problem(_label(doc), code, f"{ref}: {message}")

    # -- applying -------------------------------------------------------------------------------

    def count(self, step: _Step) -> None:
        if step.counted_as:
            setattr(self.report, step.counted_as, getattr(self.report, step.counted_as) + 1)

    def apply(self, steps: Sequence[_Step]) -> None:
        """Send one chunk's writes, in order: each marked pending first, recorded done after;
        a refusal is a problem and the rest go on; a pause records what was done and stops.
        A write whose answer was lost stays pending, for the next run to settle."""
        remote = [s for s in steps if s.sms == "wisenet"]
        with self.store.transaction() as conn:
            held_store.mark_pending(conn, self.connection_id, [s.pending() for s in remote])
        done: list[_Step] = []
        not_done: list[_Step] = []  # refused, or never sent
        try:
            for index, step in enumerate(steps):
                if step.sms == "csv":
                    done.append(step)  # the local store is the SMS side: written below
                    continue
                try:
                    self._send(step)
                except (BudgetSpent, WisenetAuthError):
                    not_done.extend(s for s in steps[index:] if s.sms == "wisenet")
                    self.report.left += len(steps) - index
                    raise
                except WisenetError as exc:
                    if exc.status is not None and 400 <= exc.status < 500:
                        not_done.append(step)
                        self._refused(step, exc)
                        continue
                    not_done.extend(s for s in steps[index + 1 :] if s.sms == "wisenet")
                    self.report.left += len(steps) - index
                    raise
                except SourceError as exc:  # the document cannot be put in Wisenet's shape
                    not_done.append(step)
                    self._refused(step, exc)
                    continue
                done.append(step)
        finally:
            with self.store.transaction() as conn:
                held_store.record_written(
                    conn, self.connection_id, [s.written() for s in done], now_ms=self.now_ms()
                )
                held_store.clear_pending(
                    conn, self.connection_id, sorted({s.document_id for s in not_done})
                )
            for step in done:
                self.count(step)
                self._remember(step)
            if self.budget is not None:
                self.budget.save()

    def _send(self, step: _Step) -> None:
        if self.wisenet is None or self.budget is None:
            raise _no_wisenet(step.document_id)
        self.budget.check()
        client = self.wisenet.client
        if step.action == "put":
            client.put_invoice(step.document_id, step.body or {})
        else:
            client.delete_invoice(step.document_id)
        self.done += 1
        self.job.progress("writing", self.done, note=step.label)

    def _refused(self, step: _Step, exc: SourceError) -> None:
        self.report.refused += 1
        said = exc.body if isinstance(exc, WisenetError) and exc.body else exc.message
        self.job.problem(
            step.label,
            "sms_refused",
            f"Wisenet refused {step.label} for learner {step.ref_internal}: {said}",
            fix="Correct what Wisenet names (in Xero, or the learner in Wisenet), then resync: "
            "the document is written then.",
        )

    def _remember(self, step: _Step) -> None:
        if step.action == "put":
            self.held[step.document_id] = Held(
                step.document_id, step.sms, step.ref_internal, step.body_hash
            )
        else:
            old = self.held.get(step.document_id)
            if old is not None:
                self.held[step.document_id] = replace(old, ref_internal=None, body_hash=None)


def _no_wisenet(document_id: str) -> LearnerLedgerError:
    return LearnerLedgerError(
        f"The document {document_id} belongs to a learner from Wisenet, but no Wisenet "
        "connection is stored.",
        fix="Run learnerledger connect wisenet --api-key KEY, then resync.",
    )


def _summary(report: ResyncReport) -> str:
    c = report.counts()
    scope = report.scope
    span = f"{scope.date_from}..{scope.date_to}"
    verb = "would be written" if report.dry_run else "written"
    parts = [
        f"{c['written'] + c['updated'] + c['moved']} documents {verb} "
        f"({c['written']} new, {c['updated']} changed, {c['moved']} moved to another learner)",
        f"{c['removed']} removed from a learner they no longer belong to",
        f"{c['unchanged']} unchanged",
        f"{c['unmatched']} unmatched",
        f"{c['not_representable']} not representable in Wisenet v1",
        f"{c['mismatches']} mismatches",
    ]
    text = (
        f"Resync for {report.organisation!r} ({span}{', incremental' if scope.incremental else ''}"
        "): " + "; ".join(parts) + f". {c['xero_calls']} calls to Xero, "
        f"{c['wisenet_calls']} to Wisenet."
    )
    if c["refused"]:
        text += f" Wisenet refused {c['refused']} (see the problems)."
    if c["settled"]:
        text += f" {c['settled']} writes of an earlier run were found done."
    return text


def resync_documents(
    store: Store,
    xero: XeroDocuments,
    *,
    wisenet: WisenetTarget | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    learners: Sequence[str] = (),
    dry_run: bool = False,
    on_progress: ProgressListener | None = None,
    clock: Callable[[], float] = time.time,
) -> ResyncReport:
    """Write Xero's sales invoices (with their payments and credits) to the learners in the
    SMS: see the module's docstring. ``learners`` limits the run to those RefInternals (and
    reads what Wisenet holds of them, so that changes made there are put right)."""
    connection_id = xero.connection.id
    today = datetime.fromtimestamp(clock(), UTC).date()
    scope = resync_scope(store, connection_id, today, date_from, date_to)
    chosen = _chosen_learners(store, learners) if learners else None
    report = ResyncReport(xero.organisation, scope, dry_run)
    xero_before = xero.calls
    wisenet_before = wisenet.client.calls if wisenet else 0

    def used() -> tuple[int, int]:
        return xero.calls - xero_before, (wisenet.client.calls - wisenet_before if wisenet else 0)

    job = Job(
        store,
        JOB,
        connection_id=connection_id,
        organisation=xero.organisation,
        calls=lambda: sum(used()),
        on_progress=on_progress,
        record=not dry_run,
    )
    with job:
        report.run_id = job.run_id
        run = _Run(store, xero, wisenet, job, report, chosen, clock)
        try:
            _resync(run, dry_run)
        finally:
            report.xero_calls, report.wisenet_calls = used()
            job.counts.update(report.counts())
            report.message = _summary(report)
            job.message = report.message
    if job.paused is not None:
        report.status = "paused"
        report.paused = job.paused
        report.message = f"{report.message} Paused: {job.paused}"
    else:
        report.status = "planned" if dry_run else "succeeded"
    return report


def _chosen_learners(store: Store, refs: Sequence[str]) -> set[str]:
    known = learner_refs(store)
    by_fold = {ref.casefold(): ref for ref in known}
    missing = [r for r in refs if r.casefold() not in by_fold]
    if missing:
        raise LearnerLedgerError(
            f"No learner has the RefInternal {', '.join(missing)}.",
            fix="Give RefInternals of learners in the store (learnerledger status counts them; "
            "pull or import the learners first).",
        )
    return {by_fold[r.casefold()] for r in refs}


def _resync(run: _Run, dry_run: bool) -> None:
    store, report = run.store, run.report
    if not dry_run and report.scope.first:
        store.set_meta(
            _state_key(run.connection_id),
            json.dumps({"floor": report.scope.date_from.isoformat()}),
        )
    run.job.progress("reading Xero", 0)
    run.read_xero()
    if not dry_run:
        run.settle()
    run.held = held_store.load_held(store, run.connection_id)
    finder = run.finder()
    run.read_sms(finder)
    run.read_credits(finder)
    checked = 0
    stopped: BudgetSpent | None = None  # a spent budget: the rest is only counted
    for chunk in mirror.iter_documents(store, run.connection_id, kinds=["invoice"], batch=_CHUNK):
        steps: list[_Step] = []
        for doc in chunk:
            if not run.in_scope(doc):
                continue
            checked += 1
            steps.extend(run.plan(doc, finder))
        run.needed_calls += sum(1 for s in steps if s.sms == "wisenet")
        if dry_run:
            for step in steps:
                run.count(step)
        elif stopped is not None:
            report.left += len(steps)
        else:
            for start in range(0, len(steps), WRITE_BATCH):
                try:
                    run.apply(steps[start : start + WRITE_BATCH])
                except BudgetSpent as exc:
                    stopped = exc
                    report.left += max(0, len(steps) - (start + WRITE_BATCH))
                    break
        run.job.progress("documents", checked, detail={"writes": run.needed_calls})
    report.budget = _budget(run, dry_run)
    if stopped is not None:
        raise stopped


def _budget(run: _Run, dry_run: bool) -> dict[str, Any]:
    """What the run needs of each day budget and what is left (a dry run says whether the run
    would pause)."""
    snapshot = run.xero.budget.snapshot()
    out: dict[str, Any] = {
        "xero": {"day_left": snapshot.day_remaining, "day_limit": run.xero.budget.limits.day}
    }
    if run.budget is not None:
        left = run.budget.left
        needed = run.needed_calls if dry_run else 0
        pauses = dry_run and needed > left
        out["wisenet"] = {
            "calls_needed": needed,
            "day_left": left,
            "day_limit": run.budget.limit,
            "pauses": pauses,
            "resets_at": next_reset(datetime.fromtimestamp(run.clock(), UTC)).isoformat(),
        }
    return out

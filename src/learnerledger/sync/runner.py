"""``sync learners``: plan, journal, apply, exactly once.

A run (1) finishes any earlier run's journal, (2) reads the contacts changed since the last
read into the mirror, (3) plans, (4) stores the plan's writes as journal steps, (5) sends them
in batches of up to 50, recording each item's own result together with the learner's link in
one transaction, and (6) checks that nothing but its own writes changed in Xero meanwhile, so
that the next run's read starts after them.

Exactly once: a step is marked ``sent`` before its request goes out. If the answer is lost
(a timeout, a dropped connection, the process killed), the step's outcome is unknown; before
anything is sent again the contacts changed since are read and the step is settled by what
Xero holds: found by its ContactNumber (a create) or with the sent fields (an update), it is
done; otherwise it is sent again. Requests carry deterministic Idempotency-Keys, so a retry
within Xero's six-minute window replays the first answer.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from learnerledger.domain.contact import ContactMapping, diff_contact
from learnerledger.domain.mirror import ContactIndex, MirroredContact
from learnerledger.domain.states import PlanState
from learnerledger.errors import BudgetSpent, ServerError, TransientError, UnexpectedResponse
from learnerledger.jobs import Job, ProgressListener, note_waits
from learnerledger.matching import MatchSettings
from learnerledger.store import Store, cursors, links, mirror
from learnerledger.store import duplicates as pairs_repo
from learnerledger.store import journal as journal_repo
from learnerledger.store.duplicates import FoundPair
from learnerledger.store.journal import Step
from learnerledger.store.learners import iter_learners
from learnerledger.sync import journal
from learnerledger.sync.plan import (
    ARCHIVED,
    NAME_TAKEN,
    SEVERAL_CARRIERS,
    Plan,
    PlanItem,
    batches,
    make_plan,
)
from learnerledger.text import count
from learnerledger.xero.client import ItemResult
from learnerledger.xero.mirror import pull_contacts, store_contacts
from learnerledger.xero.protocols import ContactSyncer
from learnerledger.xero.wire import Contact, to_ms

__all__ = ["SyncReport", "sync_learners"]


@dataclass
class SyncReport:
    organisation: str
    plan: Plan
    status: str = "planned"  # planned | succeeded | failed | paused
    run_id: int | None = None
    created: int = 0
    updated: int = 0
    adopted: int = 0
    failed: int = 0
    resumed: int = 0  # steps of earlier runs finished by this one
    calls: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    message: str = ""
    paused: BudgetSpent | None = None

    def done(self, action: str) -> None:
        """Count one write Xero now holds."""
        if action == "create":
            self.created += 1
        elif action == "adopt":
            self.adopted += 1
        else:
            self.updated += 1

    def counts(self) -> dict[str, int]:
        totals = self.plan.totals()
        return {
            "created": self.created,
            "updated": self.updated,
            "adopted": self.adopted,
            "unchanged": totals["unchanged"],
            "review": totals["review"],
            "invalid": totals["invalid"],
            "conflict": totals["conflict"],
            "failed": self.failed,
            "resumed": self.resumed,
            "calls": self.calls,
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "run_id": self.run_id,
            "message": self.message,
            "counts": self.counts(),
            "errors": self.errors,
            "plan": self.plan.as_json(),
        }


class _Apply:
    """Sends one run's journal and records what Xero said."""

    def __init__(
        self,
        store: Store,
        client: ContactSyncer,
        report: SyncReport,
        job: Job,
        total: int,
    ) -> None:
        self.store = store
        self.client = client
        self.report = report
        self.job = job
        self.total = total
        self.done = 0
        self.batches_total = 0
        self.batches_done = 0
        self.written: list[Contact] = []

    @property
    def connection_id(self) -> int:
        return self.client.connection.id

    def tell(self, note: str = "") -> None:
        self.job.progress(
            "sending",
            self.done,
            self.total,
            note=note,
            detail={"batches_done": self.batches_done, "batches_total": self.batches_total},
        )

    def run(self, run_id: int) -> None:
        with self.store.read() as conn:
            open_steps = journal_repo.open_steps(conn, run_id)
        unknown = [s for s in open_steps if s.status == "sent"]
        if unknown:
            self.tell(f"looking up {len(unknown)} writes whose answer was lost")
            self.settle(unknown)
        with self.store.read() as conn:
            open_steps = journal_repo.open_steps(conn, run_id)
        creates = [s for s in open_steps if s.action == "create"]
        # An adopt is an update by ContactID: it rides in the same batches.
        updates = [s for s in open_steps if s.action in ("update", "adopt")]
        self.batches_total += len(batches(creates)) + len(batches(updates))
        self.tell()
        for batch in batches(creates):
            self.send(batch, "create")
        for batch in batches(updates):
            self.send(batch, "update")

    def send(self, batch: Sequence[Step], action: str, *, again: bool = False) -> None:
        attempt = max(s.attempts for s in batch)
        key = journal.batch_key(batch, attempt)
        with self.store.transaction() as conn:
            journal_repo.mark_sent(conn, batch, key)
        payloads = [dict(s.payload) for s in batch]
        try:
            if action == "create":
                results = self.client.create_contacts(payloads, key)
            else:
                results = self.client.update_contacts(payloads, key)
        except (TransientError, ServerError, UnexpectedResponse):
            # The batch may or may not have happened. Settle it by what Xero holds, then send
            # what did not happen once more; a second failure stops the run (nothing is lost:
            # the next run settles these steps the same way).
            self.tell("an answer was lost: looking the batch up before sending it again")
            still = self.settle(batch)
            if still and not again:
                self.send(still, action, again=True)
            elif still:
                raise
            return
        self.record(batch, results)
        self.batches_done += 1
        self.tell()

    def record(self, batch: Sequence[Step], results: Sequence[ItemResult[Contact]]) -> None:
        now_ms = int(time.time() * 1000)
        for step, result in zip(batch, results, strict=True):
            with self.store.transaction() as conn:
                if result.ok and result.record is not None:
                    contact = result.record
                    journal_repo.record_done(
                        conn, step, self.connection_id, contact.contact_id, to_ms(contact.updated)
                    )
                    store_contacts(conn, self.connection_id, [contact], now_ms)
                    self.written.append(contact)
                    self.report.done(step.action)
                else:
                    code, message = explain(step, result.messages)
                    journal_repo.record_failed(conn, step, message)
                    self.report.failed += 1
                    self.error(step.ref_internal, step.action, code, message)
            self.done += 1

    def error(self, ref: str, state: str, code: str, message: str) -> None:
        problem = self.job.problem(ref, code, message)
        if len(self.report.errors) < self.job.problems.cap:
            self.report.errors.append(
                {"ref_internal": ref, "state": state, "code": problem.code, "message": message}
            )

    def settle(self, steps: Sequence[Step]) -> list[Step]:
        """Settle steps whose outcome is unknown by what Xero now holds; returns those that did
        not happen (reopened, to be sent again)."""
        pulled = pull_contacts(self.store, self.client)
        if pulled.paused is not None:
            raise pulled.paused
        with self.store.read() as conn:
            index = mirror.load_contact_index(conn, self.connection_id)
        reopen: list[Step] = []
        for step in steps:
            with self.store.transaction() as conn:
                outcome = _settled(step, index)
                if isinstance(outcome, MirroredContact):
                    journal_repo.record_done(
                        conn, step, self.connection_id, outcome.contact_id, outcome.updated_ms
                    )
                    self.report.done(step.action)
                    self.done += 1
                elif outcome is None:
                    reopen.append(step)
                else:
                    journal_repo.record_failed(conn, step, outcome)
                    self.report.failed += 1
                    self.error(
                        step.ref_internal, step.action, "several_contacts_carry_ref", outcome
                    )
                    self.done += 1
        with self.store.transaction() as conn:
            journal_repo.reopen(conn, reopen)
        return [replace(s, status="pending") for s in reopen]


def _settled(step: Step, index: ContactIndex) -> MirroredContact | str | None:
    """What Xero shows of a step: its contact (it happened), None (it did not), or a reason."""
    if step.action == "create":
        carriers = index.with_number(step.ref_internal)
        if len(carriers) == 1:
            return carriers[0]
        if len(carriers) > 1:
            return (
                f"{len(carriers)} contacts now carry {step.ref_internal} as their Contact Code; "
                "merge them in Xero into the one to keep, then sync again."
            )
        return None
    contact_id = str(step.payload.get("ContactID", ""))
    contact = index.by_id.get(contact_id)
    if contact is None:
        return None
    fields = {k: v for k, v in step.payload.items() if k != "ContactID"}
    return contact if not diff_contact(fields, contact.data) else None


def explain(step: Step, messages: Sequence[str]) -> tuple[str, str]:
    """Xero's refusal of one learner: a stable code and what to do about it. Xero gives only
    its validation text, so this is the one place that reads it (by its documented wording)."""
    ref = step.ref_internal
    text = " ".join(messages) or "no reason given"
    name = step.payload.get("Name")
    if "is already assigned to another contact" in text:
        return NAME_TAKEN, (
            f"Xero refused {ref}: another active contact already has the Name {name!r}. If it "
            "is this learner, merge it into the learner's contact in Xero (or archive it); "
            "otherwise rename it in Xero. Then sync again."
        )
    if "contact number" in text.lower():
        return SEVERAL_CARRIERS, (
            f"Xero refused {ref}: another contact already carries {ref} as its Contact Code. "
            "Run `learnerledger sync learners --dry-run` to see which, and resolve it in Xero."
        )
    if "Email address must be valid" in text:
        return "invalid_email", (
            f"Xero refused {ref}: {text} Correct the email address in the SMS, then sync again."
        )
    if "archived" in text.lower():
        return ARCHIVED, (
            f"Xero refused {ref}: {text} Restore the contact in Xero "
            "(Contacts › Archived › Restore), then sync again."
        )
    return "xero_refused", (
        f"Xero refused {ref}: {text} Fix the learner in the SMS or the contact in Xero, "
        "then sync again."
    )


def _settle_cursor(store: Store, client: ContactSyncer, since_ms: int | None) -> None:
    """Move the contacts cursor past this run's own writes, when Xero confirms that nothing
    else changed since the plan's read: then the next run reads only newer changes."""
    if since_ms is None:
        return
    floor = since_ms - since_ms % 1000  # Xero compares If-Modified-Since to the second
    changed = client.count_changed_contacts(floor)
    connection_id = client.connection.id
    with store.read() as conn:
        known, newest = mirror.count_contacts_changed_since(conn, connection_id, floor)
    if changed != known or newest is None:
        return  # someone else changed contacts too: the next read picks them up
    cursors.advance_cursor(store, connection_id, "contacts", newest)


def _found_pairs(plan: Plan) -> list[FoundPair]:
    """The pairs of the learners the duplicate finder was asked about, to record in
    ``duplicate_pairs`` so that ``learnerledger duplicates`` lists them and decides them. An
    adopted contact becomes the learner's own, so it is no pair; the learner's other pairs
    name it as their survivor."""
    found = []
    for item in plan.items:
        if item.ref_internal not in plan.matched:
            continue
        survivor = item.contact_id if item.state == PlanState.ADOPT else None
        for c in item.candidates:
            if c.contact_id == survivor:
                continue
            p = c.pair
            found.append(
                FoundPair(
                    ref_internal=p.ref_internal,
                    contact_id=p.contact_id,
                    survivor_id=survivor,
                    score=p.score,
                    status=p.status,
                    evidence=[e.as_json() for e in p.evidence],
                    reasons=list(p.reasons),
                )
            )
    return found


def _journal(
    store: Store, client: ContactSyncer, run_id: int, plan: Plan, index: ContactIndex
) -> None:
    """Store the plan's writes as the run's steps, link contacts found by their
    ContactNumber that are already right, and record the pairs of the learners matched (adopt
    mode), in one transaction."""
    connection_id = client.connection.id
    with store.transaction() as conn:
        journal_repo.add_steps(
            conn, run_id, connection_id, journal.plan_steps(plan, client.tenant_id)
        )
        for item in plan.items:
            if item.state == PlanState.UNCHANGED and item.link and item.contact_id:
                contact = index.by_id[item.contact_id]
                links.link_contact(
                    conn,
                    connection_id,
                    item.ref_internal,
                    item.contact_id,
                    mapped_hash=item.mapped_hash,
                    contact_updated_ms=contact.updated_ms,
                )
        if plan.matched:
            pairs_repo.save_found(store, connection_id, _found_pairs(plan), learners=plan.matched)


def _problems(job: Job, report: SyncReport, item: PlanItem) -> None:
    """A learner the plan cannot write (invalid, in conflict, waiting for a decision): each
    reason in the History and the report."""
    fields = item.fields or ("",) * len(item.reasons)
    for reason, code, field_name in zip(item.reasons, item.codes, fields, strict=True):
        job.problem(item.ref_internal, code, reason, field=field_name)
        if len(report.errors) < job.problems.cap:
            report.errors.append(
                {
                    "ref_internal": item.ref_internal,
                    "state": str(item.state),
                    "code": code,
                    "message": reason,
                }
            )


def _summary(report: SyncReport) -> str:
    c = report.counts()
    parts = [
        f"{c['created']} created",
        f"{c['updated']} updated",
        f"{c['unchanged']} unchanged",
    ]
    if report.plan.mode == "adopt":
        parts.insert(2, f"{c['adopted']} adopted")
    if c["review"]:
        parts.append(f"{c['review']} waiting for a decision (learnerledger duplicates)")
    if c["invalid"]:
        parts.append(f"{c['invalid']} not ready (fix in the SMS)")
    if c["conflict"]:
        parts.append(f"{c['conflict']} in conflict (fix in Xero)")
    if c["failed"]:
        parts.append(f"{c['failed']} refused by Xero")
    text = f"{report.organisation}: " + ", ".join(parts) + f"; {count(c['calls'], 'call')} to Xero."
    if report.resumed:
        text += f" Finished {report.resumed} writes left by an earlier run."
    return text


def sync_learners(
    store: Store,
    client: ContactSyncer,
    *,
    mapping: ContactMapping | None = None,
    mode: str = "duplicate",
    dry_run: bool = False,
    on_progress: ProgressListener | None = None,
    match_settings: MatchSettings | None = None,
) -> SyncReport:
    """Give every learner flagged for Xero exactly one contact carrying its RefInternal.

    ``mode`` is ``adopt`` (a learner without a contact takes over the existing contact that is
    unambiguously it, or waits for a person's decision when one may be: ``sync.adopt``) or
    ``duplicate`` (always create; Wisenet's way). The command line's default is ``adopt``.

    A run of the job frame (``learnerledger.jobs``): a spent rate budget ends it ``paused``
    (the report's ``paused`` says until when) and the next run finishes its journal first."""
    mapping = mapping or ContactMapping()
    connection_id = client.connection.id
    empty = Plan(mode=mode, organisation=client.organisation, items=[])
    report = SyncReport(client.organisation, empty)
    job = Job(
        store,
        journal.JOB,
        connection_id=connection_id,
        organisation=client.organisation,
        calls=lambda: client.calls,
        on_progress=on_progress,
        record=not dry_run,
    )

    if on_progress is not None:
        note_waits(job, client)

    with job:
        report.run_id = job.run_id
        try:
            _sync(store, client, job, report, mapping, mode, dry_run, match_settings)
            report.calls = job.used_calls()
            job.message = "Planned only: nothing was sent." if dry_run else _summary(report)
        finally:
            report.calls = job.used_calls()
            job.counts.update(report.counts())
    report.status = "planned" if dry_run and job.paused is None else str(job.outcome)
    report.paused = job.paused
    report.message = job.message
    return report


def _sync(
    store: Store,
    client: ContactSyncer,
    job: Job,
    report: SyncReport,
    mapping: ContactMapping,
    mode: str,
    dry_run: bool,
    match_settings: MatchSettings | None,
) -> None:
    connection_id = client.connection.id
    if not dry_run:
        with store.read() as conn:
            earlier = journal_repo.unfinished_runs(conn, connection_id)
        for run_id in earlier:
            with store.read() as conn:
                left = len(journal_repo.open_steps(conn, run_id))
            _Apply(store, client, report, job, left).run(run_id)
            report.resumed += left
    pulled = pull_contacts(store, client)
    if pulled.paused is not None:
        raise pulled.paused
    with store.read() as conn:
        since = cursors.cursor_ms(conn, connection_id, "contacts")
        index = mirror.load_contact_index(conn, connection_id)
        linked, hashes = links.load_links(conn, connection_id)
        learners = list(iter_learners(conn))
        decisions = (
            {
                (p.ref_internal, p.contact_id): p.decision
                for p in pairs_repo.list_pairs(conn, connection_id)
                if p.decision
            }
            if mode == "adopt"
            else {}
        )
    if mode == "adopt":
        job.progress("matching", 0, None, note="looking for existing contacts of new learners")
        if match_settings is None:  # what `duplicates calibrate` fitted, else the defaults
            fitted = pairs_repo.fitted_settings(store, client.connection.id)
            match_settings = MatchSettings.from_json(fitted) if fitted is not None else None
    budget = client.budget.snapshot()
    report.plan = make_plan(
        learners,
        index,
        linked,
        mapping=mapping,
        mode=mode,
        organisation=client.organisation,
        hashes=hashes,
        minute_limit=client.budget.limits.minute,
        day_remaining=budget.day_remaining,
        decisions=decisions,
        match_settings=match_settings,
    )
    for item in report.plan.items:
        if item.state in (PlanState.INVALID, PlanState.CONFLICT, PlanState.REVIEW):
            _problems(job, report, item)
    if dry_run:
        return
    assert job.run_id is not None
    _journal(store, client, job.run_id, report.plan, index)
    writes = sum(1 for i in report.plan.items if i.state.writes)
    apply = _Apply(store, client, report, job, writes)
    apply.run(job.run_id)
    if apply.written:
        _settle_cursor(store, client, since)

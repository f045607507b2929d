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

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from learnerledger.domain.contact import ContactMapping, diff_contact
from learnerledger.domain.mirror import ContactIndex, MirroredContact
from learnerledger.errors import (
    LearnerLedgerError,
    RateLimited,
    ServerError,
    TransientError,
    UnexpectedResponse,
)
from learnerledger.store import Store
from learnerledger.store.learners import iter_learners
from learnerledger.store.tables import runs
from learnerledger.store.xero_tables import xero_contacts, xero_cursors
from learnerledger.sync import journal
from learnerledger.sync.journal import Step
from learnerledger.sync.plan import Plan, batches, make_plan
from learnerledger.text import count
from learnerledger.xero.client import ItemResult, XeroClient
from learnerledger.xero.mirror import pull_contacts, store_contacts
from learnerledger.xero.ratelimit import Waiting
from learnerledger.xero.wire import Contact, to_ms

__all__ = ["SyncProgress", "SyncReport", "sync_learners"]

_MAX_ERRORS_KEPT = 500


@dataclass(frozen=True)
class SyncProgress:
    """What a progress bar shows: learners done of total, batches, and any wait."""

    done: int
    total: int
    batches_done: int
    batches_total: int
    note: str = ""


@dataclass
class SyncReport:
    organisation: str
    plan: Plan
    status: str = "planned"  # planned | succeeded | failed | paused
    run_id: int | None = None
    created: int = 0
    updated: int = 0
    failed: int = 0
    resumed: int = 0  # steps of earlier runs finished by this one
    calls: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    message: str = ""
    paused: RateLimited | None = None

    def counts(self) -> dict[str, int]:
        totals = self.plan.totals()
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": totals["unchanged"],
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


Progress = Callable[[SyncProgress], None]


class _Apply:
    """Sends one run's journal and records what Xero said."""

    def __init__(
        self,
        store: Store,
        client: XeroClient,
        report: SyncReport,
        on_progress: Progress | None,
        total: int,
    ) -> None:
        self.store = store
        self.client = client
        self.report = report
        self.on_progress = on_progress
        self.total = total
        self.done = 0
        self.batches_total = 0
        self.batches_done = 0
        self.written: list[Contact] = []

    @property
    def connection_id(self) -> int:
        return self.client.connection.id

    def tell(self, note: str = "") -> None:
        if self.on_progress is not None:
            self.on_progress(
                SyncProgress(self.done, self.total, self.batches_done, self.batches_total, note)
            )

    def run(self, run_id: int) -> None:
        with self.store.read() as conn:
            steps = journal.open_steps(conn, run_id)
        unknown = [s for s in steps if s.status == "sent"]
        if unknown:
            self.tell(f"looking up {len(unknown)} writes whose answer was lost")
            self.settle(unknown)
        with self.store.read() as conn:
            steps = journal.open_steps(conn, run_id)
        creates = [s for s in steps if s.action == "create"]
        updates = [s for s in steps if s.action == "update"]
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
            journal.mark_sent(conn, batch, key)
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
                    journal.record_done(
                        conn, step, self.connection_id, contact.contact_id, to_ms(contact.updated)
                    )
                    store_contacts(conn, self.connection_id, [contact], now_ms)
                    self.written.append(contact)
                    if step.action == "create":
                        self.report.created += 1
                    else:
                        self.report.updated += 1
                else:
                    message = explain(step, result.messages)
                    journal.record_failed(conn, step, message)
                    self.report.failed += 1
                    self.error(step.ref_internal, step.action, message)
            self.done += 1

    def error(self, ref: str, state: str, message: str) -> None:
        if len(self.report.errors) < _MAX_ERRORS_KEPT:
            self.report.errors.append({"ref_internal": ref, "state": state, "message": message})

    def settle(self, steps: Sequence[Step]) -> list[Step]:
        """Settle steps whose outcome is unknown by what Xero now holds; returns those that did
        not happen (reopened, to be sent again)."""
        pulled = pull_contacts(self.store, self.client)
        if pulled.paused is not None:
            raise pulled.paused
        with self.store.read() as conn:
            index = _load_index(conn, self.connection_id)
        reopen: list[Step] = []
        for step in steps:
            with self.store.transaction() as conn:
                outcome = _settled(step, index)
                if isinstance(outcome, MirroredContact):
                    journal.record_done(
                        conn, step, self.connection_id, outcome.contact_id, outcome.updated_ms
                    )
                    if step.action == "create":
                        self.report.created += 1
                    else:
                        self.report.updated += 1
                    self.done += 1
                elif outcome is None:
                    reopen.append(step)
                else:
                    journal.record_failed(conn, step, outcome)
                    self.report.failed += 1
                    self.error(step.ref_internal, step.action, outcome)
                    self.done += 1
        with self.store.transaction() as conn:
            journal.reopen(conn, reopen)
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


def explain(step: Step, messages: Sequence[str]) -> str:
    """Xero's refusal of one learner, with what to do about it."""
    ref = step.ref_internal
    text = " ".join(messages) or "no reason given"
    name = step.payload.get("Name")
    if "is already assigned to another contact" in text:
        return (
            f"Xero refused {ref}: another active contact already has the Name {name!r}. If it "
            "is this learner, merge it into the learner's contact in Xero (or archive it); "
            "otherwise rename it in Xero. Then sync again."
        )
    if "contact number" in text.lower():
        return (
            f"Xero refused {ref}: another contact already carries {ref} as its Contact Code. "
            "Run `learnerledger sync learners --dry-run` to see which, and resolve it in Xero."
        )
    if "Email address must be valid" in text:
        return f"Xero refused {ref}: {text} Correct the email address in the SMS, then sync again."
    if "archived" in text.lower():
        return (
            f"Xero refused {ref}: {text} Restore the contact in Xero "
            "(Contacts › Archived › Restore), then sync again."
        )
    return (
        f"Xero refused {ref}: {text} Fix the learner in the SMS or the contact in Xero, "
        "then sync again."
    )


def _mirrored(row: Any) -> MirroredContact:
    return MirroredContact(
        contact_id=row.contact_id,
        name=row.name,
        contact_number=row.contact_number,
        status=row.status,
        merged_to=row.merged_to,
        updated_ms=int(row.updated_ms),
        data=json.loads(row.data),
    )


def _load_index(conn: Any, connection_id: int) -> ContactIndex:
    rows = conn.execute(
        sa.select(xero_contacts).where(xero_contacts.c.connection_id == connection_id)
    )
    return ContactIndex.of(_mirrored(r) for r in rows)


def _cursor(conn: Any, connection_id: int) -> int | None:
    value = conn.execute(
        sa.select(xero_cursors.c.cursor_ms).where(
            xero_cursors.c.connection_id == connection_id, xero_cursors.c.stream == "contacts"
        )
    ).scalar_one_or_none()
    return None if value is None else int(value)


def _settle_cursor(store: Store, client: XeroClient, since_ms: int | None) -> None:
    """Move the contacts cursor past this run's own writes, when Xero confirms that nothing
    else changed since the plan's read: then the next run reads only newer changes."""
    if since_ms is None:
        return
    floor = since_ms - since_ms % 1000  # Xero compares If-Modified-Since to the second
    data = client.request(
        "GET",
        "Contacts",
        params={"page": "1", "pageSize": "1", "includeArchived": "true"},
        modified_since_ms=floor,
    )
    changed = int(((data or {}).get("pagination") or {}).get("itemCount", -1))
    connection_id = client.connection.id
    with store.transaction() as conn:
        known = conn.execute(
            sa.select(sa.func.count(), sa.func.max(xero_contacts.c.updated_ms)).where(
                xero_contacts.c.connection_id == connection_id,
                xero_contacts.c.updated_ms >= floor,
            )
        ).one()
        if changed != int(known[0]) or known[1] is None:
            return  # someone else changed contacts too: the next read picks them up
        conn.execute(
            xero_cursors.update()
            .where(
                xero_cursors.c.connection_id == connection_id,
                xero_cursors.c.stream == "contacts",
                xero_cursors.c.cursor_ms < int(known[1]),
            )
            .values(cursor_ms=int(known[1]))
        )


def _start_run(store: Store, client: XeroClient, plan: Plan, index: ContactIndex) -> int:
    with store.transaction() as conn:
        key = conn.execute(
            runs.insert().values(
                job=journal.JOB,
                connection_id=client.connection.id,
                started_utc=datetime.now(UTC),
                status="running",
                counts={"planned": plan.totals()},
                problems=[],
                message="",
            )
        ).inserted_primary_key
        assert key is not None
        run_id = int(key[0])
        journal.journal_plan(conn, run_id, client.connection.id, client.tenant_id, plan)
        for item in plan.items:
            # Contacts found by their ContactNumber, already right: link them now.
            if item.state == "unchanged" and item.link and item.contact_id:
                contact = index.by_id[item.contact_id]
                journal.link_contact(
                    conn,
                    client.connection.id,
                    item.ref_internal,
                    item.contact_id,
                    mapped_hash=item.mapped_hash,
                    contact_updated_ms=contact.updated_ms,
                )
    return run_id


def _finish_run(store: Store, report: SyncReport) -> None:
    if report.run_id is None:
        return
    with store.transaction() as conn:
        conn.execute(
            runs.update()
            .where(runs.c.id == report.run_id)
            .values(
                finished_utc=datetime.now(UTC),
                status=report.status,
                counts=report.counts(),
                problems=report.errors,
                message=report.message,
            )
        )


def _summary(report: SyncReport) -> str:
    c = report.counts()
    parts = [
        f"{c['created']} created",
        f"{c['updated']} updated",
        f"{c['unchanged']} unchanged",
    ]
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
    client: XeroClient,
    *,
    mapping: ContactMapping | None = None,
    mode: str = "duplicate",
    dry_run: bool = False,
    on_progress: Progress | None = None,
) -> SyncReport:
    """Give every learner flagged for Xero exactly one contact carrying its RefInternal."""
    mapping = mapping or ContactMapping()
    calls_before = client.calls
    connection_id = client.connection.id
    apply: _Apply | None = None
    if on_progress is not None:

        def waiting(event: Any) -> None:
            if isinstance(event, Waiting):
                until = event.until.astimezone().strftime("%H:%M:%S")
                note = f"waiting on the rate budget ({event.limit}) until {until}"
            else:
                note = f"retrying: {event.reason}"
            if apply is not None:
                apply.tell(note)

        client.on_event = waiting
        client.budget.on_wait = waiting

    empty = Plan(mode=mode, organisation=client.organisation, items=[])
    report = SyncReport(client.organisation, empty)
    try:
        if not dry_run:
            with store.read() as conn:
                earlier = journal.unfinished_runs(conn, connection_id)
            for run_id in earlier:
                with store.read() as conn:
                    left = len(journal.open_steps(conn, run_id))
                apply = _Apply(store, client, report, on_progress, left)
                apply.run(run_id)
                report.resumed += left
        pulled = pull_contacts(store, client)
        if pulled.paused is not None:
            raise pulled.paused
        with store.read() as conn:
            since = _cursor(conn, connection_id)
            index = _load_index(conn, connection_id)
            linked, hashes = journal.load_links(conn, connection_id)
            learners = list(iter_learners(conn))
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
        )
        for item in report.plan.items:
            if item.state in ("invalid", "conflict"):
                for reason in item.reasons:
                    if len(report.errors) < _MAX_ERRORS_KEPT:
                        report.errors.append(
                            {
                                "ref_internal": item.ref_internal,
                                "state": item.state,
                                "message": reason,
                            }
                        )
        if dry_run:
            report.calls = client.calls - calls_before
            report.message = "Planned only: nothing was sent."
            return report
        report.run_id = _start_run(store, client, report.plan, index)
        writes = len(report.plan.writes("create")) + len(report.plan.writes("update"))
        apply = _Apply(store, client, report, on_progress, writes)
        apply.run(report.run_id)
        if apply.written:
            _settle_cursor(store, client, since)
        report.status = "succeeded"
    except RateLimited as exc:
        report.status = "paused"
        report.paused = exc
        report.message = str(exc)
    except LearnerLedgerError as exc:
        report.status = "failed"
        report.message = str(exc)
        report.calls = client.calls - calls_before
        _finish_run(store, report)
        raise
    report.calls = client.calls - calls_before
    if report.status == "succeeded":
        report.message = _summary(report)
    _finish_run(store, report)
    return report

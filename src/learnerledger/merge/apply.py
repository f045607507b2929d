"""``merge apply``: move what Xero's API can move, archive what is left empty, swap where that
makes a merge unnecessary, and put the rest on the worklist for Xero's own Merge.

A run of the job frame (one at a time per organisation; a spent day budget pauses it and the
next run carries on). It (1) finishes any earlier run's journal, (2) reads every confirmed
cluster afresh and plans it (``merge.plan``), (3) compares each cluster with what the last check
saw (``merge.money``: a difference stops the run before anything is written), (4) stores the
writes as journal steps (``store.merges``) together with each cluster's documents and money
before them, (5) sends them in phases, in batches of up to 50: swaps free the learner's Contact
Code and Name, legacy contacts adopt them, documents are re-pointed, (6) reads the clusters
again and compares: a difference stops the run with the cluster and the documents named,
(7) archives the legacy contacts now empty (``--no-archive`` leaves them) and the contacts a
swap emptied, recording them in the link table as absorbed into the learner's contact, and
(8) lists the worklist.

Exactly once: a step is marked ``sent`` before its request goes out; a step whose answer was
lost is settled by reading its record (the document's contact, the contact's fields) before
anything is sent again, and requests carry deterministic Idempotency-Keys.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from learnerledger.domain.contact import ContactMapping, diff_contact, mapped_hash
from learnerledger.errors import BudgetSpent, ServerError, TransientError, UnexpectedResponse
from learnerledger.jobs import Job, ProgressListener, note_waits
from learnerledger.merge.money import Difference, MoneyNotConserved, Snapshot, compare, snapshot
from learnerledger.merge.plan import BATCH, ClusterPlan, MergePlan, move_payload
from learnerledger.merge.reads import plan_merges, read_documents
from learnerledger.merge.worklist import WorklistItem, contact_link, worklist_items
from learnerledger.store import Store, links, merges
from learnerledger.store.merges import MergeStep, NewMergeStep, StoredCluster
from learnerledger.text import count
from learnerledger.xero.client import ItemResult
from learnerledger.xero.protocols import ContactMerger

__all__ = ["JOB", "SWAP_REFUSED", "ApplyReport", "merge_apply"]

JOB = "merge apply"
# A cluster whose swap Xero refused: it waits for Xero's Merge, and no later run swaps it.
SWAP_REFUSED = "swap_refused"
_NO_MONEY = ("DELETED",)  # documents that carry no money and stay where they are


@dataclass
class ApplyReport:
    organisation: str
    status: str = "running"  # succeeded | failed | paused
    run_id: int | None = None
    message: str = ""
    plan: MergePlan | None = None
    moved: int = 0
    archived: int = 0
    swapped: int = 0
    failed: int = 0
    skipped: int = 0
    resumed: int = 0  # steps of earlier runs finished by this one
    calls: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    worklist: list[WorklistItem] = field(default_factory=list)
    states: dict[str, str] = field(default_factory=dict)  # RefInternal -> state after the run
    paused: BudgetSpent | None = None

    def counts(self) -> dict[str, int]:
        return {
            "moved": self.moved,
            "archived": self.archived,
            "swapped": self.swapped,
            "failed": self.failed,
            "skipped": self.skipped,
            "resumed": self.resumed,
            "worklist": len(self.worklist),
            "calls": self.calls,
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "organisation": self.organisation,
            "status": self.status,
            "run_id": self.run_id,
            "message": self.message,
            "counts": self.counts(),
            "errors": self.errors,
            "clusters": self.states,
            "worklist": [i.as_json() for i in self.worklist],
            "plan": self.plan.as_json() if self.plan else None,
        }


# -- journal keys --------------------------------------------------------------------------


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _step(
    tenant_id: str, ref: str, action: str, stream: str, target: str, payload: Mapping[str, Any]
) -> NewMergeStep:
    text = "|".join((tenant_id, "merge", action, ref, target, _canonical(payload)))
    key = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return NewMergeStep(ref, action, stream, target, dict(payload), key)


def _batch_key(steps: Sequence[MergeStep], attempt: int) -> str:
    """The Idempotency-Key of one request: the same steps sent again give the same key."""
    digest = hashlib.sha256("|".join([str(attempt), *(s.step_key for s in steps)]).encode())
    return f"ll-merge-{digest.hexdigest()[:55]}"


def _cluster_steps(c: ClusterPlan, tenant_id: str) -> list[NewMergeStep]:
    """The writes of a cluster before its check: the swap, then the moves."""
    target = c.target
    assert target is not None
    ref = c.ref_internal
    steps = []
    if c.swap is not None:
        s = c.swap
        free = {"ContactID": s.empty.contact_id, "Name": s.placeholder, "ContactNumber": ""}
        adopt = {"ContactID": s.legacy.contact_id, **s.adopt}
        steps.append(_step(tenant_id, ref, "free", "contacts", s.empty.contact_id, free))
        steps.append(_step(tenant_id, ref, "adopt", "contacts", s.legacy.contact_id, adopt))
    for d in c.moves():
        payload = move_payload(d, target.contact_id)
        steps.append(_step(tenant_id, ref, "move", d.stream, d.document_id, payload))
    return steps


def _archive_step(tenant_id: str, ref: str, contact_id: str) -> NewMergeStep:
    payload = {"ContactID": contact_id, "ContactStatus": "ARCHIVED"}
    return _step(tenant_id, ref, "archive", "contacts", contact_id, payload)


def _restore_step(tenant_id: str, ref: str, plan: Mapping[str, Any]) -> NewMergeStep:
    """Give the learner's own contact its Contact Code and Name back after a failed swap."""
    empty = plan["swap"]["empty"]
    payload = {
        "ContactID": empty["contact_id"],
        "Name": empty["name"],
        "ContactNumber": empty["contact_number"] or ref,
    }
    return _step(tenant_id, ref, "restore", "contacts", empty["contact_id"], payload)


# -- what a stored cluster plan says -----------------------------------------------------------


def _archives(plan: Mapping[str, Any]) -> list[str]:
    found = [lp["contact"]["contact_id"] for lp in plan["legacy"] if lp["outcome"] == "archive"]
    if plan.get("swap"):
        found.append(plan["swap"]["empty"]["contact_id"])
    return found


def _live(snap: Snapshot, contact_id: str) -> list[Any]:
    return [d for d in snap.on(contact_id) if d.status not in _NO_MONEY]


# -- the runner ------------------------------------------------------------------------------


class _Runner:
    """Finishes one run's journal: settles, sends by phase, checks, archives, records."""

    def __init__(
        self,
        store: Store,
        client: ContactMerger,
        job: Job,
        report: ApplyReport,
        run_id: int,
        *,
        archive: bool,
    ) -> None:
        self.store = store
        self.client = client
        self.job = job
        self.report = report
        self.run_id = run_id
        self.archive = archive
        self.connection_id = client.connection.id
        self.done = 0
        self.total = 0
        self.still_held: dict[str, list[tuple[str, str]]] = {}
        self.stopped: dict[str, list[Difference]] = {}
        self.plans = {
            ref: c.plan or {}
            for ref, c in merges.load_clusters(store, self.connection_id).items()
            if c.run_id == run_id
        }

    # -- progress and problems --------------------------------------------------------------

    def tell(self, note: str = "") -> None:
        self.job.progress("writing", self.done, self.total, note=note)

    def error(self, ref: str, code: str, message: str, fix: str = "") -> None:
        problem = self.job.problem(ref, code, message, fix=fix)
        if len(self.report.errors) < self.job.problems.cap:
            self.report.errors.append(
                {"ref_internal": ref, "code": problem.code, "message": message, "fix": fix}
            )

    # -- the run ----------------------------------------------------------------------------

    def finish(self) -> None:
        steps = merges.open_steps(self.store, self.run_id)
        self.total += len(steps)
        unknown = [s for s in steps if s.status == "sent"]
        if unknown:
            self.tell(f"looking up {len(unknown)} writes whose answer was lost")
            self.settle(unknown)
        for phase in (1, 2, 3):
            self.send_phase(phase)
        self.check()
        self.send_phase(4)
        self.record_states()
        if self.stopped:
            raise MoneyNotConserved(self.stopped, when="after the merge's writes")

    def send_phase(self, phase: int) -> None:
        while True:
            # A failed swap journals a restore in its own phase: read the steps again.
            steps = [s for s in merges.open_steps(self.store, self.run_id) if s.phase == phase]
            pending = [s for s in steps if s.status == "pending"]
            if not pending:
                return
            by_stream: dict[str, list[MergeStep]] = {}
            for s in pending:
                by_stream.setdefault(s.stream, []).append(s)
            for stream_steps in by_stream.values():
                for first in range(0, len(stream_steps), BATCH):
                    # A refusal earlier in a cluster may have skipped some of its steps since.
                    still = {s.id for s in merges.open_steps(self.store, self.run_id)}
                    batch = [s for s in stream_steps[first : first + BATCH] if s.id in still]
                    if batch:
                        self.send(batch)

    def send(self, batch: Sequence[MergeStep], *, again: bool = False) -> None:
        attempt = max(s.attempts for s in batch)
        key = _batch_key(batch, attempt)
        with self.store.transaction() as conn:
            merges.mark_sent(conn, batch, key)
        payloads = [dict(s.payload) for s in batch]
        stream = batch[0].stream
        try:
            if stream == "contacts":
                results: Sequence[ItemResult[Any]] = self.client.update_contacts(payloads, key)
            else:
                results = self.client.update_documents(stream, payloads, key)
        except (TransientError, ServerError, UnexpectedResponse):
            self.tell("an answer was lost: looking the writes up before sending them again")
            still = self.settle(batch)
            if still and not again:
                self.send(still, again=True)
            elif still:
                raise
            return
        for step, result in zip(batch, results, strict=True):
            if result.ok:
                self.record_done(step)
            else:
                self.record_failed(step, result.messages)
        self.tell()

    # -- outcomes ---------------------------------------------------------------------------

    def record_done(self, step: MergeStep) -> None:
        ref = step.ref_internal
        with self.store.transaction() as conn:
            merges.record_done(conn, step)
            if step.action == "adopt":
                adopted = {k: v for k, v in step.payload.items() if k != "ContactID"}
                links.link_contact(
                    conn,
                    self.connection_id,
                    ref,
                    step.target_id,
                    mapped_hash=mapped_hash(adopted),
                    contact_updated_ms=None,
                )
                plan = self._plan(ref)
                if plan and plan.get("swap"):
                    empty = plan["swap"]["empty"]["contact_id"]
                    links.absorb_contact(conn, self.connection_id, ref, empty)
            elif step.action == "archive" and self._is_legacy(ref, step.target_id):
                links.absorb_contact(conn, self.connection_id, ref, step.target_id)
        self.done += 1
        if step.action == "move":
            self.report.moved += 1
        elif step.action == "archive":
            self.report.archived += 1
        elif step.action == "adopt":
            self.report.swapped += 1

    def record_failed(self, step: MergeStep, messages: Sequence[str]) -> None:
        ref = step.ref_internal
        text = " ".join(f"«{m}»" for m in messages) or "no reason given"
        plan = self._plan(ref) or {}
        target = (plan.get("target") or {}).get("name", "the learner's contact")
        if step.action == "move":
            label = f"{step.stream.removesuffix('s').replace('_', ' ')} {step.target_id}"
            message = f"Xero refused to re-point {label} to {target!r}: {text}"
            fix = (
                "Something was paid or credited on it since the plan, or it was changed in Xero. "
                "Its contact now needs Xero's Merge: it is on the worklist."
            )
            code = "move_refused"
        elif step.action == "restore":
            message = (
                f"Xero refused to give contact {step.target_id} the learner's Contact Code and "
                f"Name back after a refused swap: {text}"
            )
            fix = "Run `learnerledger sync learners`: it writes them again."
            code = "restore_refused"
        elif step.action == "archive":
            message = f"Xero refused to archive contact {step.target_id}: {text}"
            fix = "Archive it in Xero (Contacts › select › Archive) once it holds nothing."
            code = "archive_refused"
        else:
            message = f"Xero refused the swap's {step.action} of contact {step.target_id}: {text}"
            fix = (
                "The cluster is left for Xero's Merge instead (see the worklist). If the "
                "message names a Name or Contact Code in use, free it in Xero first."
            )
            code = "swap_refused"
        with self.store.transaction() as conn:
            merges.record_failed(conn, step, message)
            if step.action in ("free", "adopt"):
                self._abandon_swap(conn, step, plan)
        self.report.failed += 1
        self.done += 1
        self.error(ref, code, message, fix)

    def _abandon_swap(self, conn: Any, step: MergeStep, plan: Mapping[str, Any]) -> None:
        """A swap that failed half way: nothing else of the cluster is written, and a freed
        contact gets the learner's Contact Code and Name back."""
        for other in merges.open_steps(conn, self.run_id):
            if other.ref_internal == step.ref_internal and other.id != step.id:
                merges.skip(conn, other, f"the swap's {step.action} was refused")
                self.report.skipped += 1
        if step.action == "adopt" and plan.get("swap"):
            tenant = self.client.tenant_id
            merges.add_steps(
                conn,
                self.run_id,
                self.connection_id,
                [_restore_step(tenant, step.ref_internal, plan)],
            )
        merges.put_cluster(conn, self.connection_id, step.ref_internal, state=SWAP_REFUSED)

    def _plan(self, ref: str) -> Mapping[str, Any] | None:
        return self.plans.get(ref)

    def _is_legacy(self, ref: str, contact_id: str) -> bool:
        plan = self._plan(ref) or {}
        return any(lp["contact"]["contact_id"] == contact_id for lp in plan.get("legacy", []))

    # -- unknown outcomes -------------------------------------------------------------------

    def settle(self, steps: Sequence[MergeStep]) -> list[MergeStep]:
        """Settle steps whose outcome is unknown by what Xero now holds; returns those that did
        not happen (reopened, to be sent again). Contacts are read by id, 50 to a call;
        documents by the contacts they were to move to, so a lost batch costs a few calls."""
        contacts = sorted({s.target_id for s in steps if s.stream == "contacts"})
        held: dict[str, Mapping[str, Any]] = {}
        for first in range(0, len(contacts), BATCH):
            page = self.client.get_contacts(contacts[first : first + BATCH])
            held.update({c.contact_id: c.raw for c in page.records})
        moved: dict[str, str | None] = {}  # document -> its contact now
        for stream in sorted({s.stream for s in steps if s.stream != "contacts"}):
            targets = sorted(
                {str(s.payload["Contact"]["ContactID"]) for s in steps if s.stream == stream}
            )
            for read in self.client.documents_of_contacts(stream, targets):
                moved.update({d.document_id: d.contact_id for d in read.records})
        reopen: list[MergeStep] = []
        for step in steps:
            if step.stream == "contacts":
                current = held.get(step.target_id)
                fields = {k: v for k, v in step.payload.items() if k != "ContactID"}
                happened = current is not None and not diff_contact(fields, current)
            else:
                wanted = step.payload["Contact"]["ContactID"]
                happened = moved.get(step.target_id) == wanted
            if happened:
                self.record_done(step)
            else:
                reopen.append(step)
        with self.store.transaction() as conn:
            merges.reopen(conn, reopen)
        return [replace(s, status="pending") for s in reopen]

    # -- the check after the writes, then the archives ----------------------------------------

    def check(self) -> None:
        clusters = merges.clusters_to_check(self.store, self.connection_id, self.run_id)
        if not clusters:
            return
        befores = {c.ref_internal: Snapshot.from_json(c.before or {}) for c in clusters}
        every = sorted({i for s in befores.values() for i in s.contacts})
        self.tell("reading the clusters again to check the money")
        fresh = read_documents(self.client, every)
        tenant = self.client.tenant_id
        adopted = {
            s.ref_internal
            for s in merges.run_steps(self.store, self.run_id)
            if s.action == "adopt" and s.status == "done"
        }
        for c in clusters:
            before = befores[c.ref_internal]
            after = snapshot(before.contacts, fresh.documents)
            unreadable = [i for i in before.contacts if i in fresh.unreadable]
            differences = compare(before, after)
            differences += [
                Difference(f"contact {i}", None, fresh.unreadable[i]) for i in unreadable
            ]
            with self.store.transaction() as conn:
                if differences:
                    self.stopped[c.ref_internal] = differences
                    merges.put_cluster(conn, self.connection_id, c.ref_internal, state="stopped")
                    for d in differences:
                        self.error(
                            c.ref_internal,
                            "money_not_conserved",
                            f"{d}.",
                            "Nothing more is written for this cluster; see the run's error.",
                        )
                    continue
                archives = []
                plan = c.plan or {}
                swap_done = c.ref_internal in adopted
                for contact_id in _archives(plan):
                    is_empty_contact = (
                        plan.get("swap") and contact_id == plan["swap"]["empty"]["contact_id"]
                    )
                    left = _live(after, contact_id)
                    if left:
                        self.still_held[contact_id] = [
                            (d.label, "it could not be moved through the API (see the errors)")
                            for d in left
                        ]
                        continue
                    if is_empty_contact and not swap_done:
                        continue
                    if not is_empty_contact and not self.archive:
                        continue
                    archives.append(_archive_step(tenant, c.ref_internal, contact_id))
                merges.add_steps(conn, self.run_id, self.connection_id, archives)
                self.total += len(archives)
                merges.put_cluster(
                    conn,
                    self.connection_id,
                    c.ref_internal,
                    state=SWAP_REFUSED if c.state == SWAP_REFUSED else "checked",
                    before=None,
                    baseline=after.as_json(),
                )

    def record_states(self) -> None:
        """Where each cluster of the run now stands."""
        steps = merges.run_steps(self.store, self.run_id)
        stored = merges.load_clusters(self.store, self.connection_id)
        for ref in sorted({s.ref_internal for s in steps} | set(self.stopped)):
            cluster = stored.get(ref)
            if cluster is None or cluster.run_id != self.run_id:
                continue
            if cluster.state == "stopped":
                self.report.states[ref] = "stopped"
                continue
            plan = cluster.plan or {}
            mine = [s for s in steps if s.ref_internal == ref]
            swapped = any(s.action == "adopt" and s.status == "done" for s in mine)
            waiting = any(lp["outcome"] == "merge" for lp in plan.get("legacy", [])) or any(
                i in self.still_held for i in _archives(plan)
            )
            if cluster.state == SWAP_REFUSED or (plan.get("swap") and not swapped):
                state = SWAP_REFUSED  # on the worklist, and never tried again
            elif waiting:
                state = "worklist"
            elif swapped:
                state = "swapped"
            elif not self.archive:
                state = "emptied"
            else:
                state = "merged"
            with self.store.transaction() as conn:
                merges.put_cluster(conn, self.connection_id, ref, state=state)
            self.report.states[ref] = state


# -- the job -----------------------------------------------------------------------------------


def _baseline_check(
    planned_snapshots: Mapping[str, Snapshot],
    acting: Sequence[ClusterPlan],
    stored: Mapping[str, StoredCluster],
) -> dict[str, list[Difference]]:
    """Clusters about to be written for whose money is not what the last check saw."""
    found = {}
    for c in acting:
        held = stored.get(c.ref_internal)
        if held is None or held.baseline is None:
            continue
        differences = compare(Snapshot.from_json(held.baseline), planned_snapshots[c.ref_internal])
        if differences:
            found[c.ref_internal] = differences
    return found


def _summary(report: ApplyReport) -> str:
    c = report.counts()
    parts = [
        f"{count(c['moved'], 'document')} re-pointed",
        f"{count(c['archived'], 'contact')} archived",
    ]
    if c["swapped"]:
        parts.append(f"{count(c['swapped'], 'swap')}")
    if c["failed"]:
        parts.append(f"{c['failed']} refused by Xero")
    parts.append(f"{count(c['worklist'], 'merge')} on the worklist for Xero")
    text = f"{report.organisation}: " + ", ".join(parts) + f"; {count(c['calls'], 'call')} to Xero."
    if report.resumed:
        text += f" Finished {report.resumed} writes left by an earlier run."
    return text


def merge_apply(
    store: Store,
    client: ContactMerger,
    *,
    mapping: ContactMapping | None = None,
    archive: bool = True,
    on_progress: ProgressListener | None = None,
) -> ApplyReport:
    """Apply the merge plan of every confirmed cluster; see the module's docstring.

    A spent rate budget ends the run ``paused`` (the report's ``paused`` says until when); a
    money difference stops it (:class:`~learnerledger.merge.money.MoneyNotConserved`)."""
    mapping = mapping or ContactMapping()
    connection_id = client.connection.id
    report = ApplyReport(client.organisation)
    job = Job(
        store,
        JOB,
        connection_id=connection_id,
        organisation=client.organisation,
        calls=lambda: client.calls,
        on_progress=on_progress,
    )
    if on_progress is not None:
        note_waits(job, client)
    with job:
        report.run_id = job.run_id
        try:
            _apply(store, client, job, report, mapping, archive)
            report.calls = job.used_calls()
            job.message = _summary(report)
        finally:
            report.calls = job.used_calls()
            job.counts.update(report.counts())
    report.status = str(job.outcome)
    report.paused = job.paused
    report.message = job.message
    return report


def _unswapped(c: ClusterPlan) -> ClusterPlan:
    """A swap cluster whose swap did not happen: its legacy contact needs Xero's Merge."""
    legacy = tuple(replace(lp, outcome="merge") if lp.outcome == "swap" else lp for lp in c.legacy)
    return replace(c, state="worklist", swap=None, legacy=legacy)


def _apply(
    store: Store,
    client: ContactMerger,
    job: Job,
    report: ApplyReport,
    mapping: ContactMapping,
    archive: bool,
) -> None:
    connection_id = client.connection.id
    for run_id in merges.unfinished_runs(store, connection_id):
        left = len(merges.open_steps(store, run_id))
        _Runner(store, client, job, report, run_id, archive=archive).finish()
        report.resumed += left
    stored = merges.load_clusters(store, connection_id)
    extra = {
        ref: Snapshot.from_json(c.baseline).contacts for ref, c in stored.items() if c.baseline
    }
    refused = {ref for ref, c in stored.items() if c.state == SWAP_REFUSED}
    planned = plan_merges(store, client, job, mapping=mapping, extra=extra, refused_swaps=refused)
    report.plan = planned.plan
    stopped = {ref for ref, c in stored.items() if c.state == "stopped"}
    for c in planned.plan.clusters:
        codes = list(c.codes) + ["conflict"] * (len(c.reasons) - len(c.codes))
        if c.ref_internal in stopped:
            job.problem(
                c.ref_internal,
                "stopped",
                f"cluster {c.ref_internal} was stopped by a money check and is left alone.",
                fix="Check the documents the earlier run named, then run `learnerledger merge "
                f"verify --accept {c.ref_internal}` to carry on with it.",
            )
        elif c.state in ("conflict", "waiting", "wrong_direction"):
            for reason, code in zip(c.reasons, codes, strict=False):
                job.problem(c.ref_internal, code, reason)
    acting = [c for c in planned.plan.clusters if c.acts and c.ref_internal not in stopped]
    differences = _baseline_check(planned.snapshots, acting, stored)
    if differences:
        raise MoneyNotConserved(differences, when="since the last check (nothing was written)")
    assert job.run_id is not None
    tenant = client.tenant_id
    with store.transaction() as conn:
        for c in planned.plan.clusters:
            if c.ref_internal in stopped:
                continue
            snap = planned.snapshots[c.ref_internal]
            survivor_id = c.target.contact_id if c.target else None
            if c in acting:
                merges.put_cluster(
                    conn,
                    connection_id,
                    c.ref_internal,
                    state="applying",
                    run_id=job.run_id,
                    survivor_id=survivor_id,
                    plan=c.as_json(),
                    before=snap.as_json(),
                )
                merges.add_steps(conn, job.run_id, connection_id, _cluster_steps(c, tenant))
                continue
            held = stored.get(c.ref_internal)
            baseline = held.baseline if held is not None and held.baseline else snap.as_json()
            merges.put_cluster(
                conn,
                connection_id,
                c.ref_internal,
                state=c.state,
                survivor_id=survivor_id,
                plan=c.as_json(),
                baseline=baseline,
            )
            report.states[c.ref_internal] = c.state
    runner = _Runner(store, client, job, report, job.run_id, archive=archive)
    try:
        runner.finish()
    finally:
        connection = client.connection

        def link(contact_id: str) -> str:
            return contact_link(connection.base_url, connection.tenant_id, contact_id)

        shown = [
            _unswapped(c)
            if c.swap is not None and report.states.get(c.ref_internal) == SWAP_REFUSED
            else c
            for c in planned.plan.clusters
            if c.ref_internal not in stopped
        ]
        report.worklist = worklist_items(shown, link, still_held=runner.still_held)

"""``merge verify``: read every cluster again and say how each merge stands.

For each confirmed cluster, the learner's own contact and its legacy contacts are read by id
and their documents by contact, then:

- **done**: every legacy contact is ARCHIVED with ``MergedToContactID`` = the learner's contact
  (Xero's Merge), or archived by learnerledger once empty, and none still holds a document.
  The link table records each as ``absorbed`` into the learner, so later resyncs still find
  documents that name it.
- **wrong_direction**: the learner's own contact was merged into a legacy contact. Xero's Merge
  cannot be undone, but it can be put right in Xero: restore the learner's contact (Contacts ›
  Archived › Restore) and merge the legacy contact into it. Until then learnerledger keeps the
  learner on its own contact (whose Contact Code is the learner's RefInternal) and records the
  legacy contact as absorbed, so resyncs find the documents now sitting on it.
- **pending**: something is still to do: the worklist's merge in Xero, or a ``merge apply``.
- **conflict** / **waiting**: what stands in the way, as the plan says.

Money is conserved: each cluster's documents and money are compared with what the last apply
or verify saw (``merge.money``); any difference stops the run, naming the cluster and the
documents, and the cluster is left ``stopped`` until someone checks it and records the change
with ``--accept REF``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from learnerledger.domain.contact import ContactMapping
from learnerledger.errors import BudgetSpent
from learnerledger.jobs import Job, ProgressListener, note_waits
from learnerledger.merge.apply import SWAP_REFUSED
from learnerledger.merge.money import Difference, MoneyNotConserved, Snapshot, compare, dollars
from learnerledger.merge.plan import ClusterPlan, ContactRef
from learnerledger.merge.reads import plan_merges
from learnerledger.merge.worklist import WorklistItem, contact_link, worklist_items
from learnerledger.store import Store, links, merges
from learnerledger.text import count
from learnerledger.xero.protocols import ContactMerger

__all__ = ["JOB", "VerifiedCluster", "VerifyReport", "describe", "merge_verify"]

JOB = "merge verify"
_STATES = ("done", "pending", "wrong_direction", "conflict", "waiting", "stopped")


@dataclass
class VerifiedCluster:
    ref_internal: str
    learner: str
    state: str  # one of _STATES
    survivor: ContactRef | None
    legacy: list[dict[str, Any]] = field(default_factory=list)
    fix: str = ""
    outstanding: Decimal = Decimal("0")
    credit: Decimal = Decimal("0")
    differences: list[Difference] = field(default_factory=list)
    accepted: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "ref_internal": self.ref_internal,
            "learner": self.learner,
            "state": self.state,
            "survivor": self.survivor.as_json() if self.survivor else None,
            "legacy": self.legacy,
            "fix": self.fix,
            "outstanding": str(self.outstanding),
            "credit": str(self.credit),
            "differences": [d.as_json() for d in self.differences],
            "accepted": self.accepted,
        }


@dataclass
class VerifyReport:
    organisation: str
    status: str = "running"
    run_id: int | None = None
    message: str = ""
    calls: int = 0
    clusters: list[VerifiedCluster] = field(default_factory=list)
    worklist: list[WorklistItem] = field(default_factory=list)
    paused: BudgetSpent | None = None

    def counts(self) -> dict[str, int]:
        found = dict.fromkeys(_STATES, 0)
        for c in self.clusters:
            found[c.state] += 1
        return {**found, "worklist": len(self.worklist), "calls": self.calls}

    def as_json(self) -> dict[str, Any]:
        return {
            "organisation": self.organisation,
            "status": self.status,
            "run_id": self.run_id,
            "message": self.message,
            "counts": self.counts(),
            "clusters": [c.as_json() for c in self.clusters],
            "worklist": [i.as_json() for i in self.worklist],
        }


def _left_on(c: ClusterPlan, contact_id: str) -> int:
    """Documents with money still on a legacy contact."""
    for lp in c.legacy:
        if lp.contact.contact_id == contact_id:
            return sum(1 for d in lp.documents if d.action != "left")
    return 0


def _emptied(c: ClusterPlan) -> bool:
    """Every legacy contact still active holds nothing: emptied by ``apply --no-archive``."""
    return c.state == "move" and all(
        lp.outcome != "archive" or not _left_on(c, lp.contact.contact_id) for lp in c.legacy
    )


def _outcome(c: ClusterPlan, *, left_active: bool = False) -> tuple[str, str]:
    """A cluster's verdict and what to do about it. ``left_active``: the last apply emptied
    its legacy contacts and left them active (``--no-archive``)."""
    survivor = c.survivor
    if c.state == "wrong_direction" and survivor is not None:
        into = next(
            (lp.contact for lp in c.legacy if lp.contact.contact_id == survivor.merged_to), None
        )
        into_name = into.name if into else survivor.merged_to
        return "wrong_direction", (
            f"The learner's own contact {survivor.name!r} was merged in Xero into "
            f"{into_name!r}: the wrong way round. In Xero, restore {survivor.name!r} "
            f"(Contacts › Archived: tick it, Restore), then open {into_name!r} and merge it into "
            f"{survivor.name!r}. Until then learnerledger keeps the learner on its own contact "
            f"and has recorded {into_name!r} as absorbed, so resyncs find the documents now on "
            "it. Run `learnerledger merge verify` afterwards."
        )
    if c.state in ("conflict", "waiting"):
        return c.state, " ".join(c.reasons)
    if c.state == "worklist":
        waiting = [lp.contact.name for lp in c.legacy if lp.outcome == "merge"]
        return "pending", (
            f"Merge {', '.join(repr(n) for n in waiting)} into "
            f"{c.target.name if c.target else 'the learner contact'!r} in Xero, as the "
            "worklist says, then verify again."
        )
    if left_active and _emptied(c):
        names = [repr(lp.contact.name) for lp in c.legacy if lp.outcome == "archive"]
        return "done", (
            f"{', '.join(names)} hold nothing any more and were left active (`merge apply "
            "--no-archive`); archive them in Xero if you like."
        )
    if c.state in ("move", "swap"):
        return "pending", "Run `learnerledger merge apply`: what the API can do is not done yet."
    left = [lp.contact.name for lp in c.legacy if _left_on(c, lp.contact.contact_id)]
    if left:
        return "pending", (
            f"{', '.join(repr(n) for n in left)} still hold documents: run `learnerledger merge "
            "apply` to move what the API can, and merge the rest in Xero."
        )
    return "done", ""


def _verified(c: ClusterPlan, state: str, fix: str) -> VerifiedCluster:
    return VerifiedCluster(
        ref_internal=c.ref_internal,
        learner=c.learner,
        state=state,
        survivor=c.target,
        legacy=[
            {
                **lp.contact.as_json(),
                "outcome": lp.outcome,
                "documents_left": _left_on(c, lp.contact.contact_id),
            }
            for lp in c.legacy
        ],
        fix=fix,
        outstanding=c.outstanding,
        credit=c.credit,
    )


def _absorbed(c: ClusterPlan, state: str) -> list[str]:
    """The legacy contacts whose documents belong to the learner for good."""
    if state == "done":
        settled = ("merged", "archived", "archive")  # archive: emptied and left active
        return [lp.contact.contact_id for lp in c.legacy if lp.outcome in settled]
    if state == "wrong_direction" and c.survivor is not None and c.survivor.merged_to:
        return [c.survivor.merged_to]
    return []


def _summary(report: VerifyReport) -> str:
    n = report.counts()
    parts = [f"{n['done']} done", f"{n['pending']} pending"]
    for state in ("wrong_direction", "conflict", "waiting", "stopped"):
        if n[state]:
            parts.append(f"{n[state]} {state.replace('_', ' ')}")
    text = f"{report.organisation}: {count(len(report.clusters), 'cluster')} verified: "
    return text + ", ".join(parts) + f"; {count(n['worklist'], 'merge')} on the worklist."


def merge_verify(
    store: Store,
    client: ContactMerger,
    *,
    mapping: ContactMapping | None = None,
    accept: Iterable[str] = (),
    on_progress: ProgressListener | None = None,
) -> VerifyReport:
    """Verify every confirmed cluster; see the module's docstring. ``accept`` names clusters
    whose documents and money as they are now become the new baseline (after a person checked
    a difference)."""
    mapping = mapping or ContactMapping()
    connection = client.connection
    report = VerifyReport(client.organisation)
    accepted = set(accept)
    job = Job(
        store,
        JOB,
        connection_id=connection.id,
        organisation=client.organisation,
        calls=lambda: client.calls,
        on_progress=on_progress,
    )
    if on_progress is not None:
        note_waits(job, client)
    with job:
        report.run_id = job.run_id
        stored = merges.load_clusters(store, connection.id)
        extra = {}
        for ref, row in stored.items():
            earlier = row.baseline or row.before
            if earlier:
                extra[ref] = Snapshot.from_json(earlier).contacts
        refused = {ref for ref, row in stored.items() if row.state == SWAP_REFUSED}
        planned = plan_merges(
            store, client, job, mapping=mapping, extra=extra, refused_swaps=refused
        )
        known = {c.ref_internal for c in planned.plan.clusters}
        for ref in sorted(accepted - known):
            job.problem(
                ref,
                "unknown_cluster",
                f"--accept {ref}: no confirmed cluster has that RefInternal.",
                fix="Run `learnerledger merge verify` to list the clusters.",
            )
        stopped: dict[str, list[Difference]] = {}
        pending: list[ClusterPlan] = []
        for c in planned.plan.clusters:
            now = planned.snapshots[c.ref_internal]
            held = stored.get(c.ref_internal)
            reference = (held.baseline or held.before) if held is not None else None
            state, fix = _outcome(
                c, left_active=held is not None and held.state in ("emptied", "done")
            )
            verified = _verified(c, state, fix)
            if held is not None and held.before is not None and held.state != "stopped":
                # An apply is writing for this cluster, or was interrupted: leave it to that.
                verified.state = "pending"
                verified.fix = (
                    "A `learnerledger merge apply` is writing for this cluster or was stopped "
                    "half way: run it (again) to finish, then verify."
                )
                report.clusters.append(verified)
                continue
            if c.ref_internal in accepted:
                verified.accepted = True
            elif reference:
                verified.differences = compare(Snapshot.from_json(reference), now)
            with store.transaction() as conn:
                if verified.differences:
                    stopped[c.ref_internal] = verified.differences
                    verified.state = "stopped"
                    verified.fix = (
                        "Check the documents named in Xero; put right what should not have "
                        "changed, or record the change with "
                        f"`learnerledger merge verify --accept {c.ref_internal}`."
                    )
                    merges.put_cluster(conn, connection.id, c.ref_internal, state="stopped")
                else:
                    for contact_id in _absorbed(c, state):
                        links.absorb_contact(conn, connection.id, c.ref_internal, contact_id)
                    kept = (
                        SWAP_REFUSED if state == "pending" and c.ref_internal in refused else state
                    )
                    merges.put_cluster(
                        conn,
                        connection.id,
                        c.ref_internal,
                        state=kept,
                        survivor_id=c.target.contact_id if c.target else None,
                        plan=c.as_json(),
                        before=None,
                        baseline=now.as_json(),
                    )
                    if state == "pending":
                        pending.append(c)
            if verified.state not in ("done", "pending"):
                job.problem(c.ref_internal, verified.state, verified.fix or verified.state)
            report.clusters.append(verified)

        def link(contact_id: str) -> str:
            return contact_link(connection.base_url, connection.tenant_id, contact_id)

        report.worklist = worklist_items(pending, link)
        report.calls = job.used_calls()
        job.counts.update(report.counts())
        job.message = _summary(report)
        if stopped:
            raise MoneyNotConserved(stopped, when="since the last check")
    report.status = str(job.outcome)
    report.paused = job.paused
    report.message = job.message
    report.calls = job.calls
    return report


def describe(c: VerifiedCluster) -> str:
    """One line for a terminal."""
    survivor = c.survivor.name if c.survivor else "no contact"
    return f"{c.ref_internal} {c.state}: {survivor} (outstanding {dollars(c.outstanding)})"

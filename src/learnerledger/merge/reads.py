"""Reading clusters as Xero holds them now, and the plan made from that read.

A merge never trusts the mirror for what it writes or checks: Xero's own Merge moves documents
without changing their ``UpdatedDateUTC`` (so an incremental pull would not see the move), and
people work in Xero between two runs. So every plan, apply and verify reads the clusters'
contacts by id (with ``MergedToContactID``) and their invoices, credit notes, prepayments and
overpayments by contact (a few calls per 20 to 50 contacts, or the whole list when that is
fewer calls). The contacts read are mirrored (``store.mirror``); the documents are used as
read.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from learnerledger.domain.contact import ContactMapping
from learnerledger.domain.documents import MirroredDocument
from learnerledger.domain.mirror import ContactIndex
from learnerledger.errors import BudgetSpent, UnexpectedResponse
from learnerledger.jobs import Job, ProgressListener, note_waits
from learnerledger.merge.money import Snapshot, snapshot
from learnerledger.merge.plan import MergePlan, cluster_contacts, make_merge_plan
from learnerledger.store import Store, links, merges, mirror
from learnerledger.store import duplicates as pairs_repo
from learnerledger.store.learners import iter_learners
from learnerledger.xero.client import BATCH_LIMIT, CONTACT_DOCUMENT_STREAMS, RecordProblem
from learnerledger.xero.mirror import pull_contacts, store_contacts
from learnerledger.xero.protocols import ContactMerger
from learnerledger.xero.wire import Document, WireError, parse_guid, to_ms

__all__ = [
    "JOB",
    "PlanReport",
    "Planned",
    "merge_plan",
    "plan_merges",
    "read_documents",
    "refresh_contacts",
]

JOB = "merge plan"


def _mirrored(d: Document) -> MirroredDocument:
    return MirroredDocument(
        kind=d.kind,
        document_id=d.document_id,
        type=d.type,
        number=d.number,
        reference=d.reference,
        status=d.status,
        contact_id=d.contact_id,
        applies_to_id=d.applies_to_id,
        date=d.date,
        due_date=d.due_date,
        currency=d.currency,
        total=d.total,
        amount_due=d.amount_due,
        amount_paid=d.amount_paid,
        amount_credited=d.amount_credited,
        remaining_credit=d.remaining_credit,
        updated_ms=to_ms(d.updated),
        data=d.raw,
    )


def _problem_contact(problem: RecordProblem) -> str | None:
    """The contact of a record Xero sent malformed, when its JSON says."""
    try:
        raw = json.loads(problem.raw)
        return parse_guid(raw["Contact"]["ContactID"])
    except (ValueError, KeyError, TypeError, WireError):
        return None


@dataclass
class Fresh:
    """Documents of some contacts as Xero holds them now, and the contacts whose documents
    could not all be read (with why)."""

    documents: list[MirroredDocument] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)


def read_documents(client: ContactMerger, contact_ids: Sequence[str]) -> Fresh:
    """Every invoice, credit note, prepayment and overpayment of ``contact_ids``, read now.
    A record Xero sends malformed makes its contact unreadable; one whose contact cannot be
    told stops the read (nothing could be checked safely)."""
    fresh = Fresh()
    if not contact_ids:
        return fresh
    wanted = set(contact_ids)
    for stream in CONTACT_DOCUMENT_STREAMS:
        for page in client.documents_of_contacts(stream, contact_ids):
            fresh.documents += [_mirrored(d) for d in page.records if d.contact_id in wanted]
            for problem in page.problems:
                contact_id = _problem_contact(problem)
                if contact_id is not None and contact_id not in wanted:
                    continue  # another contact's (the whole stream was read)
                if contact_id is None:
                    raise UnexpectedResponse(
                        f"Xero sent a document ({stream}) that cannot be read and whose "
                        f"contact cannot be told: {problem.reason}",
                        fix="Nothing was written. Run the command again; if it persists, open "
                        "the document in Xero and save it again.",
                        organisation=client.organisation,
                        request=f"GET /{stream}",
                    )
                fresh.unreadable[contact_id] = (
                    f"Xero sent a document of this contact that cannot be read "
                    f"({problem.record_id or 'no id'}: {problem.reason}); nothing is done for "
                    "the cluster until it reads. Open it in Xero and save it again."
                )
    return fresh


def refresh_contacts(store: Store, client: ContactMerger, contact_ids: Sequence[str]) -> set[str]:
    """Read ``contact_ids`` by id (archived ones and MergedToContactID included) into the
    mirror; returns the ids Xero answered for."""
    ids = sorted(set(contact_ids))
    answered: set[str] = set()
    for first in range(0, len(ids), BATCH_LIMIT):
        page = client.get_contacts(ids[first : first + BATCH_LIMIT])
        now_ms = int(time.time() * 1000)
        with store.transaction() as conn:
            store_contacts(conn, client.connection.id, page.records, now_ms)
        answered |= {c.contact_id for c in page.records}
    return answered


@dataclass
class Planned:
    """A plan made from a fresh read, with each cluster's documents and money as read."""

    plan: MergePlan
    snapshots: dict[str, Snapshot]
    index: ContactIndex


def plan_merges(
    store: Store,
    client: ContactMerger,
    job: Job,
    *,
    mapping: ContactMapping,
    extra: Mapping[str, Iterable[str]] | None = None,
    refused_swaps: Iterable[str] = (),
) -> Planned:
    """Read every confirmed cluster afresh and plan it. ``extra`` names more contacts per
    learner to include in its snapshot (those of an earlier snapshot, e.g. the contact a swap
    archived), so a document that left them is noticed; ``refused_swaps`` the learners whose
    swap Xero refused before (they are not swapped again)."""
    connection_id = client.connection.id
    calls_before = client.calls
    pulled = pull_contacts(store, client)
    if pulled.paused is not None:
        raise pulled.paused
    with store.read() as conn:
        confirmed = [
            (p.ref_internal, p.contact_id)
            for p in pairs_repo.list_pairs(conn, connection_id, status="confirmed")
        ]
        linked, _ = links.load_links(conn, connection_id)
        absorbed = links.load_absorbed(conn, connection_id)
        learners = {x.ref_internal: x for x in iter_learners(conn)}
    made_here = merges.contacts_created_by_sync(store, connection_id)
    clusters = cluster_contacts(confirmed, linked)
    more = {ref: set(ids) for ref, ids in (extra or {}).items() if ref in clusters}
    every = sorted(
        {i for ids in clusters.values() for i in ids} | {i for s in more.values() for i in s}
    )
    job.progress("reading", 0, len(every), note="contacts and documents of the clusters")
    answered = refresh_contacts(store, client, every)
    index = mirror.load_contact_index(store, connection_id)
    for gone in set(every) - answered:
        index.by_id.pop(gone, None)
    fresh = read_documents(client, every)
    job.progress("reading", len(every), len(every))
    plan = make_merge_plan(
        confirmed,
        linked,
        index,
        fresh.documents,
        learners=learners,
        made_here=made_here,
        absorbed=absorbed,
        mapping=mapping,
        organisation=client.organisation,
        unreadable=fresh.unreadable,
        refused_swaps=refused_swaps,
    )
    plan.read_calls = client.calls - calls_before
    snapshots = {
        c.ref_internal: snapshot(
            set(clusters[c.ref_internal]) | more.get(c.ref_internal, set()), fresh.documents
        )
        for c in plan.clusters
    }
    return Planned(plan, snapshots, index)


@dataclass
class PlanReport:
    """``merge plan``: the plan (None when a spent rate budget paused the read) and a line
    saying what it holds. A plan writes nothing and keeps no run record."""

    organisation: str
    status: str  # succeeded | paused
    message: str
    plan: MergePlan | None = None
    paused: BudgetSpent | None = None
    run_id: int | None = None  # a plan is no run of the History


def merge_plan(
    store: Store,
    client: ContactMerger,
    *,
    mapping: ContactMapping,
    on_progress: ProgressListener | None = None,
) -> PlanReport:
    """Read every confirmed cluster afresh and plan it, as ``learnerledger merge plan`` does:
    a dry run of the job frame (no lease, no run record; nothing is written to Xero)."""
    job = Job(
        store,
        JOB,
        connection_id=client.connection.id,
        organisation=client.organisation,
        on_progress=on_progress,
        record=False,
    )
    if on_progress is not None:
        note_waits(job, client)
    planned = None
    with job:
        planned = plan_merges(store, client, job, mapping=mapping)
    if planned is None:
        return PlanReport(client.organisation, "paused", job.message, paused=job.paused)
    plan = planned.plan
    return PlanReport(client.organisation, "succeeded", plan.summary(), plan)

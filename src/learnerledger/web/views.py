"""What each page shows, as plain data: the HTML pages and the JSON API render the same
views, and every view is read through the library functions the CLI uses (``status``, the
store's repositories, the duplicate decisions)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from learnerledger.config import Config
from learnerledger.domain.mirror import MirroredContact
from learnerledger.resync import resync_scope
from learnerledger.resync.reconcile import JOB as RECONCILE_JOB
from learnerledger.resync.run import JOB as RESYNC_JOB
from learnerledger.status import collect_status
from learnerledger.store import Store, connections, duplicates, history, listing
from learnerledger.store.history import RunRow
from learnerledger.store.learners import get_learner
from learnerledger.store.listing import LINK_STATES

__all__ = [
    "PAGE_SIZE",
    "Organisation",
    "current_organisation",
    "dashboard",
    "duplicate_clusters",
    "learners",
    "number",
    "organisations",
    "resync_defaults",
    "run_json",
]

PAGE_SIZE = 50

# What each link state means for a person, and what to do about it.
STATE_TEXT = {
    "linked": "Has its own contact in Xero.",
    "ready": "Ready: the next sync gives it a contact.",
    "invalid": "Not ready: fix it in the SMS (the reasons say what).",
    "conflict": "Something in Xero stands in the way (the problem says how to fix it).",
    "not_flagged": "Sync to Xero is off in the SMS.",
}


@dataclass(frozen=True)
class Organisation:
    id: int
    name: str
    tenant_id: str
    state: str
    state_detail: str
    connected_utc: datetime | None
    base_url: str = ""  # Xero's API, or a sandbox's: where its contacts open (merge.worklist)


def organisations(store: Store) -> list[Organisation]:
    """The Xero organisations ever connected, disconnected ones included."""
    since = listing.connected_since(store)
    return [
        Organisation(
            c.id, c.name, c.tenant_id or "", c.state, c.state_detail, since.get(c.id), c.base_url
        )
        for c in connections.list_connections(store, "xero")
    ]


def number(value: str | None, default: int = 1) -> int:
    """A page number or an id from a query string or form; ``default`` when it is not one."""
    try:
        return int(value or default)
    except ValueError:
        return default


def current_organisation(store: Store, wanted: str | int | None) -> Organisation | None:
    """The organisation ``wanted`` names (its id), else the first connected one."""
    found = organisations(store)
    for org in found:
        if wanted is not None and str(org.id) == str(wanted):
            return org
    live = [o for o in found if o.state != "disconnected"]
    return live[0] if live else (found[0] if found else None)


def _conflicts(store: Store, org: Organisation | None) -> dict[str, list[dict[str, Any]]]:
    """The problems the last sync recorded per learner that was ready: those in conflict."""
    if org is None:
        return {}
    run = history.last_run(store, "sync learners", org.id)
    if run is None:
        return {}
    by_ref: dict[str, list[dict[str, Any]]] = {}
    for problem in run.problems:
        by_ref.setdefault(str(problem.get("record", "")), []).append(problem)
    return by_ref


def learners(
    store: Store,
    org: Organisation | None,
    *,
    query: str = "",
    state: str | None = None,
    page: int = 1,
) -> dict[str, Any]:
    """A page of learners with their link state, Xero contact, and what to fix."""
    problems = _conflicts(store, org)
    conflicts = set(problems)  # a learner not ready shows as invalid first
    state = state if state in LINK_STATES else None
    page = max(1, page)
    found = listing.page_learners(
        store,
        org.id if org else None,
        query=query,
        state=state,
        conflicts=conflicts,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    lines = []
    for line in found.lines:
        item = line.as_json()
        item["problems"] = problems.get(line.ref_internal, []) if line.state == "conflict" else []
        item["state_text"] = STATE_TEXT[line.state]
        lines.append(item)
    return {
        "organisation": org.name if org else None,
        "query": query,
        "state": state,
        "page": page,
        "pages": max(1, -(-found.total // PAGE_SIZE)),
        "total": found.total,
        "learners": lines,
        "states": list(LINK_STATES),
    }


def link_state_counts(store: Store, org: Organisation | None) -> dict[str, int]:
    conflicts = set(_conflicts(store, org))
    return listing.count_link_states(store, org.id if org else None, conflicts=conflicts)


def _documents_attention(store: Store, org: Organisation | None) -> list[dict[str, str]]:
    """The documents the last resync found no learner for, and the mismatches the last
    reconciliation found, each linking to the Documents page."""
    if org is None:
        return []
    found = []
    resynced = history.last_run(store, RESYNC_JOB, org.id)
    unmatched = int(resynced.counts.get("unmatched") or 0) if resynced else 0
    if unmatched:
        found.append(
            {
                "text": f"{unmatched} "
                + ("document in Xero belongs" if unmatched == 1 else "documents in Xero belong")
                + " to no learner; the last resync says why for each.",
                "link": "/documents/unmatched",
                "action": "See the unmatched documents",
            }
        )
    checked = history.last_run(store, RECONCILE_JOB, org.id)
    mismatches = int(checked.counts.get("mismatches") or 0) if checked else 0
    if checked is not None and checked.status == "succeeded" and mismatches:
        found.append(
            {
                "text": f"The last reconciliation found {mismatches} "
                f"{'mismatch' if mismatches == 1 else 'mismatches'} between Xero and the SMS.",
                "link": "/documents/reconciliation",
                "action": "See each one and its likely cause",
            }
        )
    return found


def dashboard(store: Store, config: Config, org: Organisation | None) -> dict[str, Any]:
    """``status`` (the same document as ``status --json``), the link states, and what needs
    attention, each with the page that fixes it."""
    status = collect_status(store, config)
    states = link_state_counts(store, org)
    attention: list[dict[str, str]] = []
    xero = [c for c in status["connections"] if c["kind"] == "xero"]
    wisenet = [c for c in status["connections"] if c["kind"] == "wisenet"]
    if not any(c["state"] == "connected" for c in xero):
        attention.append(
            {"text": "Xero is not connected.", "link": "/settings", "action": "Connect Xero"}
        )
    if not wisenet:
        attention.append(
            {
                "text": "The student management system (Wisenet) is not connected.",
                "link": "/settings",
                "action": "Connect Wisenet",
            }
        )
    for c in status["connections"]:
        if c["state"] == "reconnect_needed":
            attention.append(
                {
                    "text": f"{c['organisation']} needs reconnecting: {c['state_detail']}",
                    "link": "/settings",
                    "action": "Reconnect",
                }
            )
    if status["counts"]["duplicates_open"]:
        attention.append(
            {
                "text": f"{status['counts']['duplicates_open']} possible duplicates wait for a "
                "decision.",
                "link": "/duplicates",
                "action": "Review duplicates",
            }
        )
    if states["invalid"]:
        attention.append(
            {
                "text": f"{states['invalid']} learners are not ready for Xero (fix them in the "
                "SMS).",
                "link": "/learners?state=invalid",
                "action": "See why",
            }
        )
    if states["conflict"]:
        attention.append(
            {
                "text": f"{states['conflict']} learners are in conflict with Xero.",
                "link": "/learners?state=conflict",
                "action": "See how to fix",
            }
        )
    for run in status["last_runs"]:
        if run["status"] in ("failed", "paused"):
            attention.append(
                {
                    "text": f"{run['job']} {run['status']}: {run['message']}",
                    "link": f"/history/{run['id']}",
                    "action": "Open the run",
                }
            )
    attention.extend(_documents_attention(store, org))
    if status["counts"]["records_unreadable"]:
        attention.append(
            {
                "text": f"{status['counts']['records_unreadable']} records from Xero could not "
                "be read; the next pull reads them again.",
                "link": "/history",
                "action": "See the runs",
            }
        )
    return {
        "status": status,
        "organisation": org.name if org else None,
        "link_states": states,
        "attention": attention,
    }


# -- duplicates -----------------------------------------------------------------------------


# The rows of the side-by-side view: (label, evidence fields, learner value, contact value).
def _phones(contact: MirroredContact | None, kinds: Sequence[str]) -> str:
    if contact is None:
        return ""
    for phone in contact.data.get("Phones") or []:
        if phone.get("PhoneType") in kinds:
            parts = [phone.get(k) or "" for k in ("PhoneCountryCode", "PhoneAreaCode")]
            number = " ".join(p for p in [*parts, phone.get("PhoneNumber") or ""] if p)
            if number:
                return number
    return ""


def _address(contact: MirroredContact | None) -> str:
    if contact is None:
        return ""
    for address in contact.data.get("Addresses") or []:
        text = ", ".join(
            str(address.get(k))
            for k in ("AddressLine1", "City", "Region", "PostalCode")
            if address.get(k)
        )
        if text:
            return text
    return ""


def _contact_fields(contact: MirroredContact | None) -> dict[str, str]:
    data = contact.data if contact else {}
    return {
        "name": contact.name if contact else "",
        "first_name": str(data.get("FirstName") or ""),
        "last_name": str(data.get("LastName") or ""),
        "email": str(data.get("EmailAddress") or ""),
        "mobile": _phones(contact, ("MOBILE",)),
        "landline": _phones(contact, ("DEFAULT", "DDI")),
        "address": _address(contact),
        "reference": " / ".join(
            str(data.get(k)) for k in ("ContactNumber", "AccountNumber") if data.get(k)
        ),
        "status": contact.status if contact else "",
    }


_ROWS = (
    ("Name", "name"),
    ("First name", "first_name"),
    ("Last name", "last_name"),
    ("Email", "email"),
    ("Mobile", "mobile"),
    ("Phone", "landline"),
    ("Address", "address"),
    ("Number", "reference"),
    ("Status", "status"),
)


def _learner_fields(store: Store, ref: str) -> dict[str, str]:
    with store.read() as conn:
        learner = get_learner(conn, ref)
    if learner is None:
        return {}
    street = learner.street
    return {
        "name": f"{learner.first_name} {learner.last_name}".strip(),
        "first_name": learner.first_name,
        "last_name": learner.last_name,
        "email": learner.email,
        "mobile": learner.mobile,
        "landline": learner.phone_home or learner.phone_work,
        "address": ", ".join(
            p for p in (street.line, street.suburb, street.state, street.postcode) if p
        ),
        "reference": learner.ref_internal,
        "status": "flagged for Xero" if learner.sync_to_xero else "not flagged",
    }


def _verdict(evidence: Sequence[Mapping[str, Any]]) -> str:
    weight = sum(float(e.get("weight") or 0) for e in evidence)
    if not evidence:
        return ""
    return "agree" if weight > 0 else ("differ" if weight < 0 else "neutral")


def duplicate_clusters(
    store: Store,
    org: Organisation | None,
    *,
    status: str | None = None,
    min_score: float | None = None,
    page: int = 1,
) -> dict[str, Any]:
    """Each learner with its possible legacy contacts, side by side, field by field."""
    if org is None:
        return {"organisation": None, "clusters": [], "total": 0, "page": 1, "pages": 1}
    pairs = duplicates.list_pairs(store, org.id, status=status, min_score=min_score)
    by_ref: dict[str, list[duplicates.StoredPair]] = {}
    for pair in pairs:
        by_ref.setdefault(pair.ref_internal, []).append(pair)
    refs = sorted(by_ref, key=lambda r: (-max(p.score for p in by_ref[r]), r))
    page = max(1, page)
    shown = refs[(page - 1) * 20 : page * 20]
    ids = {p.contact_id for r in shown for p in by_ref[r]} | {
        p.survivor_id for r in shown for p in by_ref[r] if p.survivor_id
    }
    contacts = listing.contacts_by_id(store, org.id, ids)
    clusters = []
    for ref in shown:
        learner = _learner_fields(store, ref)
        survivor_id = next((p.survivor_id for p in by_ref[ref] if p.survivor_id), None)
        survivor = _contact_fields(contacts.get(survivor_id)) if survivor_id else None
        legacy = []
        for pair in by_ref[ref]:
            contact = _contact_fields(contacts.get(pair.contact_id))
            evidence = [dict(e) for e in pair.evidence]
            rows = []
            for label, key in _ROWS:
                about = [e for e in evidence if e.get("field") == key]
                rows.append(
                    {
                        "label": label,
                        "learner": learner.get(key, ""),
                        "survivor": survivor.get(key, "") if survivor else "",
                        "contact": contact.get(key, ""),
                        "verdict": _verdict(about),
                        "evidence": "; ".join(str(e.get("detail") or "") for e in about),
                    }
                )
            other = [e for e in evidence if e.get("field") not in {k for _, k in _ROWS}]
            legacy.append(
                {
                    **pair.as_json(),
                    "contact_name": contact["name"],
                    "rows": rows,
                    "other_evidence": [str(e.get("detail") or "") for e in other],
                }
            )
        clusters.append(
            {
                "ref_internal": ref,
                "learner_name": learner.get("name", ""),
                "survivor_id": survivor_id,
                "survivor_name": survivor["name"] if survivor else None,
                "pairs": legacy,
            }
        )
    open_pairs = [p for p in pairs if p.decision is None and p.found]
    return {
        "organisation": org.name,
        "status": status,
        "min_score": min_score,
        "clusters": clusters,
        "total": len(refs),
        "pairs": len(pairs),
        "open": len(open_pairs),
        "open_auto": sum(1 for p in open_pairs if p.status == "auto"),
        "page": page,
        "pages": max(1, -(-len(refs) // 20)),
    }


# -- history --------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else None


def run_json(run: RunRow, live: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A run as the History shows it; ``live`` is a newer progress event held in memory."""
    progress = dict(live) if live else (dict(run.progress) if run.progress else None)
    return {
        "id": run.id,
        "job": run.job,
        "organisation": run.organisation,
        "status": run.status,
        "started_utc": _iso(run.started),
        "finished_utc": _iso(run.finished),
        "counts": run.counts,
        "calls": run.calls,
        "problems": run.problems,
        "problems_dropped": run.problems_dropped,
        "message": run.message,
        "progress": progress,
    }


@dataclass(frozen=True)
class ResyncDefaults:
    date_from: date
    date_to: date
    first: bool  # no documents resync has run yet


def resync_defaults(
    store: Store, org: Organisation, *, today: date | None = None
) -> ResyncDefaults:
    """The Resync form's range: what ``learnerledger resync documents`` covers without dates
    (from one year before the organisation was connected, or the first resync's first day,
    to today)."""
    scope = resync_scope(store, org.id, today or datetime.now(UTC).date())
    return ResyncDefaults(scope.date_from, scope.date_to, scope.first)

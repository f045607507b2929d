"""What the Merge page shows, as plain data for the page and the JSON API alike:

- the confirmed clusters (``store.duplicates``): each learner's own contact and the legacy
  contacts people confirmed as the same person;
- the last merge plan, apply and verify this server made for the organisation
  (``learnerledger merge plan|apply|verify``'s own results, kept in memory by ``web/jobs.py``):
  the plan's documents classified ``move``, ``blocked`` or ``left`` with their reasons, its
  totals and the calls it costs; what the apply wrote; how each merge stands;
- the worklist for Xero's Merge from the newer of the apply and the verify
  (``merge.worklist``: its links, CSV and printable page);
- the merge jobs running here, those that failed, and the merge runs of the History (the
  command line's too).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from learnerledger.merge import ApplyReport, PlanReport, VerifyReport, WorklistItem
from learnerledger.merge.apply import JOB as APPLY_JOB
from learnerledger.merge.verify import JOB as VERIFY_JOB
from learnerledger.merge.worklist import contact_link
from learnerledger.store import Store, duplicates, history, listing
from learnerledger.web.documents import run_summary
from learnerledger.web.jobs import MERGE_STEPS, BackgroundJobs, Kept, MergeKept, Task
from learnerledger.web.views import Organisation, run_json

__all__ = ["CLUSTERS_PER_PAGE", "confirmed", "merge", "worklist"]

CLUSTERS_PER_PAGE = 20
_PLAN_STATES = ("move", "worklist", "swap", "done", "wrong_direction", "waiting", "conflict")
# What each state of a cluster means for a person: in the plan, then after a verify.
STATE_TEXT = {
    "move": "Everything moves through the API; the emptied legacy contacts are archived.",
    "worklist": "Some history only Xero's Merge can move: it goes on the worklist; what the "
    "API can move, moves.",
    "swap": "The legacy contact takes the learner's identity: no merge in Xero is needed.",
    "done": "Nothing left to do.",
    "wrong_direction": "The learner's own contact was merged into a legacy contact: the wrong "
    "way round.",
    "waiting": "The learner has no contact of its own yet.",
    "conflict": "Something a person must settle first; nothing is done for it until then.",
    "pending": "Still to do: the worklist's merge in Xero, or an apply.",
    "stopped": "Stopped by the money check until someone looks at it.",
}
# What happens to each legacy contact of a cluster.
OUTCOME_TEXT = {
    "archive": "its documents move through the API, then it is archived",
    "merge": "needs Xero's Merge: it is on the worklist",
    "swap": "takes the learner's Contact Code, Name and fields",
    "merged": "already merged into the learner's contact",
    "archived": "archived, and holds nothing",
    "problem": "stands in the way",
}


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else None


def _linker(org: Organisation) -> Callable[[str], str]:
    """Where a contact opens: Xero's web app, or the sandbox's own page (``merge.worklist``)."""
    return lambda contact_id: contact_link(org.base_url, org.tenant_id, contact_id)


def confirmed(store: Store, org: Organisation | None) -> list[dict[str, Any]]:
    """The confirmed clusters: each learner's own contact and the legacy contacts to merge in."""
    if org is None:
        return []
    link = _linker(org)
    pairs = duplicates.list_pairs(store, org.id, status="confirmed")
    contacts = listing.contacts_by_id(
        store,
        org.id,
        {p.contact_id for p in pairs} | {p.survivor_id for p in pairs if p.survivor_id},
    )
    by_ref: dict[str, list[duplicates.StoredPair]] = {}
    for pair in pairs:
        by_ref.setdefault(pair.ref_internal, []).append(pair)

    def contact(contact_id: str) -> dict[str, Any]:
        found = contacts.get(contact_id)
        name = found.name if found else None
        return {"contact_id": contact_id, "name": name, "link": link(contact_id)}

    clusters = []
    for ref, found in sorted(by_ref.items()):
        survivor = next((p.survivor_id for p in found if p.survivor_id), None)
        clusters.append(
            {
                "ref_internal": ref,
                "survivor": contact(survivor) if survivor else None,
                "legacy": [{**contact(p.contact_id), "score": p.score} for p in found],
            }
        )
    return clusters


def _made(kept: Kept[Any]) -> dict[str, Any]:
    return {"made_utc": _iso(kept.made), "started_by": kept.started_by, "run_id": kept.run_id}


def _linked(contact: dict[str, Any] | None, link: Callable[[str], str]) -> None:
    if contact:
        contact["link"] = link(contact["contact_id"])


def _plan(kept: MergeKept, link: Callable[[str], str]) -> dict[str, Any] | None:
    """The newest plan: the plan made here, or the one the last apply acted on."""
    made: Kept[PlanReport] | Kept[ApplyReport] | None = kept.plan
    source = "plan"
    applied = kept.apply
    if (
        applied is not None
        and applied.result.plan is not None
        and (made is None or applied.made > made.made)
    ):
        made, source = applied, "apply"
    if made is None:
        return None
    plan = made.result.plan
    assert plan is not None
    data = plan.as_json()
    actions = dict.fromkeys(("move", "blocked", "left"), 0)
    for c in data["clusters"]:
        _linked(c["survivor"], link)
        _linked(c["target"], link)
        c["state_text"] = STATE_TEXT[c["state"]]
        c["has_credit"] = Decimal(c["credit"]) != 0
        for lp in c["legacy"]:
            _linked(lp["contact"], link)
            lp["outcome_text"] = OUTCOME_TEXT.get(lp["outcome"], lp["outcome"])
            for d in lp["documents"]:
                actions[d["action"]] += 1
    return {
        **_made(made),
        "source": source,
        # A verify read the clusters since: the plan shows them as they were before it.
        "stale": kept.verify is not None and kept.verify.made > made.made,
        "message": plan.summary(),
        "read_calls": plan.read_calls,
        "documents": actions,
        "acts": any(c.state in ("move", "worklist", "swap") for c in plan.clusters),
        **data,
    }


def worklist(
    kept: MergeKept,
) -> tuple[Kept[ApplyReport] | Kept[VerifyReport] | None, list[WorklistItem]]:
    """The worklist for Xero's Merge from the newer of the last apply and the last verify
    that went through (a verify's lists what is still to do), and that result."""
    done = [
        k for k in (kept.apply, kept.verify) if k is not None and k.result.status == "succeeded"
    ]
    source = max(done, key=lambda k: k.made) if done else None
    return source, list(source.result.worklist) if source is not None else []


def _worklist(kept: MergeKept) -> dict[str, Any]:
    source, items = worklist(kept)
    return {
        "from": None if source is None else ("apply" if source is kept.apply else "verify"),
        **({} if source is None else _made(source)),
        "items": [i.as_json() for i in items],
    }


def _applied(kept: Kept[ApplyReport] | None) -> dict[str, Any] | None:
    if kept is None:
        return None
    data = kept.result.as_json()
    data.pop("plan", None)  # the plan section shows it
    data.pop("worklist", None)  # and the worklist section this
    return {**_made(kept), **data}


def _verified(kept: Kept[VerifyReport] | None, link: Callable[[str], str]) -> dict[str, Any] | None:
    if kept is None:
        return None
    data = kept.result.as_json()
    data.pop("worklist", None)
    for c in data["clusters"]:
        _linked(c["survivor"], link)
        c["state_text"] = STATE_TEXT.get(c["state"], "")
        for contact in c["legacy"]:
            _linked(contact, link)
    return {
        **_made(kept),
        **data,
        "wrong_direction": [c for c in data["clusters"] if c["state"] == "wrong_direction"],
    }


def _tasks(jobs: BackgroundJobs, org: Organisation) -> dict[str, Any]:
    """The merge jobs of the organisation running here, and each step whose last job here
    failed or was refused (its message says why)."""
    running: list[dict[str, Any]] = []
    last: dict[str, Task] = {}
    for task in jobs.tasks():  # newest first
        if task.connection_id != org.id or task.job not in MERGE_STEPS:
            continue
        if task.status == "running":
            running.append(task.as_json())
        else:
            last.setdefault(MERGE_STEPS[task.job], task)
    failed = {
        step: task.as_json() for step, task in last.items() if task.status in ("failed", "refused")
    }
    return {"running": running, "failed": failed}


def _elsewhere(
    store: Store, org: Organisation, jobs: BackgroundJobs, kept: MergeKept
) -> dict[str, Any]:
    """The last apply and verify of the History, and whether it is another's (the command
    line's, or another server's): running, or newer than what this server holds."""
    found: dict[str, Any] = {}
    for step, job in (("apply", APPLY_JOB), ("verify", VERIFY_JOB)):
        run = history.last_run(store, job, org.id)
        held: Kept[Any] | None = getattr(kept, step)
        ours = (
            run is None
            or jobs.for_run(run.id) is not None
            or (held is not None and held.run_id == run.id)
        )
        found[step] = {
            "last_run": run_summary(run),
            "running": run_json(run) if run and not ours and run.status == "running" else None,
            "newer": not ours,
        }
    return found


def _page_of(
    plan: dict[str, Any] | None, state: str | None, page: int
) -> tuple[dict[str, Any] | None, int]:
    """The plan with the clusters of one page (of those in ``state``), and the pages."""
    if plan is None:
        return None, 1
    shown = [c for c in plan["clusters"] if state is None or c["state"] == state]
    pages = max(1, -(-len(shown) // CLUSTERS_PER_PAGE))
    first = (min(page, pages) - 1) * CLUSTERS_PER_PAGE
    return {
        **plan,
        "clusters": shown[first : first + CLUSTERS_PER_PAGE],
        "clusters_total": len(plan["clusters"]),
        "shown": len(shown),
    }, pages


def merge(
    store: Store,
    org: Organisation | None,
    jobs: BackgroundJobs,
    *,
    state: str | None = None,
    page: int = 1,
) -> dict[str, Any]:
    """Everything the Merge page shows: the confirmed clusters, the plan (its clusters a page
    at a time, of one state if asked), the apply, the worklist, the verify, the merge jobs
    running here and the merge runs of the History."""
    state = state if state in _PLAN_STATES else None
    page = max(1, page)
    if org is None:
        return {"organisation": None, "clusters": [], "plan": None, "state": state, "page": 1}
    kept = jobs.merged(org.id)
    link = _linker(org)
    plan, pages = _page_of(_plan(kept, link), state, page)
    return {
        "organisation": org.name,
        "clusters": confirmed(store, org),
        "plan": plan,
        "state": state,
        "states": list(_PLAN_STATES),
        "page": min(page, pages),
        "pages": pages,
        "apply": _applied(kept.apply),
        "worklist": _worklist(kept),
        "verify": _verified(kept.verify, link),
        **_tasks(jobs, org),
        "history": _elsewhere(store, org, jobs, kept),
    }

"""What the Documents pages show, as plain data for the pages and the JSON API alike:

- the organisation's sales documents per learner, each with what Xero holds and what the
  resync wrote of it to the SMS (``store.listing.page_documents`` over the resync's records),
  and what of it Wisenet v1 cannot hold (``resync.shape``, the resync's own shaping);
- the documents the last resync found no learner for, and what it could not put in Wisenet's
  shape, as that run listed them (its problems in the History);
- the reconciliation: ``resync.reconcile``'s result, the same as ``learnerledger report
  reconcile`` prints, with the same CSV as ``report reconcile --csv``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from learnerledger.domain.documents import MirroredDocument
from learnerledger.resync import Reconciliation, Scope, resync_scope
from learnerledger.resync.mapping import (
    CONTACT_NOT_MIRRORED,
    NO_CONTACT,
    NO_SMS_ID,
    NOT_A_LEARNER,
    UNKNOWN_LEARNER,
)
from learnerledger.resync.reconcile import JOB as RECONCILE_JOB
from learnerledger.resync.run import JOB as RESYNC_JOB
from learnerledger.resync.shape import CREDIT_KINDS, allocations, open_credit, wisenet_invoice
from learnerledger.store import Store, history, listing
from learnerledger.store.history import RunRow
from learnerledger.store.listing import SMS_STATES, DocumentLine
from learnerledger.web.jobs import Reconciled
from learnerledger.web.views import PAGE_SIZE, Organisation

__all__ = [
    "KINDS",
    "LISTS",
    "NOT_REPRESENTABLE",
    "UNMATCHED",
    "documents",
    "listed",
    "reconciliation",
    "reconciliation_json",
]

KINDS = ("invoice", "credit_note", "prepayment", "overpayment")
# Sales documents only: what the resync reads (bills and refunds are not a learner's).
_SALES_TYPES = ("ACCREC", *(types[0] for types in CREDIT_KINDS.values()))
# The codes of the resync's problems: a document that maps to no learner (resync.mapping)...
UNMATCHED = (NOT_A_LEARNER, UNKNOWN_LEARNER, NO_SMS_ID, CONTACT_NOT_MIRRORED, NO_CONTACT)
# ...and what of a document Wisenet v1 cannot hold (resync.shape's notes).
NOT_REPRESENTABLE = ("fractional_quantity", "discount", "open_credit")
# What each code means for a person (the message of each problem says what to do).
CODE_TEXT = {
    NOT_A_LEARNER: "Not a learner's contact: an employer, a cash customer, or a learner's "
    "legacy contact not merged yet",
    UNKNOWN_LEARNER: "Linked to a learner the local store does not hold",
    NO_SMS_ID: "A Wisenet learner without its LearnerId",
    CONTACT_NOT_MIRRORED: "The contact is not in the local copy of Xero",
    NO_CONTACT: "The document names no contact",
    "fractional_quantity": "A quantity that is not a whole number",
    "discount": "A discounted line",
    "open_credit": "Credit not applied to an invoice",
}
_SMS_NAMES = {"wisenet": "Wisenet", "csv": "the local store (for the CSV export)"}
# What a mismatch's field means on the page.
_FIELD_TEXT = {
    "document": "on one side only",
    "learner": "the learner",
    "Status": "status",
    "AmountTotal": "total",
    "AmountDue": "amount due",
}
_XERO_INVOICE = "https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID="


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else None


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _pages(total: int, size: int = PAGE_SIZE) -> int:
    return max(1, -(-total // size))


def run_summary(run: RunRow | None) -> dict[str, Any] | None:
    """A finished run as the Documents pages mention it."""
    if run is None:
        return None
    return {
        "id": run.id,
        "job": run.job,
        "status": run.status,
        "finished_utc": _iso(run.finished),
        "counts": dict(run.counts),
        "message": run.message,
    }


def last_resync(store: Store, org: Organisation | None) -> RunRow | None:
    return history.last_run(store, RESYNC_JOB, org.id) if org else None


# -- the documents, per learner ---------------------------------------------------------------


def _written(line: DocumentLine) -> str:
    when = _iso(line.written_utc)
    return f", written {when.replace('T', ' ').replace('+00:00', ' UTC')}" if when else ""


def _invoice_side(line: DocumentLine, scope: Scope) -> dict[str, Any]:
    """Where the SMS holds an invoice, as the resync recorded it, and why not if it does not."""
    doc = line.document
    shaped = wisenet_invoice(doc, learner_id=None)
    side: dict[str, Any] = {
        "system": line.sms,
        "learner": line.sms_learner,
        "written_utc": _iso(line.written_utc),
        "pending": line.pending,
        "payments": [
            {"type": p["Type"], "date": (p["Date"] or "")[:10] or None, "amount": str(p["Amount"])}
            for p in shaped.body["Payments"]
        ],
    }
    if line.sms_learner and line.sms:
        side["state"] = "in_sms"
        side["text"] = f"On {line.sms_learner} in {_SMS_NAMES[line.sms]}{_written(line)}."
    elif line.sms is not None and line.pending is None:
        side["state"] = "removed"
        side["text"] = (
            "Taken off the learner it was on in the SMS: in Xero it belongs to no learner now."
        )
    elif line.learner is None:
        side["state"] = "not_in_sms"
        side["text"] = "Not in the SMS: it belongs to no learner (see Unmatched)."
    elif not scope.holds(doc.date):
        side["state"] = "not_in_sms"
        side["text"] = (
            f"Not in the SMS: dated outside the resync's range ({scope.date_from} to "
            f"{scope.date_to}); resync its dates to bring it over."
        )
    else:
        side["state"] = "not_in_sms"
        side["text"] = (
            "Not in the SMS yet: the next resync writes it (if Wisenet refused it, the last "
            "resync's problems say why)."
        )
    if line.pending is not None:
        side["state"] = "pending"
        target = f" to {line.pending_learner}" if line.pending_learner else ""
        action = "the write" if line.pending == "put" else "the removal"
        side["text"] += (
            f" A resync sent {action}{target} and never saw Wisenet's answer: the next resync "
            "reads it back before sending anything again."
        )
    if line.sms == "csv" and line.sms_learner:
        side["local_copy"] = {
            "status": line.sms_status,
            "total": _amount(line.sms_total),
            "amount_due": _amount(line.sms_due),
        }
    side["not_representable"] = [{"code": n.code, "message": n.message} for n in shaped.notes]
    return side


def _credit_side(doc: MirroredDocument) -> dict[str, Any]:
    """A credit note, prepayment or overpayment: Wisenet v1 holds it only as a payment on the
    invoices it was applied to."""
    numbers = {}
    for allocation in doc.data.get("Allocations") or []:
        invoice = allocation.get("Invoice") if isinstance(allocation, Mapping) else None
        if isinstance(invoice, Mapping) and isinstance(invoice.get("InvoiceID"), str):
            numbers[invoice["InvoiceID"].lower()] = invoice.get("InvoiceNumber")
    applied = [
        {
            "invoice_id": invoice_id,
            "invoice_number": numbers.get(invoice_id),
            "date": _day(item.day),
            "amount": str(item.amount),
            "type": item.type,
        }
        for invoice_id, item in allocations(doc)
    ]
    note = open_credit(doc)
    label = CREDIT_KINDS[doc.kind][2]
    if applied:
        on = ", ".join(f"{a['invoice_number'] or a['invoice_id']} ({a['amount']})" for a in applied)
        text = (
            f"Wisenet v1 has no {label}s: it is a payment on the invoices it was applied to: {on}."
        )
    else:
        text = f"Wisenet v1 has no {label}s, and this one is applied to no invoice."
    return {
        "state": "applied" if applied else "not_in_sms",
        "text": text,
        "applied": applied,
        "not_representable": [] if note is None else [{"code": note.code, "message": note.message}],
    }


def _line_json(line: DocumentLine, scope: Scope) -> dict[str, Any]:
    doc = line.document
    return {
        "kind": doc.kind,
        "document_id": doc.document_id,
        "number": doc.number,
        "type": doc.type,
        "status": doc.status,
        "date": _day(doc.date),
        "due_date": _day(doc.due_date),
        "currency": doc.currency,
        "total": _amount(doc.total),
        "amount_due": _amount(doc.amount_due),
        "amount_paid": _amount(doc.amount_paid),
        "amount_credited": _amount(doc.amount_credited),
        "remaining_credit": _amount(doc.remaining_credit),
        "contact_id": doc.contact_id,
        "contact_name": line.contact_name,
        "xero_url": _XERO_INVOICE + doc.document_id if doc.kind == "invoice" else None,
        "learner": line.learner,
        "learner_name": line.learner_name,
        "sms": _invoice_side(line, scope) if doc.kind == "invoice" else _credit_side(doc),
    }


def _today() -> date:
    return datetime.now(UTC).date()


def _counts(run: RunRow | None) -> dict[str, int]:
    counts = run.counts if run else {}
    return {
        "unmatched": int(counts.get("unmatched") or 0),
        "not_representable": int(counts.get("not_representable") or 0),
    }


def documents(
    store: Store,
    org: Organisation | None,
    *,
    query: str = "",
    kind: str | None = None,
    sms: str | None = None,
    page: int = 1,
) -> dict[str, Any]:
    """A page of the organisation's sales documents, per learner, with the SMS side of each:
    the invoices the resync keeps (or another ``kind``), or, with a ``query`` (the learner's
    RefInternal, names or email, or a document number), every document of those learners."""
    query = query.strip()
    # Without a search: the invoices the resync keeps, unless another kind is asked for; a
    # search shows every kind of the learners it finds.
    kind = kind if kind in KINDS else (None if query else "invoice")
    sms = sms if sms in SMS_STATES else None
    page = max(1, page)
    base: dict[str, Any] = {"query": query, "kind": kind, "sms": sms, "page": page}
    if org is None:
        return {**base, "organisation": None, "documents": [], "total": 0, "pages": 1}
    scope = resync_scope(store, org.id, _today())
    found = listing.page_documents(
        store,
        org.id,
        kinds=[kind] if kind else KINDS,
        types=_SALES_TYPES,
        query=query,
        sms=sms,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    run = last_resync(store, org)
    return {
        **base,
        "organisation": org.name,
        "documents": [_line_json(line, scope) for line in found.lines],
        "total": found.total,
        "pages": _pages(found.total),
        "more_learners": found.more_learners,
        "range": scope.as_json(),
        "last_resync": run_summary(run),
        "listed": _counts(run),
    }


# -- what the last resync listed ----------------------------------------------------------------


def _named(label: str) -> tuple[str, str] | None:
    """A problem's record ("invoice INV-0042", "credit note CN-7") as (kind, number or id)."""
    for kind in KINDS:
        prefix = kind.replace("_", " ") + " "
        if label.startswith(prefix):
            return kind, label[len(prefix) :]
    return None


LISTS = {"unmatched": UNMATCHED, "not_representable": NOT_REPRESENTABLE}


def listed(store: Store, org: Organisation | None, which: str, *, page: int = 1) -> dict[str, Any]:
    """What the last resync listed as ``which`` (``unmatched``: the documents of no learner,
    and why; ``not_representable``: what Wisenet v1 cannot hold), from its problems, each
    with the document as the mirror has it now."""
    codes = LISTS[which]
    page = max(1, page)
    run = last_resync(store, org)
    if org is None or run is None:
        return {
            "organisation": org.name if org else None,
            "last_resync": None,
            "problems": [],
            "total": 0,
            "by_code": [],
            "page": page,
            "pages": 1,
        }
    found = [dict(p) for p in run.problems if p.get("code") in codes]
    by_code: dict[str, int] = {}
    for problem in found:
        by_code[str(problem["code"])] = by_code.get(str(problem["code"]), 0) + 1
    shown = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    names = {_named(str(p.get("record") or "")) for p in shown} - {None}
    lines = listing.find_documents(store, org.id, [n for n in names if n is not None])
    scope = resync_scope(store, org.id, _today())
    for problem in shown:
        name = _named(str(problem.get("record") or ""))
        line = lines.get(name) if name else None
        problem["document"] = _line_json(line, scope) if line else None
        problem["meaning"] = CODE_TEXT.get(str(problem["code"]), "")
    return {
        "organisation": org.name,
        "last_resync": run_summary(run),
        "problems": shown,
        "total": len(found),
        # A run keeps its first problems only; the counts say how many there were.
        "not_kept": max(0, _counts(run)[which] - len(found)),
        "by_code": [
            {"code": code, "count": n, "meaning": CODE_TEXT.get(code, "")}
            for code, n in sorted(by_code.items(), key=lambda x: (-x[1], x[0]))
        ],
        "page": page,
        "pages": _pages(len(found)),
    }


# -- the reconciliation -------------------------------------------------------------------------


def _causes(result: Reconciliation) -> dict[str, list[str]]:
    causes: dict[str, list[str]] = {}
    for mismatch in result.mismatches:
        causes.setdefault(mismatch.ref_internal, []).append(mismatch.cause)
    return causes


def _made(held: Reconciled) -> dict[str, Any]:
    return {
        "made_utc": _iso(held.made),
        "run_id": held.run_id,
        "started_by": held.started_by,
        "sms": held.result.sms,
        "message": held.result.message,
        "unmatched": held.result.unmatched,
    }


def reconciliation_json(org: Organisation, held: Reconciled) -> dict[str, Any]:
    """The whole reconciliation for scripts: ``mismatches`` and ``learners`` exactly as
    ``learnerledger report reconcile --json`` prints them, and when it was made."""
    return {"organisation": org.name, **_made(held), **held.result.as_json()}


def reconciliation(
    store: Store,
    org: Organisation | None,
    held: Reconciled | None,
    *,
    page: int = 1,
) -> dict[str, Any]:
    """The last reconciliation this server made (every mismatch with its likely cause, per
    learner, a page at a time) and the last one the History knows of (the command line's
    too, whose detail only its own output has)."""
    page = max(1, page)
    last = history.last_run(store, RECONCILE_JOB, org.id) if org else None
    data: dict[str, Any] = {
        "organisation": org.name if org else None,
        "last_run": run_summary(last),
        "held": held is not None,
        "page": page,
        "pages": 1,
    }
    if held is None:
        return data
    result = held.result
    causes = _causes(result)
    totals = {row["ref_internal"]: row for row in result.learners()}
    ordered = sorted(result.mismatches, key=lambda m: (m.ref_internal, m.number or "", m.field))
    shown = ordered[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    groups: list[dict[str, Any]] = []
    for mismatch in shown:
        if not groups or groups[-1]["ref_internal"] != mismatch.ref_internal:
            groups.append(
                {
                    "ref_internal": mismatch.ref_internal,
                    "totals": totals.get(mismatch.ref_internal),
                    "mismatches": [],
                }
            )
        groups[-1]["mismatches"].append(
            {**mismatch.as_json(), "what": _FIELD_TEXT.get(mismatch.field, mismatch.field)}
        )
    newer = last is not None and held.run_id is not None and last.id > held.run_id
    return {
        **data,
        **_made(held),
        "agree": not result.mismatches,
        "learners_compared": len(totals),
        "learners_differing": len(causes),
        "mismatch_total": len(ordered),
        "groups": groups,
        "pages": _pages(len(ordered)),
        "newer_run": newer,
    }

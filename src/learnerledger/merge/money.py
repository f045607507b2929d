"""Money is conserved: a cluster's documents and what they owe, seen before and after a merge.

A :class:`Snapshot` is what Xero holds for a cluster at one moment: every invoice, credit note,
prepayment and overpayment of any of its contacts, with its amounts and the payments on it,
and the cluster's **outstanding** total (what its approved sales invoices still owe, Xero's
``Balances.AccountsReceivable.Outstanding`` summed over the contacts) beside its unallocated
**credit**. Re-pointing a document or merging a contact moves documents between the cluster's
contacts and changes nothing else, so :func:`compare` finds, between two snapshots:

- a document that is no longer on any of the cluster's contacts (moved out of it, or gone);
- a payment that was on a document and is no longer (a merge never deletes a payment);
- a document whose Total changed, that was voided or deleted, whose payments or credits went
  down, or a credit whose remaining credit went up (an allocation removed);
- an outstanding total other than the one before, less the payments and credits recorded
  since and plus what documents approved since owe.

People keep working in Xero while a merge runs (a payment recorded, an invoice raised): such
activity only adds, and is not a difference. Pure: no store, no HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from learnerledger.domain.documents import MirroredDocument
from learnerledger.errors import LearnerLedgerError

__all__ = [
    "CONTACT_KINDS",
    "Difference",
    "DocFacts",
    "MoneyNotConserved",
    "Snapshot",
    "compare",
    "dollars",
    "snapshot",
]

ZERO = Decimal("0")
# The kinds of document that belong to a contact (a payment belongs to what it pays).
CONTACT_KINDS = ("invoice", "credit_note", "prepayment", "overpayment")
_LABELS = {
    "invoice": "invoice",
    "credit_note": "credit note",
    "prepayment": "prepayment",
    "overpayment": "overpayment",
}
_GONE = ("VOIDED", "DELETED")


def dollars(amount: Decimal | None) -> str:
    """``$1,234.50``; a negative amount as ``-$12.00``."""
    value = amount if amount is not None else ZERO
    text = f"${abs(value):,.2f}"
    return f"-{text}" if value < 0 else text


def _money(value: Decimal | None) -> Decimal:
    return value if value is not None else ZERO


@dataclass(frozen=True)
class DocFacts:
    """A document's money at one moment."""

    kind: str
    document_id: str
    number: str | None
    type: str | None
    status: str
    contact_id: str | None
    total: Decimal
    amount_due: Decimal  # what an invoice still owes
    amount_paid: Decimal
    amount_credited: Decimal
    remaining_credit: Decimal  # what a credit has left to allocate
    payments: tuple[str, ...]  # the ids of the payments on it

    @property
    def label(self) -> str:
        kind = _LABELS.get(self.kind, self.kind)
        return f"{kind} {self.number}" if self.number else f"{kind} {self.document_id}"

    @property
    def owed(self) -> Decimal:
        """What it adds to the outstanding total: an approved sales invoice's AmountDue."""
        if self.kind == "invoice" and self.type == "ACCREC" and self.status == "AUTHORISED":
            return self.amount_due
        return ZERO

    @property
    def credit(self) -> Decimal:
        """What it adds to the unallocated credit: an approved credit's RemainingCredit."""
        if self.kind != "invoice" and self.status == "AUTHORISED":
            return self.remaining_credit
        return ZERO

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "document_id": self.document_id,
            "number": self.number,
            "type": self.type,
            "status": self.status,
            "contact_id": self.contact_id,
            "total": str(self.total),
            "amount_due": str(self.amount_due),
            "amount_paid": str(self.amount_paid),
            "amount_credited": str(self.amount_credited),
            "remaining_credit": str(self.remaining_credit),
            "payments": list(self.payments),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DocFacts:
        return cls(
            kind=str(data["kind"]),
            document_id=str(data["document_id"]),
            number=data.get("number"),
            type=data.get("type"),
            status=str(data["status"]),
            contact_id=data.get("contact_id"),
            total=Decimal(data["total"]),
            amount_due=Decimal(data["amount_due"]),
            amount_paid=Decimal(data["amount_paid"]),
            amount_credited=Decimal(data["amount_credited"]),
            remaining_credit=Decimal(data["remaining_credit"]),
            payments=tuple(data.get("payments", ())),
        )

    @classmethod
    def of(cls, doc: MirroredDocument) -> DocFacts:
        payments = doc.data.get("Payments") or []
        ids = sorted(
            str(p["PaymentID"]) for p in payments if isinstance(p, Mapping) and p.get("PaymentID")
        )
        return cls(
            kind=doc.kind,
            document_id=doc.document_id,
            number=doc.number,
            type=doc.type,
            status=doc.status or "",
            contact_id=doc.contact_id,
            total=_money(doc.total),
            amount_due=_money(doc.amount_due),
            amount_paid=_money(doc.amount_paid),
            amount_credited=_money(doc.amount_credited),
            remaining_credit=_money(doc.remaining_credit),
            payments=tuple(ids),
        )


@dataclass(frozen=True)
class Snapshot:
    """A cluster's contacts and their documents at one moment."""

    contacts: tuple[str, ...]
    documents: Mapping[str, DocFacts] = field(default_factory=dict)

    @property
    def outstanding(self) -> Decimal:
        return sum((d.owed for d in self.documents.values()), ZERO)

    @property
    def credit(self) -> Decimal:
        return sum((d.credit for d in self.documents.values()), ZERO)

    def on(self, contact_id: str) -> list[DocFacts]:
        """The documents of one contact, by kind and number."""
        found = [d for d in self.documents.values() if d.contact_id == contact_id]
        return sorted(found, key=lambda d: (d.kind, d.number or "", d.document_id))

    def as_json(self) -> dict[str, Any]:
        return {
            "contacts": list(self.contacts),
            "outstanding": str(self.outstanding),
            "credit": str(self.credit),
            "documents": [d.as_json() for d in self.documents.values()],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Snapshot:
        docs = [DocFacts.from_json(d) for d in data.get("documents", [])]
        return cls(tuple(data.get("contacts", ())), {d.document_id: d for d in docs})


def snapshot(contacts: Iterable[str], documents: Iterable[MirroredDocument]) -> Snapshot:
    """What ``documents`` say of the cluster made of ``contacts`` (others are left out)."""
    wanted = tuple(sorted(set(contacts)))
    chosen = set(wanted)
    facts = {
        d.document_id: DocFacts.of(d)
        for d in documents
        if d.kind in CONTACT_KINDS and d.contact_id in chosen
    }
    return Snapshot(wanted, dict(sorted(facts.items())))


@dataclass(frozen=True)
class Difference:
    """One way in which a cluster's money is not what it was."""

    document: str  # the document's label, or "the cluster" for the totals
    document_id: str | None
    detail: str

    def __str__(self) -> str:
        return f"{self.document}: {self.detail}"

    def as_json(self) -> dict[str, Any]:
        return {"document": self.document, "document_id": self.document_id, "detail": self.detail}


def _compare_one(b: DocFacts, a: DocFacts) -> list[str]:
    found = []
    if a.total != b.total:
        found.append(f"its Total was {dollars(b.total)}, now {dollars(a.total)}")
    lost = sorted(set(b.payments) - set(a.payments))
    if lost:
        found.append(
            f"{'a payment' if len(lost) == 1 else f'{len(lost)} payments'} on it "
            f"({', '.join(lost)}) no longer there"
        )
    if a.status in _GONE and b.status not in _GONE:
        found.append(f"it was {b.status}, now {a.status}")
    if a.amount_paid < b.amount_paid:
        found.append(f"paid was {dollars(b.amount_paid)}, now {dollars(a.amount_paid)}")
    if a.amount_credited < b.amount_credited:
        found.append(f"credited was {dollars(b.amount_credited)}, now {dollars(a.amount_credited)}")
    if a.kind != "invoice" and a.status not in _GONE and a.remaining_credit > b.remaining_credit:
        found.append(
            f"its remaining credit was {dollars(b.remaining_credit)}, now "
            f"{dollars(a.remaining_credit)} (an allocation removed)"
        )
    return found


def compare(before: Snapshot, after: Snapshot) -> list[Difference]:
    """How ``after`` differs from ``before`` beyond moves between the cluster's contacts and
    new activity (payments, credits, documents raised or approved since); empty when money
    was conserved."""
    found: list[Difference] = []
    expected = before.outstanding
    for doc_id, b in before.documents.items():
        a = after.documents.get(doc_id)
        if a is None:
            found.append(Difference(b.label, doc_id, "no longer on any of the cluster's contacts"))
            continue
        found += [Difference(b.label, doc_id, detail) for detail in _compare_one(b, a)]
        if b.owed:  # it owes less by what was paid and credited on it since
            expected -= (a.amount_paid - b.amount_paid) + (a.amount_credited - b.amount_credited)
        else:  # approved since: it owes what it shows
            expected += a.owed
    for doc_id, a in after.documents.items():
        if doc_id not in before.documents:
            expected += a.owed
    if not found and after.outstanding != expected:
        found.append(
            Difference(
                "the cluster",
                None,
                f"outstanding was {dollars(before.outstanding)}; with the payments, credits and "
                f"documents recorded since it should be {dollars(expected)}, but it is "
                f"{dollars(after.outstanding)}",
            )
        )
    return found


class MoneyNotConserved(LearnerLedgerError):
    """A cluster's documents or money are not what they were: the run stops. ``clusters``
    maps each RefInternal to its differences."""

    def __init__(self, clusters: Mapping[str, Sequence[Difference]], *, when: str) -> None:
        parts = []
        for ref, diffs in clusters.items():
            listed = "; ".join(str(d) for d in diffs[:10])
            more = f" (and {len(diffs) - 10} more)" if len(diffs) > 10 else ""
            parts.append(f"cluster {ref}: {listed}{more}")
        super().__init__(
            f"Money is not conserved {when}: " + ". ".join(parts) + ".",
            fix="Nothing more was written for these clusters. Open the documents named in Xero "
            "and find out what changed (a payment deleted, a document voided, moved to "
            "another contact or merged into the wrong one). Put it right in Xero and run the "
            "command again; if the change was made on purpose, record it with "
            "`learnerledger merge verify --accept REF`.",
        )
        self.clusters = {ref: list(diffs) for ref, diffs in clusters.items()}

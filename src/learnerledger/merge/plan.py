"""The merge plan: what can move through Xero's API, what only Xero's own Merge can, and
where a swap makes a merge unnecessary. Pure: it works on domain values the job has read.

A **cluster** is a learner's own contact (the **survivor**: the one the link table holds,
carrying the learner's RefInternal as its Contact Code) and the legacy contacts people
confirmed as the same learner (``learnerledger duplicates confirm``). For every document of
every legacy contact the plan says:

- ``move``: its contact can change through the API (``POST /Invoices`` or ``/CreditNotes``):
  an invoice or credit note that is DRAFT, SUBMITTED, or AUTHORISED with nothing paid, credited,
  allocated or refunded;
- ``blocked``, with the reason: a payment, a credit or an allocation on it, PAID, VOIDED, or a
  prepayment or overpayment, which the API cannot re-point at all. Only Xero's Merge (its web
  app) moves them, so the legacy contact becomes a **worklist** item;
- ``left``: a DELETED document: it carries no money and nothing needs to move.

A legacy contact left with nothing is archived. The survivor is never archived.

**Swap.** Xero's Merge keeps the contact you merge into; the other goes. When a legacy contact
has history the API cannot move, and the learner's own contact is empty and known only to
learnerledger, the cheaper and safer way is the other way round: the legacy contact takes the
learner's identity (Contact Code, Name, mapped fields) and the empty contact is archived, so no
one has to merge anything. The plan chooses ``swap`` only when all of these hold (and says
which one fails otherwise):

1. the learner's own contact holds no document at all, so nothing can be lost with it;
2. learnerledger created that contact itself (its sync journal says so): the SMS was never told
   its ContactID (the Wisenet API v1 has no field for one, and a CSV export comes from the SMS,
   not from Xero), so nothing but learnerledger refers to it; a contact someone else made (the
   SMS's own integration, a person, another app) may be known by its id elsewhere;
3. no contact has been absorbed into it yet;
4. exactly one legacy contact has blocked history, it is active and carries no Contact Code of
   its own (which another system may use to find it);
5. the learner is ready for Xero (its mapped fields can be written) and its Name is free
   among the other active contacts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from learnerledger.domain.contact import ContactMapping, mapped_hash
from learnerledger.domain.documents import MirroredDocument
from learnerledger.domain.learner import Learner
from learnerledger.domain.mirror import ContactIndex, MirroredContact
from learnerledger.merge.money import CONTACT_KINDS, dollars, snapshot
from learnerledger.text import count
from learnerledger.xero.wire import WireError, parse_day

__all__ = [
    "ClusterPlan",
    "ContactRef",
    "DocumentPlan",
    "LegacyPlan",
    "MergePlan",
    "SwapPlan",
    "classify",
    "cluster_contacts",
    "make_merge_plan",
    "move_payload",
]

BATCH = 50
_STREAMS = {
    "invoice": "invoices",
    "credit_note": "credit_notes",
    "prepayment": "prepayments",
    "overpayment": "overpayments",
}
_PATHS = {"invoices": "Invoices", "credit_notes": "CreditNotes"}
_ID_FIELDS = {"invoices": "InvoiceID", "credit_notes": "CreditNoteID"}
_LABELS = {
    "invoice": "invoice",
    "credit_note": "credit note",
    "prepayment": "prepayment",
    "overpayment": "overpayment",
}
_EDITABLE = ("DRAFT", "SUBMITTED", "AUTHORISED")


@dataclass(frozen=True)
class ContactRef:
    """A contact as the plan shows it."""

    contact_id: str
    name: str
    status: str
    contact_number: str | None = None
    merged_to: str | None = None

    @classmethod
    def of(cls, c: MirroredContact) -> ContactRef:
        return cls(c.contact_id, c.name, c.status, c.contact_number, c.merged_to)

    def as_json(self) -> dict[str, Any]:
        return {
            "contact_id": self.contact_id,
            "name": self.name,
            "status": self.status,
            "contact_number": self.contact_number,
            "merged_to": self.merged_to,
        }


@dataclass(frozen=True)
class DocumentPlan:
    """One document of a legacy contact and what happens to it."""

    kind: str
    document_id: str
    number: str | None
    type: str | None
    status: str
    date: str | None
    total: Decimal
    open_amount: Decimal  # AmountDue of an invoice, RemainingCredit of a credit
    action: str  # move | blocked | left
    reason: str

    @property
    def stream(self) -> str:
        return _STREAMS[self.kind]

    @property
    def label(self) -> str:
        kind = _LABELS.get(self.kind, self.kind)
        return f"{kind} {self.number}" if self.number else f"{kind} {self.document_id}"

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "document_id": self.document_id,
            "number": self.number,
            "type": self.type,
            "status": self.status,
            "date": self.date,
            "total": str(self.total),
            "open_amount": str(self.open_amount),
            "action": self.action,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class LegacyPlan:
    """A legacy contact of a cluster and what happens to it. ``outcome``:

    ``archive`` (its documents move through the API, then it is archived), ``merge`` (it has
    blocked documents: Xero's Merge is needed, it is on the worklist), ``swap`` (it takes the
    learner's identity), ``merged`` (already merged into the survivor), ``archived`` (archived
    and empty), ``problem`` (``reason`` says what stands in the way)."""

    contact: ContactRef
    outcome: str
    documents: tuple[DocumentPlan, ...] = ()
    reason: str = ""

    @property
    def movable(self) -> list[DocumentPlan]:
        return [d for d in self.documents if d.action == "move"]

    @property
    def blocked(self) -> list[DocumentPlan]:
        return [d for d in self.documents if d.action == "blocked"]

    def as_json(self) -> dict[str, Any]:
        return {
            "contact": self.contact.as_json(),
            "outcome": self.outcome,
            "reason": self.reason,
            "documents": [d.as_json() for d in self.documents],
        }


@dataclass(frozen=True)
class SwapPlan:
    """The learner's identity moves from its empty contact onto the legacy contact."""

    empty: ContactRef  # the learner's own contact, to free and archive
    legacy: ContactRef  # takes the learner's identity: the new survivor
    placeholder: str  # the empty contact's Name once it gives the learner's up
    adopt: Mapping[str, Any]  # the mapped fields the legacy contact receives
    mapped_hash: str
    why: str

    def as_json(self) -> dict[str, Any]:
        return {
            "empty": self.empty.as_json(),
            "legacy": self.legacy.as_json(),
            "placeholder": self.placeholder,
            "adopt": dict(self.adopt),
            "why": self.why,
        }


@dataclass(frozen=True)
class ClusterPlan:
    """One learner's cluster. ``state``:

    ``move`` (documents move and emptied contacts are archived through the API), ``worklist``
    (some need Xero's Merge; what the API can move moves), ``swap``, ``done`` (nothing left to
    do), ``wrong_direction`` (the learner's contact was merged into a legacy contact),
    ``waiting`` (the learner has no contact yet) or ``conflict`` (``reasons`` say what to fix;
    nothing is done for the cluster until then)."""

    ref_internal: str
    learner: str
    state: str
    survivor: ContactRef | None
    legacy: tuple[LegacyPlan, ...] = ()
    reasons: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    swap: SwapPlan | None = None
    outstanding: Decimal = Decimal("0")
    credit: Decimal = Decimal("0")
    no_swap: str = ""  # why a cluster with blocked history is not swapped

    @property
    def target(self) -> ContactRef | None:
        """The contact everything ends on: the survivor, or after a swap the legacy contact."""
        return self.swap.legacy if self.swap is not None else self.survivor

    @property
    def contacts(self) -> list[str]:
        """Every contact of the cluster, survivor first."""
        ids = [self.survivor.contact_id] if self.survivor else []
        return ids + [lp.contact.contact_id for lp in self.legacy]

    @property
    def acts(self) -> bool:
        """Whether applying it writes anything."""
        return self.state in ("move", "worklist", "swap") and bool(self.writes())

    def moves(self) -> list[DocumentPlan]:
        return [d for lp in self.legacy if lp.outcome != "swap" for d in lp.movable]

    def archives(self) -> list[ContactRef]:
        found = [lp.contact for lp in self.legacy if lp.outcome == "archive"]
        if self.swap is not None:
            found.append(self.swap.empty)
        return found

    def writes(self) -> list[str]:
        """The API calls applying this cluster makes (batched with other clusters' calls)."""
        target = self.target
        if target is None or self.state not in ("move", "worklist", "swap"):
            return []
        out = []
        if self.swap is not None:
            s = self.swap
            out.append(
                f"POST /Contacts/{s.empty.contact_id}: take the Contact Code {self.ref_internal} "
                f"and the Name off {s.empty.name!r} (renamed {s.placeholder!r})"
            )
            out.append(
                f"POST /Contacts/{s.legacy.contact_id}: give {s.legacy.name!r} the Contact Code "
                f"{self.ref_internal}, the Name {s.adopt.get('Name', '')!r} and the learner's "
                "fields"
            )
        by_stream: dict[str, list[str]] = {}
        for d in self.moves():
            by_stream.setdefault(d.stream, []).append(d.number or d.document_id)
        for stream, labels in by_stream.items():
            out.append(f"POST /{_PATHS[stream]}: re-point {', '.join(labels)} to {target.name!r}")
        for c in self.archives():
            out.append(f"POST /Contacts/{c.contact_id}: archive {c.name!r}")
        return out

    def as_json(self) -> dict[str, Any]:
        target = self.target
        return {
            "ref_internal": self.ref_internal,
            "learner": self.learner,
            "state": self.state,
            "survivor": self.survivor.as_json() if self.survivor else None,
            "target": target.as_json() if target else None,
            "legacy": [lp.as_json() for lp in self.legacy],
            "reasons": list(self.reasons),
            "codes": list(self.codes),
            "swap": self.swap.as_json() if self.swap else None,
            "no_swap": self.no_swap,
            "outstanding": str(self.outstanding),
            "credit": str(self.credit),
            "api_calls": self.writes(),
        }


@dataclass
class MergePlan:
    organisation: str
    clusters: list[ClusterPlan] = field(default_factory=list)
    read_calls: int = 0  # what reading the clusters for this plan cost

    def totals(self) -> dict[str, int]:
        states = ("move", "worklist", "swap", "done", "wrong_direction", "waiting", "conflict")
        counts = dict.fromkeys(states, 0)
        for c in self.clusters:
            counts[c.state] = counts.get(c.state, 0) + 1
        return counts

    @property
    def outstanding(self) -> Decimal:
        return sum((c.outstanding for c in self.clusters), Decimal("0"))

    @property
    def calls(self) -> int:
        """The API calls applying the plan costs: a read like the one the plan was made from
        (``read_calls``), its writes batched by 50 of a kind, and at most as much again to
        read the clusters it writes for once more afterwards."""
        acting = [c for c in self.clusters if c.acts]
        writes = 0
        for phase_items in (
            [c.swap for c in acting if c.swap],  # free
            [c.swap for c in acting if c.swap],  # adopt
            [d for c in acting for d in c.moves() if d.stream == "invoices"],
            [d for c in acting for d in c.moves() if d.stream == "credit_notes"],
            [a for c in acting for a in c.archives()],
        ):
            writes += math.ceil(len(phase_items) / BATCH)
        return self.read_calls + writes + (self.read_calls if acting else 0)

    def summary(self) -> str:
        """One line: the clusters per state and what they still owe."""
        totals = self.totals()
        return (
            f"Merge plan for {self.organisation}: "
            + ", ".join(f"{n} {state.replace('_', ' ')}" for state, n in totals.items() if n)
            + f" ({count(len(self.clusters), 'cluster')}); outstanding "
            f"{dollars(self.outstanding)}."
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "organisation": self.organisation,
            "totals": self.totals(),
            "calls": self.calls,
            "outstanding": str(self.outstanding),
            "clusters": [c.as_json() for c in self.clusters],
        }


# -- documents -------------------------------------------------------------------------------


def _day(value: Any) -> str:
    try:
        return parse_day(value).isoformat()
    except WireError:
        return "an unknown date"


def _entries(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    items = data.get(key)
    return [i for i in items if isinstance(i, Mapping)] if isinstance(items, list) else []


def _money(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return Decimal("0")


def _applied(doc: MirroredDocument, *, totals: bool = True) -> list[str]:
    """What is paid, credited, allocated or refunded on a document, in words; with ``totals``
    the amounts alone when Xero listed none of it."""
    data = doc.data
    found = []
    word = "refund" if doc.kind != "invoice" else "payment"
    for p in _entries(data, "Payments"):
        found.append(f"{word} of {dollars(_money(p.get('Amount')))} on {_day(p.get('Date'))}")
    if doc.kind == "invoice":
        for key, label, number in (
            ("CreditNotes", "credit note", "CreditNoteNumber"),
            ("Prepayments", "prepayment", None),
            ("Overpayments", "overpayment", None),
        ):
            for c in _entries(data, key):
                name = f"{label} {c.get(number)}" if number and c.get(number) else label
                found.append(f"{name} of {dollars(_money(c.get('AppliedAmount')))} applied")
        if totals and not found and (doc.amount_paid or doc.amount_credited):
            if doc.amount_paid:
                found.append(f"{dollars(doc.amount_paid)} paid")
            if doc.amount_credited:
                found.append(f"{dollars(doc.amount_credited)} credited")
    else:
        for a in _entries(data, "Allocations"):
            invoice = a.get("Invoice") if isinstance(a.get("Invoice"), Mapping) else {}
            to = (
                f" to {invoice.get('InvoiceNumber')}"
                if invoice and invoice.get("InvoiceNumber")
                else ""
            )
            found.append(
                f"allocation of {dollars(_money(a.get('Amount')))}{to} on {_day(a.get('Date'))}"
            )
        total, left = doc.total or Decimal("0"), doc.remaining_credit
        if totals and not found and left is not None and left < total:
            found.append(f"{dollars(total - left)} allocated or refunded")
    return found


def classify(doc: MirroredDocument) -> tuple[str, str]:
    """Whether a legacy contact's document can be re-pointed through the API (``move``), only
    by Xero's Merge (``blocked``), or needs nothing (``left``), and why."""
    label = _LABELS.get(doc.kind, doc.kind)
    status = (doc.status or "").upper()
    if doc.kind in ("prepayment", "overpayment"):
        when = f" received {doc.date.isoformat()}" if doc.date else ""
        return "blocked", (
            f"{'an' if label[0] in 'aeiou' else 'a'} {label} of {dollars(doc.total)}{when}: "
            f"Xero's API cannot re-point {label}s"
        )
    if status == "DELETED":
        return "left", "deleted: it carries no money and needs no move"
    if status == "VOIDED":
        return "blocked", f"voided: Xero's API cannot change a voided {label}"
    if status == "PAID":
        listed = _applied(doc, totals=False)
        return "blocked", "paid in full" + (": " + "; ".join(listed) if listed else "")
    applied = _applied(doc)
    if applied:
        return "blocked", "; ".join(applied)
    if status in _EDITABLE:
        return "move", f"{status.lower()} with nothing paid or credited"
    return "blocked", f"status {status or 'unknown'}: Xero's API cannot change it"


def _document_plan(doc: MirroredDocument) -> DocumentPlan:
    action, reason = classify(doc)
    open_amount = doc.amount_due if doc.kind == "invoice" else doc.remaining_credit
    return DocumentPlan(
        kind=doc.kind,
        document_id=doc.document_id,
        number=doc.number,
        type=doc.type,
        status=(doc.status or "").upper(),
        date=doc.date.isoformat() if doc.date else None,
        total=doc.total or Decimal("0"),
        open_amount=open_amount or Decimal("0"),
        action=action,
        reason=reason,
    )


def move_payload(doc: DocumentPlan, target_id: str) -> dict[str, Any]:
    """What re-points one document: its id, the new contact by ContactID alone (a Name beside
    it would rename the contact), and its status as it is (Xero wants it on approved ones)."""
    return {
        _ID_FIELDS[doc.stream]: doc.document_id,
        "Contact": {"ContactID": target_id},
        "Status": doc.status,
    }


# -- clusters ----------------------------------------------------------------------------------


def cluster_contacts(
    confirmed: Iterable[tuple[str, str]], linked: Mapping[str, str]
) -> dict[str, list[str]]:
    """RefInternal -> the cluster's contacts (its survivor first, when it has one), from the
    confirmed pairs (RefInternal, legacy ContactID) and the link table."""
    legacy: dict[str, set[str]] = {}
    for ref, contact_id in confirmed:
        legacy.setdefault(ref, set()).add(contact_id)
    out = {}
    for ref in sorted(legacy):
        survivor = linked.get(ref)
        rest = sorted(legacy[ref] - {survivor} if survivor else legacy[ref])
        out[ref] = ([survivor] if survivor else []) + rest
    return out


def _learner_name(learner: Learner | None, ref: str) -> str:
    if learner is None:
        return ref
    return " ".join(f"{learner.first_name} {learner.last_name}".split()) or ref


def _placeholder(empty: MirroredContact, legacy_id: str) -> str:
    suffix = f" (replaced by {legacy_id[:8]})"
    base = " ".join(empty.name.replace("<", "").replace(">", "").split())
    return base[: 255 - len(suffix)].rstrip() + suffix


@dataclass
class _Facts:
    """What the planner knows of an organisation beyond the cluster."""

    contacts: ContactIndex
    by_contact: Mapping[str, list[MirroredDocument]]
    learners: Mapping[str, Learner]
    made_here: set[str]
    absorbed: Mapping[str, str]  # ContactID -> RefInternal
    mapping: ContactMapping
    owners: Mapping[str, list[str]]  # legacy ContactID -> the refs it is confirmed for
    unreadable: Mapping[str, str]  # ContactID -> why its documents could not all be read
    refused_swaps: set[str]  # learners whose swap Xero refused on an earlier run
    owned: Mapping[str, str]  # ContactID -> the learner whose own contact it is


def _legacy_plan(contact_id: str, survivor_id: str, facts: _Facts) -> tuple[LegacyPlan, str | None]:
    """A legacy contact's plan, and a problem code when something stands in the way."""
    c = facts.contacts.by_id.get(contact_id)
    if c is None:
        ref = ContactRef(contact_id, "", "UNKNOWN")
        return LegacyPlan(
            ref,
            "problem",
            reason=f"contact {contact_id} is not in Xero's answers (deleted, or in another "
            "organisation): reject the pair with `learnerledger duplicates reject`.",
        ), "legacy_not_found"
    ref = ContactRef.of(c)
    docs = tuple(
        _document_plan(d)
        for d in sorted(
            facts.by_contact.get(contact_id, []),
            key=lambda d: (d.kind, d.number or "", d.document_id),
        )
    )
    owner = facts.owned.get(contact_id)
    if owner is not None:
        return LegacyPlan(
            ref,
            "problem",
            docs,
            f"{c.name!r} is the learner {owner}'s own contact, so it is never merged away: "
            "reject the pair with `learnerledger duplicates reject REF CONTACT_ID`.",
        ), "legacy_is_a_learners_contact"
    owners = facts.owners.get(contact_id, [])
    if len(owners) > 1:
        return LegacyPlan(
            ref,
            "problem",
            docs,
            f"{c.name!r} is confirmed as the same person as {len(owners)} learners "
            f"({', '.join(owners)}): reject the wrong pairs with `learnerledger duplicates "
            "reject REF CONTACT_ID`.",
        ), "confirmed_twice"
    live = [d for d in docs if d.action != "left"]
    if not c.active:
        if c.merged_to == survivor_id:
            return LegacyPlan(ref, "merged", docs), None
        if c.merged_to:
            into = facts.contacts.by_id.get(c.merged_to)
            into_name = repr(into.name) if into else c.merged_to
            return LegacyPlan(
                ref,
                "problem",
                docs,
                f"{c.name!r} was merged in Xero into {into_name}, not into the learner's "
                f"contact: its documents are there. If {into_name} is the same learner, merge it "
                "into the learner's contact in Xero; otherwise reject this pair.",
            ), "merged_elsewhere"
        if live:
            return LegacyPlan(
                ref,
                "problem",
                docs,
                f"{c.name!r} (ContactID {contact_id}) is archived but still holds "
                f"{count(len(live), 'document')}: restore it in Xero (Contacts › Archived › "
                "Restore), then run `learnerledger merge apply` again so that it can be merged.",
            ), "archived_with_documents"
        return LegacyPlan(ref, "archived", docs), None
    if any(d.action == "blocked" for d in docs):
        return LegacyPlan(ref, "merge", docs), None
    return LegacyPlan(ref, "archive", docs), None


def _swap(
    ref: str, survivor: MirroredContact, legacy: Sequence[LegacyPlan], facts: _Facts
) -> tuple[SwapPlan | None, str]:
    """The swap for a cluster with blocked history, or why there is none."""
    blocked = [lp for lp in legacy if lp.outcome == "merge"]
    if ref in facts.refused_swaps:
        return None, (
            "no swap: Xero refused this cluster's swap on an earlier run (its History says "
            "why); merge in Xero instead."
        )
    if len(blocked) != 1:
        return None, (
            f"no swap: {count(len(blocked), 'legacy contact')} have history the API cannot "
            "move; only one of them could take the learner's identity."
        )
    (chosen,) = blocked
    held = [d for d in facts.by_contact.get(survivor.contact_id, []) if d.kind in CONTACT_KINDS]
    if held:
        return None, (
            f"no swap: the learner's own contact {survivor.name!r} holds "
            f"{count(len(held), 'document')}."
        )
    if survivor.contact_id not in facts.made_here:
        return None, (
            f"no swap: learnerledger did not create {survivor.name!r}, so another system may "
            "know it by its ContactID."
        )
    if any(owner == ref for owner in facts.absorbed.values()):
        return None, "no swap: other contacts were already merged into the learner's contact."
    if chosen.contact.contact_number:
        return None, (
            f"no swap: {chosen.contact.name!r} carries the Contact Code "
            f"{chosen.contact.contact_number!r}, by which another system may find it."
        )
    learner = facts.learners.get(ref)
    if learner is None or not learner.ready:
        return None, "no swap: the learner is not ready for Xero (see `sync learners`)."
    mapped = facts.mapping.contact(learner)
    name = str(mapped.get("Name", ""))
    if name:
        others = [
            c
            for c in facts.contacts.holding_name(name)
            if c.contact_id not in (survivor.contact_id, chosen.contact.contact_id)
        ]
        if others:
            return None, f"no swap: another active contact is named {name!r}."
    placeholder = _placeholder(survivor, chosen.contact.contact_id)
    if facts.contacts.holding_name(placeholder):
        return None, f"no swap: the name {placeholder!r} is taken."
    why = (
        f"swap: {chosen.contact.name!r} has history Xero's API cannot move "
        f"({chosen.blocked[0].label}: {chosen.blocked[0].reason}), while the learner's own "
        f"contact {survivor.name!r} is empty and known only to learnerledger, which created "
        f"it. So {chosen.contact.name!r} takes the learner's Contact Code {ref}, Name and "
        f"fields, and {survivor.name!r} is archived: no merge in Xero is needed."
    )
    return SwapPlan(
        empty=ContactRef.of(survivor),
        legacy=chosen.contact,
        placeholder=placeholder,
        adopt=mapped,
        mapped_hash=mapped_hash(mapped),
        why=why,
    ), ""


def _cluster(
    ref: str, contact_ids: Sequence[str], linked: Mapping[str, str], facts: _Facts
) -> ClusterPlan:
    learner = facts.learners.get(ref)
    name = _learner_name(learner, ref)
    survivor_id = linked.get(ref)
    if survivor_id is None:
        return ClusterPlan(
            ref,
            name,
            "waiting",
            None,
            reasons=(
                f"{ref} has no contact of its own yet: run `learnerledger sync learners` "
                "first, then plan the merge.",
            ),
            codes=("no_survivor",),
        )
    survivor = facts.contacts.by_id.get(survivor_id)
    if survivor is None:
        return ClusterPlan(
            ref,
            name,
            "waiting",
            ContactRef(survivor_id, "", "UNKNOWN"),
            reasons=(
                f"the learner's contact {survivor_id} is not in Xero's answers: run "
                "`learnerledger sync learners` to give the learner its contact again.",
            ),
            codes=("survivor_not_found",),
        )
    legacy_ids = [i for i in contact_ids if i != survivor_id]
    plans_and_codes = [_legacy_plan(i, survivor_id, facts) for i in legacy_ids]
    legacy = tuple(p for p, _ in plans_and_codes)
    codes = tuple(code for _, code in plans_and_codes if code)
    money = snapshot(
        [survivor_id, *legacy_ids],
        [d for i in [survivor_id, *legacy_ids] for d in facts.by_contact.get(i, [])],
    )
    common: dict[str, Any] = {
        "survivor": ContactRef.of(survivor),
        "legacy": legacy,
        "outstanding": money.outstanding,
        "credit": money.credit,
    }
    if not survivor.active:
        if survivor.merged_to in legacy_ids:
            into = facts.contacts.by_id.get(survivor.merged_to or "")
            into_name = repr(into.name) if into else survivor.merged_to
            return ClusterPlan(
                ref,
                name,
                "wrong_direction",
                reasons=(
                    f"the learner's own contact {survivor.name!r} was merged in Xero into "
                    f"{into_name}: the wrong way round. See `learnerledger merge verify` for the "
                    "fix.",
                ),
                codes=("wrong_direction",),
                **common,
            )
        return ClusterPlan(
            ref,
            name,
            "conflict",
            reasons=(
                f"the learner's own contact {survivor.name!r} is archived: restore it in Xero "
                "(Contacts › Archived › Restore), then plan the merge again.",
            ),
            codes=("survivor_archived",),
            **common,
        )
    problems = [lp.reason for lp in legacy if lp.outcome == "problem"]
    problems += [facts.unreadable[i] for i in [survivor_id, *legacy_ids] if i in facts.unreadable]
    codes += tuple(
        "unreadable_document" for i in [survivor_id, *legacy_ids] if i in facts.unreadable
    )
    if problems:
        return ClusterPlan(ref, name, "conflict", reasons=tuple(problems), codes=codes, **common)
    outcomes = {lp.outcome for lp in legacy}
    if "merge" in outcomes:
        swap, why_not = _swap(ref, survivor, legacy, facts)
        if swap is not None:
            legacy = tuple(
                LegacyPlan(lp.contact, "swap", lp.documents, swap.why)
                if lp.contact.contact_id == swap.legacy.contact_id
                else lp
                for lp in legacy
            )
            common["legacy"] = legacy
            return ClusterPlan(ref, name, "swap", reasons=(swap.why,), swap=swap, **common)
        return ClusterPlan(ref, name, "worklist", no_swap=why_not, **common)
    if "archive" in outcomes:
        return ClusterPlan(ref, name, "move", **common)
    return ClusterPlan(ref, name, "done", **common)


def make_merge_plan(
    confirmed: Iterable[tuple[str, str]],
    linked: Mapping[str, str],
    contacts: ContactIndex,
    documents: Iterable[MirroredDocument],
    *,
    learners: Mapping[str, Learner],
    made_here: Iterable[str] = (),
    absorbed: Mapping[str, str] | None = None,
    mapping: ContactMapping | None = None,
    organisation: str = "",
    unreadable: Mapping[str, str] | None = None,
    refused_swaps: Iterable[str] = (),
) -> MergePlan:
    """The plan for every confirmed cluster. ``confirmed`` are the confirmed pairs (RefInternal,
    legacy ContactID); ``linked`` maps RefInternal to the learner's own contact; ``documents``
    are the clusters' documents as Xero holds them now; ``made_here`` the contacts learnerledger
    created; ``absorbed`` maps absorbed ContactIDs to their learners; ``unreadable`` the
    contacts whose documents could not all be read (their clusters wait); ``refused_swaps``
    the learners whose swap Xero refused before (never tried again)."""
    pairs = list(confirmed)
    owners: dict[str, list[str]] = {}
    for ref, contact_id in pairs:
        if contact_id != linked.get(ref):
            owners.setdefault(contact_id, [])
            if ref not in owners[contact_id]:
                owners[contact_id].append(ref)
    by_contact: dict[str, list[MirroredDocument]] = {}
    for d in documents:
        if d.contact_id and d.kind in CONTACT_KINDS:
            by_contact.setdefault(d.contact_id, []).append(d)
    facts = _Facts(
        contacts=contacts,
        by_contact=by_contact,
        learners=learners,
        made_here=set(made_here),
        absorbed=dict(absorbed or {}),
        mapping=mapping or ContactMapping(),
        owners=owners,
        unreadable=dict(unreadable or {}),
        refused_swaps=set(refused_swaps),
        owned={contact_id: ref for ref, contact_id in linked.items()},
    )
    clusters = [
        _cluster(ref, ids, linked, facts) for ref, ids in cluster_contacts(pairs, linked).items()
    ]
    return MergePlan(organisation, clusters)

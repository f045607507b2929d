"""The plan of a learner sync: what will happen to each learner, before anything is sent.

Per learner flagged for Xero the plan says one of:

* ``create``: no contact carries the learner's RefInternal yet; one will be created;
* ``update``: the learner's contact differs from the SMS in the fields learnerledger owns; only
  those fields are sent;
* ``unchanged``: the contact already says what the SMS says;
* ``invalid``: the learner cannot be synced yet (``Learner.ready_for_xero``'s reasons);
* ``conflict``: something in Xero stands in the way; the reason says what a person should do;
* ``adopt`` (mode ``adopt`` only): an existing contact is this learner; it is given the
  learner's ContactNumber, Name and mapped fields instead of a duplicate being created;
* ``review`` (mode ``adopt`` only): an existing contact may be this learner; a person decides
  (``learnerledger duplicates confirm|reject``) and the learner waits until then.

Every reason comes with a stable code (``PlanItem.codes``), for scripts, filters and the web UI.

The learner's contact is found by the link table, then by ContactNumber; never by Name. In mode
``adopt`` a learner without one is matched against the other contacts
(``learnerledger.matching``) and ``sync.adopt`` decides what becomes of it. In mode
``duplicate`` (Wisenet's own way) it is always created, and old contacts are merged later. This
module is pure: the runner loads the learners, the mirrored contacts, the links and the
decisions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from learnerledger.domain.contact import ContactMapping, diff_contact, mapped_hash
from learnerledger.domain.learner import Learner
from learnerledger.domain.mirror import ContactIndex, MirroredContact, name_key
from learnerledger.domain.states import PlanState
from learnerledger.matching import MatchSettings, Pair, find_duplicates
from learnerledger.sync.adopt import Candidate, Choice, choose, describe

__all__ = [
    "MODES",
    "STATES",
    "Plan",
    "PlanItem",
    "make_plan",
]

STATES = tuple(PlanState)
MODES = ("adopt", "duplicate")
BATCH = 50


# The stable codes of the reasons a plan gives (``PlanItem.codes``, beside each reason).
# (a learner not ready in the SMS carries its own codes: ``domain.learner.REASON_CODES``)
SEVERAL_CARRIERS = "several_contacts_carry_ref"
NAME_TAKEN = "name_taken"
ARCHIVED = "contact_archived"
MERGED_AWAY = "contact_merged_away"


@dataclass(frozen=True)
class PlanItem:
    ref_internal: str
    state: PlanState
    contact_id: str | None = None
    reasons: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()  # one per reason
    fields: tuple[str, ...] = ()  # the learner field at fault per reason, when one is
    changes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    payload: Mapping[str, Any] | None = None  # what will be sent (create / update / adopt)
    mapped_hash: str | None = None
    link: bool = False  # the contact was found by ContactNumber: link it to the learner
    candidates: tuple[Candidate, ...] = ()  # adopt mode: contacts that may be this learner

    def as_json(self) -> dict[str, Any]:
        return {
            "ref_internal": self.ref_internal,
            "state": self.state,
            "contact_id": self.contact_id,
            "reasons": list(self.reasons),
            "codes": list(self.codes),
            "changes": {k: dict(v) for k, v in self.changes.items()},
            "candidates": [c.as_json() for c in self.candidates],
        }


@dataclass
class Plan:
    mode: str
    organisation: str
    items: list[PlanItem]
    not_flagged: int = 0
    minute_limit: int = 60
    day_remaining: int | None = None
    matched: frozenset[str] = frozenset()  # learners the duplicate finder was asked about

    def totals(self) -> dict[str, int]:
        counts = {str(state): 0 for state in STATES}
        for item in self.items:
            counts[str(item.state)] += 1
        return counts

    def writes(self, state: PlanState | str) -> list[PlanItem]:
        return [i for i in self.items if i.state == state]

    @property
    def calls(self) -> int:
        """API calls the apply will cost: one per batch of 50 (adopts ride with the updates),
        and one to confirm afterwards that nothing but these writes changed (so the next read
        starts after them)."""
        updates = len(self.writes("update")) + len(self.writes("adopt"))
        batches = math.ceil(len(self.writes("create")) / BATCH) + math.ceil(updates / BATCH)
        return batches + 1 if batches else 0

    @property
    def seconds(self) -> float:
        """How long those calls take inside the per-minute budget (no waiting below it)."""
        if self.calls <= self.minute_limit:
            return 0.0
        return (self.calls - self.minute_limit) * 60.0 / self.minute_limit

    def as_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "organisation": self.organisation,
            "totals": self.totals(),
            "not_flagged": self.not_flagged,
            "api_calls": self.calls,
            "estimated_seconds": round(self.seconds, 1),
            "learners": [i.as_json() for i in self.items],
        }


def _archived_reason(ref: str, c: MirroredContact) -> str:
    if c.merged_to:
        return (
            f"The contact {describe(c)} that carries {ref} as its Contact Code was merged into "
            f"contact {c.merged_to} in Xero, so it is archived. Merges must go into the contact "
            f"that carries the learner's Contact Code: in Xero, restore {c.name!r} "
            "(Contacts › Archived › Restore) and merge the other contact into it, then sync again."
        )
    return (
        f"The contact {describe(c)} that carries {ref} as its Contact Code is archived in Xero. "
        f"Restore it in Xero (Contacts › Archived › select it › Restore), then sync again; "
        "learnerledger will update it rather than create a second contact."
    )


def _name_taken_reason(name: str, holder: MirroredContact, ref: str) -> str:
    return (
        f"The Name {name!r} is already used by the active contact {describe(holder)}, which "
        f"does not carry {ref} as its Contact Code. Xero keeps Names unique, so learnerledger "
        "cannot give this learner its Name. If that contact is this learner, merge it into the "
        "learner's contact in Xero (or archive it); otherwise rename it in Xero. Then sync again."
    )


def _changes(diff: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key, new in diff.items():
        if key in ("Phones", "Addresses"):
            type_key = "PhoneType" if key == "Phones" else "AddressType"
            held = {
                str(i.get(type_key)): i for i in current.get(key) or [] if isinstance(i, Mapping)
            }
            for item in new:
                kind = item[type_key]
                old = held.get(kind, {})
                shown_new = {k: v for k, v in item.items() if k != type_key}
                shown_old = {k: old.get(k, "") for k in shown_new}
                out[f"{key}.{kind}"] = {"from": shown_old, "to": shown_new}
        else:
            out[key] = {"from": current.get(key, ""), "to": new}
    return out


@dataclass(frozen=True)
class _Found:
    """Where a ready learner stands before any matching: its mapped fields and its contact
    (by link, then ContactNumber), or the conflict that stops it."""

    learner: Learner
    mapped: dict[str, Any]
    digest: str
    contact: MirroredContact | None = None
    by_number: bool = False


def _locate(
    learner: Learner,
    mapping: ContactMapping,
    contacts: ContactIndex,
    linked: Mapping[str, str],
) -> _Found | PlanItem:
    ref = learner.ref_internal
    reasons = [r for r in learner.readiness() if r.code != "not_flagged"]
    if reasons:
        return PlanItem(
            ref,
            PlanState.INVALID,
            linked.get(ref),
            tuple(r.message for r in reasons),
            codes=tuple(r.code for r in reasons),
            fields=tuple(r.field for r in reasons),
        )
    mapped = mapping.contact(learner)
    found = _Found(learner, mapped, mapped_hash(mapped))
    link_id = linked.get(ref)
    if link_id is not None and link_id in contacts.by_id:
        return replace(found, contact=contacts.by_id[link_id])
    carriers = contacts.with_number(ref)
    if len(carriers) > 1:
        listed = ", ".join(describe(c) for c in carriers)
        return PlanItem(
            ref,
            PlanState.CONFLICT,
            None,
            (
                f"{len(carriers)} contacts carry {ref} as their Contact Code: {listed}. "
                "A learner must have exactly one. In Xero, merge them into the one to keep "
                "(or archive the others), then sync again.",
            ),
            codes=(SEVERAL_CARRIERS,),
        )
    if carriers:
        return replace(found, contact=carriers[0], by_number=True)
    return found


def _name_holder(name: str, contacts: ContactIndex, mine: str | None) -> MirroredContact | None:
    """An active contact other than ``mine`` that holds ``name``."""
    others = [c for c in contacts.holding_name(name) if c.contact_id != mine] if name else []
    return others[0] if others else None


def _plan_new(found: _Found, contacts: ContactIndex, choice: Choice) -> PlanItem:
    """A learner without a contact of its own: created, or (mode adopt) ``choice``."""
    ref = found.learner.ref_internal
    name = str(found.mapped.get("Name", ""))
    mine = choice.contact_id if choice.state is PlanState.ADOPT else None
    holder = _name_holder(name, contacts, mine)
    item = PlanItem(
        ref,
        choice.state,
        None,
        choice.reasons,
        codes=choice.codes,
        mapped_hash=found.digest,
        candidates=choice.candidates,
    )
    if choice.state is PlanState.REVIEW:
        return item
    if holder is not None:
        return replace(
            item,
            state=PlanState.CONFLICT,
            reasons=(_name_taken_reason(name, holder, ref), *choice.reasons),
            codes=(NAME_TAKEN, *choice.codes),
            mapped_hash=None,
        )
    if mine is None:
        return replace(item, payload=found.mapped)
    contact = contacts.by_id[mine]
    diff = diff_contact(found.mapped, contact.data)
    return replace(
        item,
        contact_id=mine,
        changes=_changes(diff, contact.data),
        payload={"ContactID": mine, **diff},
        link=True,
    )


def _plan_existing(
    found: _Found, contact: MirroredContact, contacts: ContactIndex, hashes: Mapping[str, Any]
) -> PlanItem:
    """A learner with its contact: updated, unchanged, or the conflict in the way."""
    ref = found.learner.ref_internal
    name = str(found.mapped.get("Name", ""))
    if not contact.active:
        return PlanItem(
            ref,
            PlanState.CONFLICT,
            contact.contact_id,
            (_archived_reason(ref, contact),),
            codes=(MERGED_AWAY if contact.merged_to else ARCHIVED,),
        )
    holder = _name_holder(name, contacts, contact.contact_id)
    if holder is not None and name_key(name) != name_key(contact.name):
        return PlanItem(
            ref,
            PlanState.CONFLICT,
            contact.contact_id,
            (_name_taken_reason(name, holder, ref),),
            codes=(NAME_TAKEN,),
        )
    diff = diff_contact(found.mapped, contact.data)
    if not diff:
        return PlanItem(
            ref,
            PlanState.UNCHANGED,
            contact.contact_id,
            mapped_hash=found.digest,
            link=found.by_number or hashes.get(ref) != found.digest,
        )
    return PlanItem(
        ref,
        PlanState.UPDATE,
        contact.contact_id,
        changes=_changes(diff, contact.data),
        payload={"ContactID": contact.contact_id, **diff},
        mapped_hash=found.digest,
        link=found.by_number,
    )


def make_plan(
    learners: Iterable[Learner],
    contacts: ContactIndex,
    linked: Mapping[str, str],
    *,
    mapping: ContactMapping,
    mode: str = "duplicate",
    organisation: str = "",
    hashes: Mapping[str, str | None] | None = None,
    minute_limit: int = 60,
    day_remaining: int | None = None,
    decisions: Mapping[tuple[str, str], str] | None = None,
    pairs: Sequence[Pair] | None = None,
    match_settings: MatchSettings | None = None,
) -> Plan:
    """The plan for every learner flagged for Xero. ``linked`` maps RefInternal to the
    ContactID the link table holds; ``hashes`` to the mapped hash last written.

    Mode ``adopt`` matches the learners without a contact of their own against the other
    contacts (``pairs``, when given, stands in for the duplicate finder's answer) and plans
    ``adopt``, ``review`` or ``create`` for each (``sync.adopt``), respecting ``decisions``:
    (RefInternal, ContactID) -> ``confirmed`` or ``rejected``."""
    if mode not in MODES:
        raise ValueError(f"unknown sync mode {mode!r}: use one of {', '.join(MODES)}")
    everyone = list(learners)
    flagged = sorted((x for x in everyone if x.sync_to_xero), key=lambda x: x.ref_internal)
    located = {x.ref_internal: _locate(x, mapping, contacts, linked) for x in flagged}
    new = [r for r, f in located.items() if isinstance(f, _Found) and f.contact is None]
    choices: dict[str, Choice] = {}
    if mode == "adopt" and new:
        survivors = dict(linked)  # learner -> its own contact
        for ref, f in located.items():
            if isinstance(f, _Found) and f.contact is not None:
                survivors[ref] = f.contact.contact_id
        if pairs is None:
            pairs = find_duplicates(
                flagged, contacts.by_id.values(), survivors=survivors, settings=match_settings
            )
        owners = {contact_id: ref for ref, contact_id in survivors.items()}
        choices = choose(new, pairs, decisions or {}, contacts, owners)
    items: list[PlanItem] = []
    for ref, f in located.items():
        if isinstance(f, PlanItem):
            items.append(f)
        elif f.contact is None:
            items.append(_plan_new(f, contacts, choices.get(ref, Choice(PlanState.CREATE))))
        else:
            items.append(_plan_existing(f, f.contact, contacts, hashes or {}))
    return Plan(
        mode=mode,
        organisation=organisation,
        items=items,
        not_flagged=len(everyone) - len(flagged),
        minute_limit=minute_limit,
        day_remaining=day_remaining,
        matched=frozenset(choices),
    )


def batches(items: Sequence[Any], size: int = BATCH) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]

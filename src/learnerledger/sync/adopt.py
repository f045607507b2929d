"""Adopt instead of duplicating: which existing contact a learner without one of its own takes
over, or why a person must decide first.

Most training providers had Xero before they connected their SMS, so a new learner often
already has a contact typed in by hand. Giving that contact the learner's ContactNumber, unique
Name and mapped fields keeps its invoices and payments where they are and leaves nothing to
merge. Doing it to the wrong contact is as bad as a merge in the wrong direction, so the rules
are conservative; a learner is planned

* ``adopt`` when a person confirmed the pair (``learnerledger duplicates confirm``), or when
  the duplicate finder has exactly one ``auto`` match for it (its own safeguards already keep
  ``auto`` from a contact that also matches another learner, and from a learner whose best
  contact has a near rival), and that contact can take the learner's identity;
* ``review`` when the matches are weaker or ambiguous, or the one contact it would adopt
  cannot take the learner's identity: the pairs wait in ``duplicates`` for a decision;
* ``create`` when nothing matches, every match was rejected, or the contacts a person
  confirmed cannot be adopted (they are merged into the new contact later).

A contact never adopted: one that is archived or merged away, one that carries a Contact Code
already (another system's number, or another learner's), one that is another learner's own
contact or confirmed as another learner's duplicate, a company (the finder never pairs one), and
one that the finder no longer pairs with the learner at all.

Pure: the plan hands in the finder's pairs and the stored decisions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from learnerledger.domain.mirror import ContactIndex, MirroredContact
from learnerledger.domain.states import PlanState
from learnerledger.matching import Pair

__all__ = [
    "Candidate",
    "Choice",
    "choose",
    "describe",
]

CONFIRMED = "confirmed"
REJECTED = "rejected"

# The stable codes of what the plan says about a learner's matches (``PlanItem.codes``).
ADOPT_AUTO = "adopt_auto_match"
ADOPT_CONFIRMED = "adopt_confirmed_match"
REVIEW_MATCHES = "possible_matches"
MATCHES_REJECTED = "matches_rejected"
CONFIRMED_NOT_ADOPTABLE = "confirmed_not_adoptable"
# Why one contact cannot be adopted.
MATCH_GONE = "match_gone"
MATCH_MERGED = "match_merged_away"
MATCH_ARCHIVED = "match_archived"
MATCH_NUMBERED = "match_has_contact_code"
MATCH_OWNED = "match_is_another_learners"
MATCH_CLAIMED = "match_claimed_twice"
MATCH_UNPAIRED = "match_no_longer_found"

_SHOWN = 3  # candidates named in a review reason


def describe(c: MirroredContact) -> str:
    return f"{c.name!r} ({c.contact_id})"


@dataclass(frozen=True)
class Candidate:
    """A contact the duplicate finder pairs with a learner that has no contact of its own, as
    the plan weighs it: the finder's pair, a person's decision, and why it cannot be adopted
    (``refused``, with its code), when it cannot."""

    pair: Pair
    name: str
    decision: str | None = None
    refused: str = ""
    refused_code: str = ""

    @property
    def contact_id(self) -> str:
        return self.pair.contact_id

    @property
    def status(self) -> str:
        """What a person sees: their decision, else the finder's ``auto`` or ``review``."""
        return self.decision or self.pair.status

    @property
    def summary(self) -> str:
        """The evidence in a line: what agreed most strongly, then what disagreed."""
        agreed = sorted((e for e in self.pair.evidence if e.weight > 0), key=lambda e: -e.weight)
        against = sorted((e for e in self.pair.evidence if e.weight < 0), key=lambda e: e.weight)
        return "; ".join(e.detail for e in [*agreed[:4], *against[:2]])

    def shown(self) -> str:
        return f"{self.name!r} ({self.contact_id}, score {self.pair.score:.2f}: {self.summary})"

    def as_json(self) -> dict[str, Any]:
        return {
            "contact_id": self.contact_id,
            "name": self.name,
            "score": round(self.pair.score, 4),
            "status": self.status,
            "matched_as": self.pair.status,
            "decision": self.decision,
            "summary": self.summary,
            "evidence": [e.as_json() for e in self.pair.evidence],
            "reasons": list(self.pair.reasons),
            "refused": self.refused,
            "refused_code": self.refused_code,
        }


@dataclass(frozen=True)
class Choice:
    """What becomes of one learner without a contact: ``adopt`` (``contact_id``), ``review``
    or ``create``; every reason with its code; the candidates, best first."""

    state: PlanState
    contact_id: str | None = None
    reasons: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    candidates: tuple[Candidate, ...] = ()


def _refusal(
    ref: str,
    contact_id: str,
    contacts: ContactIndex,
    owners: Mapping[str, str],
    confirmed_by: Mapping[str, set[str]],
) -> tuple[str, str]:
    """Why ``contact_id`` cannot become ``ref``'s contact (code, text), or ("", "")."""
    c = contacts.by_id.get(contact_id)
    if c is None:
        return MATCH_GONE, (
            f"The contact {contact_id} is no longer in Xero, so it cannot be adopted. "
            f"Reject the pair (`learnerledger duplicates reject {ref} {contact_id}`)."
        )
    if c.merged_to:
        return MATCH_MERGED, (
            f"The contact {describe(c)} was merged into contact {c.merged_to} in Xero, so it "
            "cannot be adopted."
        )
    if not c.active:
        return MATCH_ARCHIVED, (
            f"The contact {describe(c)} is archived in Xero, and learnerledger never adopts an "
            "archived contact. To adopt it, restore it in Xero (Contacts › Archived › Restore) "
            f"and sync again; to give {ref} a new contact instead (and merge this one into it "
            "later), confirm or reject the pair."
        )
    number = (c.contact_number or "").strip()
    if number:
        return MATCH_NUMBERED, (
            f"The contact {describe(c)} already carries the Contact Code {number!r}, which "
            "another system or learner may rely on, so learnerledger does not overwrite it. "
            f"If nothing uses {number!r}, clear it in Xero and sync again to adopt the "
            f"contact; otherwise confirm or reject the pair to give {ref} a new contact."
        )
    owner = owners.get(contact_id)
    if owner is not None and owner != ref:
        return MATCH_OWNED, (
            f"The contact {describe(c)} is already learner {owner}'s own contact. Reject the "
            f"pair (`learnerledger duplicates reject {ref} {contact_id}`)."
        )
    others = sorted(confirmed_by.get(contact_id, set()) - {ref})
    if others:
        return MATCH_CLAIMED, (
            f"The contact {describe(c)} is also confirmed as learner {', '.join(others)}: one "
            "contact can be only one learner's. Reject the pairs that are wrong "
            "(`learnerledger duplicates reject REF CONTACT_ID`), then sync again."
        )
    return "", ""


def _review(ref: str, candidates: Sequence[Candidate], *extra: Candidate) -> Choice:
    live = [c for c in candidates if c.decision != REJECTED]
    named = "; ".join(c.shown() for c in live[:_SHOWN])
    more = f"; and {len(live) - _SHOWN} more" if len(live) > _SHOWN else ""
    first = (
        f"{len(live)} existing contact{'s' if len(live) != 1 else ''} may be this learner: "
        f"{named}{more}. A person decides: `learnerledger duplicates --status review` lists "
        f"them; `learnerledger duplicates confirm {ref} CONTACT_ID` has the next sync adopt "
        f"that contact, and rejecting every pair has it create a new one. The rest of the "
        "sync goes ahead meanwhile."
    )
    reasons, codes = [first], [REVIEW_MATCHES]
    for c in extra:
        reasons.append(c.refused)
        codes.append(c.refused_code)
    return Choice(PlanState.REVIEW, None, tuple(reasons), tuple(codes), tuple(candidates))


def _adopt(ref: str, chosen: Candidate, candidates: Sequence[Candidate]) -> Choice:
    others = [
        c for c in candidates if c.contact_id != chosen.contact_id and c.decision == CONFIRMED
    ]
    if chosen.decision == CONFIRMED:
        why = f"a person confirmed it is this learner (score {chosen.pair.score:.2f})"
        code = ADOPT_CONFIRMED
    else:
        why = (
            f"the duplicate finder is sure (score {chosen.pair.score:.2f}) and no other "
            "contact comes close"
        )
        code = ADOPT_AUTO
    text = (
        f"Adopts the existing contact {chosen.name!r} ({chosen.contact_id}): {why}. Evidence: "
        f"{chosen.summary}. It receives the Contact Code {ref}, the learner's Name and fields, "
        "so its invoices and payments stay where they are and nothing needs merging."
    )
    if others:
        text += (
            " Also confirmed as this learner: "
            + ", ".join(f"{c.name!r} ({c.contact_id})" for c in others)
            + "; `learnerledger merge` moves them into this contact."
        )
    ordered = [chosen, *(c for c in candidates if c is not chosen)]
    return Choice(PlanState.ADOPT, chosen.contact_id, (text,), (code,), tuple(ordered))


def _create(ref: str, candidates: Sequence[Candidate], missing: Sequence[str]) -> Choice:
    confirmed = [c for c in candidates if c.decision == CONFIRMED]
    if confirmed or missing:
        shown = [f"{c.name!r} ({c.contact_id})" for c in confirmed] + list(missing)
        text = (
            f"Confirmed as this learner but not adopted: {', '.join(shown)} (the reasons "
            f"follow). {ref} gets a new contact; `learnerledger merge` then moves the confirmed "
            "contacts' documents into it."
        )
        reasons = [text, *(c.refused for c in confirmed)]
        codes = [CONFIRMED_NOT_ADOPTABLE, *(c.refused_code for c in confirmed)]
        for contact_id in missing:
            reasons.append(
                f"The confirmed contact {contact_id} is no longer paired with {ref} by the "
                "duplicate finder (it may have changed in Xero, been merged, or be a company), "
                "so it is not adopted."
            )
            codes.append(MATCH_UNPAIRED)
        return Choice(PlanState.CREATE, None, tuple(reasons), tuple(codes), tuple(candidates))
    if candidates:
        text = (
            f"Every contact that may have been this learner was rejected "
            f"({', '.join(c.contact_id for c in candidates)}): a new contact is created."
        )
        return Choice(PlanState.CREATE, None, (text,), (MATCHES_REJECTED,), tuple(candidates))
    return Choice(PlanState.CREATE)


def choose(
    refs: Iterable[str],
    pairs: Iterable[Pair],
    decisions: Mapping[tuple[str, str], str],
    contacts: ContactIndex,
    owners: Mapping[str, str],
) -> dict[str, Choice]:
    """What becomes of each learner of ``refs`` (learners without a contact of their own).

    ``pairs`` are the duplicate finder's; ``decisions`` map (RefInternal, ContactID) to
    ``confirmed`` or ``rejected``; ``owners`` map a ContactID to the learner whose own contact
    it is (by link or ContactNumber)."""
    wanted = set(refs)
    confirmed_by: dict[str, set[str]] = defaultdict(set)  # contact -> learners
    confirmed_of: dict[str, set[str]] = defaultdict(set)  # learner -> contacts
    for (ref, contact_id), decision in decisions.items():
        if decision == CONFIRMED:
            confirmed_by[contact_id].add(ref)
            confirmed_of[ref].add(contact_id)
    by_ref: dict[str, list[Candidate]] = defaultdict(list)
    for pair in pairs:
        ref = pair.ref_internal
        if ref not in wanted:
            continue
        code, text = _refusal(ref, pair.contact_id, contacts, owners, confirmed_by)
        held = contacts.by_id.get(pair.contact_id)
        by_ref[ref].append(
            Candidate(
                pair,
                held.name if held else "",
                decisions.get((ref, pair.contact_id)),
                refused=text,
                refused_code=code,
            )
        )
    choices: dict[str, Choice] = {}
    for ref in sorted(wanted):
        candidates = sorted(by_ref.get(ref, []), key=lambda c: (-c.pair.score, c.contact_id))
        missing = sorted(confirmed_of.get(ref, set()) - {c.contact_id for c in candidates})
        confirmed = [c for c in candidates if c.decision == CONFIRMED]
        claimed = [c for c in confirmed if c.refused_code == MATCH_CLAIMED]
        adoptable = [c for c in confirmed if not c.refused]
        undecided = [c for c in candidates if c.decision is None]
        auto = [c for c in undecided if c.pair.status == "auto"]
        # One auto match, and no undecided contact scoring as high: no rival.
        sure = auto[0] if len(auto) == 1 and not _rivals(undecided, auto[0]) else None
        if adoptable:
            choices[ref] = _adopt(ref, adoptable[0], candidates)
        elif claimed:
            choices[ref] = _review(ref, candidates, *claimed)
        elif sure is not None and not sure.refused:
            choices[ref] = _adopt(ref, sure, candidates)
        elif confirmed or missing or not undecided:
            choices[ref] = _create(ref, candidates, missing)
        elif sure is not None:
            choices[ref] = _review(ref, candidates, sure)
        else:
            choices[ref] = _review(ref, candidates)
    return _one_learner_per_contact(choices)


def _rivals(undecided: Sequence[Candidate], best: Candidate) -> bool:
    """Another undecided contact scores at least as high as ``best``."""
    return any(c is not best and c.pair.score >= best.pair.score for c in undecided)


def _one_learner_per_contact(choices: dict[str, Choice]) -> dict[str, Choice]:
    """A contact that two learners would adopt is adopted by neither: both wait for a person.
    (The finder's safeguards and the decision checks keep this from happening; this holds
    it whatever they become.)"""
    takers: dict[str, list[str]] = defaultdict(list)
    for ref, choice in choices.items():
        if choice.state is PlanState.ADOPT and choice.contact_id:
            takers[choice.contact_id].append(ref)
    for contact_id, refs in takers.items():
        if len(refs) < 2:
            continue
        for ref in refs:
            text = (
                f"The contact {contact_id} would be adopted by learners {', '.join(refs)}: one "
                "contact can be only one learner's. Reject the pairs that are wrong "
                "(`learnerledger duplicates reject REF CONTACT_ID`), then sync again."
            )
            choice = choices[ref]
            choices[ref] = Choice(
                PlanState.REVIEW, None, (text,), (MATCH_CLAIMED,), choice.candidates
            )
    return choices

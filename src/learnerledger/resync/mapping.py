"""Which learner a Xero document belongs to: pure, from the mirror's contacts, the link table
and the learners the store knows.

A document names a contact. Xero's merge moves every document of the contact merged away to
the contact kept, so a contact that was merged (``MergedToContactID``) holds no documents any
more: a document still mirrored on it is looked up first at the end of the merge chain, then
back along it (a merge made the wrong way round still finds the learner's own contact). At
each contact, in order:

1. the link table: the learner's own contact, or a legacy contact absorbed into it (adopted or
   merged);
2. the contact's ContactNumber, which is the learner's RefInternal.

A document that reaches no learner (an employer's, a customer's who is not a learner) gets a
:class:`NoMatch` with a stable code and a reason that says what would make it match; it is
listed, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from learnerledger.domain.mirror import ContactIndex, MirroredContact

__all__ = [
    "CONTACT_NOT_MIRRORED",
    "NOT_A_LEARNER",
    "NO_CONTACT",
    "NO_SMS_ID",
    "UNKNOWN_LEARNER",
    "LearnerFinder",
    "LearnerRef",
    "Match",
    "NoMatch",
]

NO_CONTACT = "no_contact"
CONTACT_NOT_MIRRORED = "contact_not_mirrored"
NOT_A_LEARNER = "not_a_learner"
UNKNOWN_LEARNER = "unknown_learner"
NO_SMS_ID = "learner_not_in_sms"

_MAX_CHAIN = 20  # merges of merges; a longer chain (or a loop) is cut here


@dataclass(frozen=True)
class LearnerRef:
    """A learner as the resync needs it: its RefInternal, where it came from (``wisenet`` or
    ``csv``) and, from Wisenet, its LearnerId."""

    ref_internal: str
    source: str
    sms_id: str | None = None


@dataclass(frozen=True)
class Match:
    """The learner a document belongs to; ``via`` says how it was found (``learner``: the
    learner's own contact in the link table, ``absorbed``: a legacy contact absorbed into it,
    ``contact_number``), ``contact_id`` at which contact, ``merged`` whether through Xero's
    MergedToContactID."""

    learner: LearnerRef
    via: str
    contact_id: str
    merged: bool


@dataclass(frozen=True)
class NoMatch:
    """No learner: ``code`` is stable (for filters), ``reason`` says why and what would help."""

    code: str
    reason: str
    contact_id: str | None
    contact_name: str | None


class LearnerFinder:
    """Finds learners for contacts (each contact looked up once)."""

    def __init__(
        self,
        contacts: ContactIndex,
        links: Mapping[str, tuple[str, str]],
        learners: Mapping[str, LearnerRef],
    ) -> None:
        self.contacts = contacts
        self.links = links
        self.learners = {ref.casefold(): learner for ref, learner in learners.items()}
        self._found: dict[str, Match | NoMatch] = {}

    def find(self, contact_id: str | None) -> Match | NoMatch:
        if not contact_id:
            return NoMatch(
                NO_CONTACT,
                "The document names no contact, so it belongs to no learner.",
                None,
                None,
            )
        found = self._found.get(contact_id)
        if found is None:
            found = self._find(contact_id)
            self._found[contact_id] = found
        return found

    def _chain(self, contact_id: str) -> list[str]:
        chain = [contact_id]
        current = self.contacts.by_id.get(contact_id)
        while current is not None and current.merged_to and len(chain) < _MAX_CHAIN:
            if current.merged_to in chain:
                break
            chain.append(current.merged_to)
            current = self.contacts.by_id.get(current.merged_to)
        return chain

    def _find(self, contact_id: str) -> Match | NoMatch:
        chain = self._chain(contact_id)
        unknown: NoMatch | None = None
        for position in range(len(chain) - 1, -1, -1):
            found = self._at(chain[position], merged=position > 0)
            if isinstance(found, Match):
                return found
            unknown = unknown or found
        if unknown is not None:
            return unknown
        contact = self.contacts.by_id.get(contact_id)
        if contact is None:
            return NoMatch(
                CONTACT_NOT_MIRRORED,
                f"The contact {contact_id} is not in the local copy of Xero, so its learner "
                "cannot be told. Run the resync again (it reads the contacts first); if it "
                "stays, the contact was removed from Xero.",
                contact_id,
                None,
            )
        return NoMatch(NOT_A_LEARNER, _not_a_learner(contact, len(chain) > 1), contact_id, None)

    def _at(self, contact_id: str, *, merged: bool) -> Match | NoMatch | None:
        """The learner of one contact: by the link table, then its ContactNumber; a NoMatch
        when either names a RefInternal the store has no learner for; None otherwise."""
        contact = self.contacts.by_id.get(contact_id)
        name = contact.name if contact else None
        link = self.links.get(contact_id)
        if link is not None:
            ref, role = link
            learner = self.learners.get(ref.casefold())
            if learner is not None:
                return self._usable(learner, role, contact_id, merged, name)
            return NoMatch(
                UNKNOWN_LEARNER,
                f"The contact {name or contact_id} is linked to learner {ref}, whom the local "
                "store does not hold. Read the learners again (learnerledger pull learners, or "
                "import the CSV export), then resync.",
                contact_id,
                name,
            )
        number = (contact.contact_number or "").strip() if contact else ""
        if number:
            learner = self.learners.get(number.casefold())
            if learner is not None:
                return self._usable(learner, "contact_number", contact_id, merged, name)
        return None

    @staticmethod
    def _usable(
        learner: LearnerRef, via: str, contact_id: str, merged: bool, name: str | None
    ) -> Match | NoMatch:
        if learner.source == "wisenet" and not learner.sms_id:
            return NoMatch(
                NO_SMS_ID,
                f"Learner {learner.ref_internal} came from Wisenet without a LearnerId, so "
                "Wisenet cannot be told whose the document is. Read the learners again "
                "(learnerledger pull learners --full), then resync.",
                contact_id,
                name,
            )
        return Match(learner, via, contact_id, merged)


def _not_a_learner(contact: MirroredContact, merged: bool) -> str:
    number = (contact.contact_number or "").strip()
    carries = (
        f"its Contact Code {number!r} is no learner's RefInternal"
        if number
        else "it has no Contact Code"
    )
    chain = ", and neither has the contact it was merged into" if merged else ""
    return (
        f"{contact.name!r} is not a learner's contact: no learner is linked to it and "
        f"{carries}{chain}. If it is a learner's, merge it in Xero into the learner's contact "
        "(or give it the learner's RefInternal as its Contact Code); an employer's or another "
        "customer's documents have no place on a learner in Wisenet v1."
    )

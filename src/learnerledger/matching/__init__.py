"""Duplicate detection: which legacy Xero contacts are which learner, how sure, and why.

Pure: it reads learners and mirrored contacts and returns pairs; nothing here touches the
store or the network. ``find_duplicates`` is the one entry point::

    pairs = find_duplicates(learners, contacts, survivors={"DAU0000072": contact_id})
    for p in pairs:
        print(p.ref_internal, p.contact_id, p.score, p.status, p.reasons)

The stages are modules of their own: ``normalize`` (normal forms), ``candidates`` (blocking),
``score`` (comparisons, weights, evidence) and ``cluster`` (thresholds and safeguards).
"""

from __future__ import annotations

import gc
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

import numpy as np

from learnerledger.domain.learner import Learner
from learnerledger.domain.mirror import MirroredContact

from .cluster import MatchSettings, Pair, Scored, Status, decide
from .finder import Scoring, score_learners
from .model import Weights
from .records import ContactTable, Vocabulary
from .score import Evidence, evidence, probability

__all__ = ["Evidence", "MatchSettings", "Pair", "Weights", "find_duplicates"]


def find_duplicates(
    learners: Iterable[Learner],
    contacts: Iterable[MirroredContact],
    *,
    survivors: Mapping[str, str] | None = None,
    settings: MatchSettings | None = None,
) -> list[Pair]:
    """Every (learner, legacy contact) pair scoring at least ``settings.review``, and every
    learner a contact fits about as well as its best one, sorted by RefInternal then score
    (highest first).

    ``survivors`` maps a RefInternal to the ContactID of the learner's own contact: that
    contact is never a candidate (it is the survivor) and its e-mail, phones and addresses
    count as the learner's. Contacts already merged into another (``merged_to``) are left out;
    archived ones are compared like active ones. A contact whose ContactNumber is another
    learner's RefInternal belongs to that learner and is not offered to the others."""
    settings = settings or MatchSettings()
    survivors = dict(survivors or {})
    contact_list = [c for c in contacts if not c.merged_to]
    by_id = {c.contact_id: c for c in contact_list}
    own = {ref: by_id[cid] for ref, cid in survivors.items() if cid in by_id}
    survivor_ids = set(survivors.values())
    others = [c for c in contact_list if c.contact_id not in survivor_ids]
    with _collector_paused():
        scoring = score_learners(list(learners), others, own, settings)
        return _pairs(scoring, survivors, settings)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector paused while matching: it makes millions of short-lived
    objects without cycles, and each full collection would walk the caller's data too (a
    quarter of the time at 100,000 learners). Reference counting still frees everything."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _pairs(scoring: Scoring, survivors: Mapping[str, str], settings: MatchSettings) -> list[Pair]:
    levels, own_bits, bits = scoring.levels, scoring.own, scoring.bits
    learners, contacts = scoring.learners, scoring.contacts
    review_bits = _bits(settings.review)
    # A contact that two learners fit about equally well, each on its own, is listed for both.
    best = np.full(len(contacts), -np.inf)
    np.maximum.at(best, levels.contact, own_bits)
    contender = (own_bits >= review_bits) & (
        own_bits >= best[levels.contact] - settings.rival_margin
    )
    contenders: dict[str, list[str]] = defaultdict(list)
    for k in np.flatnonzero(contender).tolist():
        contact_id = contacts.contacts[int(levels.contact[k])].contact_id
        contenders[contact_id].append(learners.refs[int(levels.learner[k])])
    scored: list[Scored] = []
    identities: dict[int, frozenset[tuple[str, str]]] = {}
    kept = np.flatnonzero((bits >= review_bits) | contender)
    kept_levels, weights, household = scoring.weights(kept)
    for n, k in enumerate(kept.tolist()):
        log_odds = float(bits[k])
        score = probability(log_odds)
        found, reasons = evidence(
            scoring.vocab, learners, contacts, scoring.model, kept_levels, weights, household, n
        )
        ref = learners.refs[int(levels.learner[k])]
        contact = int(levels.contact[k])
        contact_id = contacts.contacts[contact].contact_id
        shared = log_odds - float(own_bits[k])
        if shared < -0.005:
            rivals = sorted(set(contenders.get(contact_id, ())) - {ref})
            found.append(
                Evidence(
                    "cluster",
                    "rival",
                    0.0,
                    shared,
                    "the contact is one person and also resembles "
                    + (f"learner {', '.join(rivals)}" if rivals else "other learners"),
                )
            )
        status: Status = "auto" if score >= settings.auto and not reasons else "review"
        pair = Pair(
            ref_internal=ref,
            contact_id=contact_id,
            survivor_id=survivors.get(ref),
            score=score,
            status=status,
            evidence=tuple(found),
            reasons=tuple(reasons),
        )
        record = contacts.contacts[contact]
        name = str(record.data.get("Name") or "") or record.name or ""
        if contact not in identities:
            identities[contact] = _identity(scoring.vocab, contacts, contact)
        scored.append(Scored(pair, log_odds, identities[contact], name))
    return decide(scored, settings, contenders)


def _bits(p: float) -> float:
    """The log-odds (bits) of probability ``p``, a little below it so that rounding keeps
    every pair at ``p``."""
    if p <= 0.0:
        return -math.inf
    if p >= 1.0:
        return 60.0
    return math.log2(p / (1.0 - p)) - 1e-6


def _identity(vocab: Vocabulary, contacts: ContactTable, j: int) -> frozenset[tuple[str, str]]:
    """What makes a contact one person: its mobiles, its own e-mail, its first reading's name."""
    s = vocab.strings
    identity = {("m", s[m]) for m in contacts.mobile[j].tolist() if m}
    if contacts.email[j] and not contacts.email_role[j]:
        identity.add(("e", s[contacts.email[j]]))
    if contacts.given0[j, 0]:
        identity.add(("n", f"{s[contacts.given0[j, 0]]} {s[contacts.family[j, 0]]}"))
    return frozenset(identity)

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

from collections.abc import Iterable, Mapping

from learnerledger.domain.learner import Learner
from learnerledger.domain.mirror import MirroredContact

from .candidates import candidate_pairs
from .cluster import MatchSettings, Pair, Scored, Status, decide
from .score import ContactView, Evidence, Frequencies, LearnerView, Weights, compare, probability

__all__ = ["Evidence", "MatchSettings", "Pair", "Weights", "find_duplicates"]


def find_duplicates(
    learners: Iterable[Learner],
    contacts: Iterable[MirroredContact],
    *,
    survivors: Mapping[str, str] | None = None,
    settings: MatchSettings | None = None,
) -> list[Pair]:
    """Every (learner, legacy contact) pair scoring at least ``settings.review``, sorted by
    RefInternal then score (highest first).

    ``survivors`` maps a RefInternal to the ContactID of the learner's own contact: that
    contact is never a candidate (it is the survivor) and its e-mail, phones and addresses
    count as the learner's. Contacts already merged into another (``merged_to``) are left out;
    archived ones are compared like active ones. A contact whose ContactNumber is another
    learner's RefInternal belongs to that learner and is not offered to the others."""
    settings = settings or MatchSettings()
    survivors = dict(survivors or {})
    contact_list = [c for c in contacts if not c.merged_to]
    by_id = {c.contact_id: c for c in contact_list}
    survivor_ids = set(survivors.values())
    learner_list = list(learners)
    views = [LearnerView.of(x, by_id.get(survivors.get(x.ref_internal, ""))) for x in learner_list]
    refs = {v.ref.upper() for v in views}
    others = [c for c in contact_list if c.contact_id not in survivor_ids]
    contact_views = [ContactView.of(c) for c in others]
    freq = Frequencies.of(views)
    w = settings.weights
    scored: list[Scored] = []
    for i, j in candidate_pairs(views, contact_views, max_block=settings.max_block):
        lv, cv = views[i], contact_views[j]
        if cv.company or (cv.references & refs) - {lv.ref.upper()}:
            continue
        log_odds, evidence, reasons = compare(lv, cv, freq, w)
        score = probability(log_odds)
        if score < settings.review:
            continue
        status: Status = "auto" if score >= settings.auto and not reasons else "review"
        pair = Pair(
            ref_internal=lv.ref,
            contact_id=cv.contact_id,
            survivor_id=survivors.get(lv.ref),
            score=score,
            status=status,
            evidence=tuple(evidence),
            reasons=tuple(reasons),
        )
        scored.append(Scored(pair, log_odds, cv.identity, cv.display))
    return decide(scored, settings)

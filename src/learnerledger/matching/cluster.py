"""From scored pairs to decisions: thresholds, and the safeguards no single pair can see.

Clusters are star-shaped: each learner (its survivor contact, when it has one) with the legacy
contacts that scored at least ``review`` against it. Chains are never followed (A like B, B
like C does not put A with C). Two safeguards keep ``auto`` for the unambiguous:

- a legacy contact that scores at least ``review`` against two or more learners is ``review``
  for every one of them (a household's shared contact, a namesake);
- a learner whose best contact has a rival within ``rival_margin`` bits is ``review``, unless
  the two contacts are evidently one person themselves (the same e-mail, mobile or full name:
  the same learner typed in at two campuses).

Every downgrade says why, in ``reasons`` and as a ``cluster`` entry of the evidence.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from .score import Evidence, Weights

__all__ = ["MatchSettings", "Pair", "Scored", "decide"]

Status = Literal["auto", "review"]


@dataclass(frozen=True)
class MatchSettings:
    """Thresholds (probabilities) and weights; the defaults need no training data."""

    auto: float = 0.99
    review: float = 0.5
    rival_margin: float = 4.0
    max_block: int = 2_000
    weights: Weights = field(default_factory=Weights)

    def __post_init__(self) -> None:
        if not 0.0 <= self.review <= self.auto <= 1.0:
            raise ValueError(
                f"thresholds must satisfy 0 <= review <= auto <= 1: review={self.review}, "
                f"auto={self.auto}"
            )


@dataclass(frozen=True)
class Pair:
    """A learner and a legacy contact that may be the same person."""

    ref_internal: str
    contact_id: str
    survivor_id: str | None
    score: float
    status: Status
    evidence: tuple[Evidence, ...]
    reasons: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "ref_internal": self.ref_internal,
            "contact_id": self.contact_id,
            "survivor_id": self.survivor_id,
            "score": round(self.score, 4),
            "status": self.status,
            "evidence": [e.as_json() for e in self.evidence],
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class Scored:
    """A scored candidate before the cluster safeguards: ``log_odds`` in bits."""

    pair: Pair
    log_odds: float
    identity: frozenset[tuple[str, str]]
    contact_name: str


def _downgrade(s: Scored, reason: str) -> Scored:
    pair = s.pair
    if reason in pair.reasons:
        return s
    evidence = (*pair.evidence, Evidence("cluster", "downgraded", 0.0, 0.0, reason))
    new = replace(pair, status="review", evidence=evidence, reasons=(*pair.reasons, reason))
    return replace(s, pair=new)


def decide(scored: list[Scored], settings: MatchSettings) -> list[Pair]:
    """Apply the safeguards to the pairs at or above ``review``; sorted by learner, best first."""
    kept = [s for s in scored if s.pair.score >= settings.review]
    by_contact: dict[str, list[int]] = defaultdict(list)
    by_learner: dict[str, list[int]] = defaultdict(list)
    for n, s in enumerate(kept):
        by_contact[s.pair.contact_id].append(n)
        by_learner[s.pair.ref_internal].append(n)
    for ns in by_contact.values():
        if len(ns) < 2:
            continue
        for n in ns:
            others = sorted(kept[m].pair.ref_internal for m in ns if m != n)
            kept[n] = _downgrade(kept[n], "the contact also matches learner " + ", ".join(others))
    for ns in by_learner.values():
        if len(ns) < 2:
            continue
        for n in ns:
            me = kept[n]
            for m in ns:
                rival = kept[m]
                if m == n or rival.log_odds < me.log_odds - settings.rival_margin:
                    continue
                if me.identity & rival.identity:
                    continue
                kept[n] = _downgrade(
                    kept[n],
                    f"another contact, {rival.contact_name!r}, scores nearly as high",
                )
                break
    pairs = [s.pair for s in kept]
    pairs.sort(key=lambda p: (p.ref_internal, -p.score, p.contact_id))
    return pairs

"""From scored pairs to decisions: one contact is one person, thresholds, and the safeguards
no single pair can see.

A legacy contact is one person, so it is at most one learner's. Its score against each learner
is therefore weighed against its scores against the others (:func:`exclusive`): the
probability that the contact is *this* learner rather than another learner or nobody the SMS
holds. A sibling's contact that resembles a learner through the household's address and
e-mail, but resembles the sibling far more, drops away; two learners it resembles equally
share the doubt.

Clusters are star-shaped: each learner (its survivor contact, when it has one) with the legacy
contacts that scored at least ``review`` against it. Chains are never followed (A like B, B
like C does not put A with C). Two safeguards keep ``auto`` for the unambiguous:

- a legacy contact that scores at least ``review`` against two or more learners, each on its
  own, is ``review`` for every one of them (a household's shared contact, a namesake);
- a learner whose best contact has a rival within ``rival_margin`` bits is ``review``, unless
  the two contacts are evidently one person themselves (the same e-mail, mobile or full name:
  the same learner typed in at two campuses).

Every downgrade says why, in ``reasons`` and as a ``cluster`` entry of the evidence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from .model import Weights
from .score import Evidence

__all__ = ["Grouping", "MatchSettings", "Pair", "Scored", "decide", "exclusive"]

Floats = npt.NDArray[np.float64]

Status = Literal["auto", "review"]


@dataclass(frozen=True)
class MatchSettings:
    """Thresholds (probabilities) and weights; the defaults need no training data. ``auto``:
    confident enough to act without a person; ``review``: worth a person's look (low, since a
    missed duplicate costs more than a glance); ``rival_margin``: bits within which another
    contact or learner counts as a rival; ``max_block``: the largest blocking key kept."""

    auto: float = 0.99
    review: float = 0.2
    rival_margin: float = 4.0
    max_block: int = 2_000
    weights: Weights = field(default_factory=Weights)

    def __post_init__(self) -> None:
        if not 0.0 <= self.review <= self.auto <= 1.0:
            raise ValueError(
                f"thresholds must satisfy 0 <= review <= auto <= 1: review={self.review}, "
                f"auto={self.auto}"
            )

    def as_json(self) -> dict[str, Any]:
        """The settings as a JSON object (what calibration stores)."""
        return {
            "auto": self.auto,
            "review": self.review,
            "rival_margin": self.rival_margin,
            "max_block": self.max_block,
            "weights": self.weights.as_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MatchSettings:
        """Settings from :meth:`as_json`; what is missing keeps its default."""
        default = cls()
        return cls(
            auto=float(data.get("auto", default.auto)),
            review=float(data.get("review", default.review)),
            rival_margin=float(data.get("rival_margin", default.rival_margin)),
            max_block=int(data.get("max_block", default.max_block)),
            weights=Weights.from_json(dict(data.get("weights") or {})),
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


class Grouping:
    """Pairs grouped by contact, once, to weigh each contact's pairs against each other as
    often as needed (:meth:`exclusive`)."""

    def __init__(self, contact: npt.NDArray[Any]) -> None:
        self.order = np.argsort(contact, kind="stable")
        c = contact[self.order]
        self.starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]]) if len(c) else c[:0]
        self.sizes = np.diff(np.r_[self.starts, len(c)])

    def exclusive(self, log_odds: Floats) -> Floats:
        """The log-odds (bits) that each pair's contact is its learner's rather than another
        learner's or nobody's: ``s_k - log2(1 + sum of 2^s over the contact's other pairs)``."""
        if not len(log_odds):
            return log_odds.copy()
        v = np.minimum(log_odds[self.order], 60.0)
        top = np.repeat(np.maximum.reduceat(v, self.starts), self.sizes)
        scaled = np.exp2(v - top)  # each pair against its contact's best, at most 1
        total = np.repeat(np.add.reduceat(scaled, self.starts), self.sizes)
        others = np.maximum(total - scaled, 0.0)  # in units of 2^top
        # log2(1 + others * 2^top), so that neither a huge nor a tiny top overflows
        taken = np.log2(np.exp2(-top) + others) + top
        result = np.empty(len(v))
        result[self.order] = log_odds[self.order] - np.maximum(taken, 0.0)
        return result


def exclusive(contact: npt.NDArray[Any], log_odds: Floats) -> Floats:
    """The log-odds (bits) that contact ``contact[k]`` is learner k's rather than another
    learner's or nobody's, from every pair's own log-odds ``log_odds[k]``:
    ``s_k - log2(1 + sum of 2^s over the contact's other pairs)``."""
    return Grouping(contact).exclusive(log_odds)


def decide(
    scored: list[Scored],
    settings: MatchSettings,
    contenders: Mapping[str, Sequence[str]] | None = None,
) -> list[Pair]:
    """Apply the safeguards to the kept pairs; sorted by learner, best first.

    ``contenders`` maps a contact to the learners it fits about equally well, each scoring at
    least ``review`` on its own (before :func:`exclusive`): such a contact is never ``auto``."""
    kept = list(scored)
    by_contact: dict[str, list[int]] = defaultdict(list)
    by_learner: dict[str, list[int]] = defaultdict(list)
    for n, s in enumerate(kept):
        by_contact[s.pair.contact_id].append(n)
        by_learner[s.pair.ref_internal].append(n)
    contenders = contenders or {}
    for contact_id, ns in by_contact.items():
        refs = set(contenders.get(contact_id, ())) | {kept[m].pair.ref_internal for m in ns}
        if len(refs) < 2:
            continue
        for n in ns:
            others = sorted(refs - {kept[n].pair.ref_internal})
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

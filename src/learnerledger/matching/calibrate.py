"""Fitting the matcher to an organisation's own decisions (``duplicates calibrate``).

The defaults need no training data: the model fits how often each comparison comes out each
way to the data it is given (``model``). Once people have confirmed and rejected enough pairs,
those decisions say it better for this organisation: how its finance team types names,
e-mails and addresses. Calibration

1. fits ``m`` (how often a true pair shows each level of each field) on the confirmed pairs,
   starting from the fit to the data, so that a level seldom seen among the decisions keeps
   the data's estimate rather than a guess from a handful;
2. picks the ``auto`` threshold: the lowest of a few round values above which at most 1% of
   the decided pairs were rejected, allowing for chance (with none rejected, that takes 300
   decided pairs above it), and the ``review`` threshold: the highest of a few round
   values that still shows 97% of the confirmed pairs (never above the defaults);
3. says what the matcher does with the decided pairs before and after.

It refuses with fewer than ``MIN_CONFIRMED`` confirmed or ``MIN_REJECTED`` rejected pairs:
with fewer, the thresholds and weights it fitted would be chance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from learnerledger.domain.learner import Learner
from learnerledger.domain.mirror import MirroredContact
from learnerledger.errors import LearnerLedgerError

from .cluster import MatchSettings
from .compare import FIELDS
from .finder import find_duplicates, score_learners
from .model import Weights, sigmoid_bits

__all__ = ["MIN_CONFIRMED", "MIN_REJECTED", "Calibration", "Figures", "calibrate"]

MIN_CONFIRMED = 25
MIN_REJECTED = 10
_AUTO = (0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9999)
_REVIEW = (0.5, 0.35, 0.2, 0.1, 0.05)
_STRENGTH = 100.0  # pairs' worth of the data's own fit that the decisions are weighed against


@dataclass(frozen=True)
class Figures:
    """What the matcher does with the decided pairs under one set of settings."""

    confirmed: int
    rejected: int
    confirmed_found: int  # returned (auto or review)
    confirmed_auto: int
    rejected_found: int
    rejected_auto: int

    @property
    def precision_at_auto(self) -> float:
        auto = self.confirmed_auto + self.rejected_auto
        return self.confirmed_auto / auto if auto else 1.0

    @property
    def recall_at_review(self) -> float:
        return self.confirmed_found / self.confirmed if self.confirmed else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "confirmed": self.confirmed,
            "rejected": self.rejected,
            "confirmed_found": self.confirmed_found,
            "confirmed_auto": self.confirmed_auto,
            "rejected_found": self.rejected_found,
            "rejected_auto": self.rejected_auto,
            "precision_at_auto": round(self.precision_at_auto, 4),
            "recall_at_review": round(self.recall_at_review, 4),
        }


@dataclass(frozen=True)
class Calibration:
    """The fitted settings and the figures on the decisions before and after."""

    settings: MatchSettings
    before: Figures
    after: Figures
    used: int  # decisions whose learner and contact are still there
    skipped: int

    def as_json(self) -> dict[str, Any]:
        return {
            "settings": self.settings.as_json(),
            "before": self.before.as_json(),
            "after": self.after.as_json(),
            "decisions_used": self.used,
            "decisions_skipped": self.skipped,
        }


def _figures(
    decisions: Mapping[tuple[str, str], bool],
    statuses: Mapping[tuple[str, str], str],
) -> Figures:
    confirmed = [k for k, same in decisions.items() if same]
    rejected = [k for k, same in decisions.items() if not same]
    return Figures(
        confirmed=len(confirmed),
        rejected=len(rejected),
        confirmed_found=sum(k in statuses for k in confirmed),
        confirmed_auto=sum(statuses.get(k) == "auto" for k in confirmed),
        rejected_found=sum(k in statuses for k in rejected),
        rejected_auto=sum(statuses.get(k) == "auto" for k in rejected),
    )


def _statuses(
    learners: Sequence[Learner],
    contacts: Sequence[MirroredContact],
    survivors: Mapping[str, str],
    settings: MatchSettings,
) -> dict[tuple[str, str], str]:
    pairs = find_duplicates(learners, contacts, survivors=survivors, settings=settings)
    return {(p.ref_internal, p.contact_id): p.status for p in pairs}


def calibrate(
    learners: Sequence[Learner],
    contacts: Sequence[MirroredContact],
    decisions: Mapping[tuple[str, str], bool],
    *,
    survivors: Mapping[str, str] | None = None,
    settings: MatchSettings | None = None,
) -> Calibration:
    """Fit ``settings`` (the ones in use) to ``decisions``: (RefInternal, ContactID) to True
    for a confirmed pair, False for a rejected one."""
    settings = settings or MatchSettings()
    survivors = dict(survivors or {})
    refs = {x.ref_internal for x in learners}
    ids = {c.contact_id for c in contacts if not c.merged_to}
    usable = {k: v for k, v in decisions.items() if k[0] in refs and k[1] in ids}
    confirmed = sum(usable.values())
    rejected = len(usable) - confirmed
    if confirmed < MIN_CONFIRMED or rejected < MIN_REJECTED:
        raise LearnerLedgerError(
            f"Calibration needs at least {MIN_CONFIRMED} confirmed and {MIN_REJECTED} rejected "
            f"pairs whose learner and contact are still there; there are {confirmed} confirmed "
            f"and {rejected} rejected.",
            fix="Decide more pairs with `learnerledger duplicates confirm` and `reject`, then "
            "calibrate again. Until then the defaults, fitted to the data alone, are used.",
        )
    before = _figures(usable, _statuses(learners, contacts, survivors, settings))

    # 1. m from the confirmed pairs, leaning on the data's own fit
    by_id = {c.contact_id: c for c in contacts if not c.merged_to}
    own = {ref: by_id[cid] for ref, cid in survivors.items() if cid in by_id}
    others = [c for c in by_id.values() if c.contact_id not in set(survivors.values())]
    learn = replace(settings, weights=replace(settings.weights, learn=True))
    scoring = score_learners(learners, others, own, learn, also=list(usable))
    refs_of = scoring.learners.refs
    ids_of = [c.contact_id for c in scoring.contacts.contacts]
    keys = [
        (refs_of[i], ids_of[j])
        for i, j in zip(
            scoring.levels.learner.tolist(), scoring.levels.contact.tolist(), strict=True
        )
    ]
    same = np.array([usable.get(k) is True for k in keys])
    model = scoring.model
    m: dict[str, tuple[float, ...]] = {}
    for name in FIELDS:
        level = getattr(scoring.levels, name)[same]
        size = len(model.m[name])
        counts = np.bincount(level, minlength=size)[:size].astype(np.float64)
        counts[0] = 0.0
        prior = model.m[name].copy()
        prior[0] = 0.0
        fitted = (counts + _STRENGTH * prior) / (counts.sum() + _STRENGTH * prior.sum())
        m[name] = tuple(float(x) for x in fitted[1:])
    weights = Weights(m=m, matched_share=model.matched_share, learn=False)
    fitted_settings = replace(settings, weights=weights)

    # 2. thresholds from the decided pairs' scores under the fitted weights
    scored = score_learners(learners, others, own, fitted_settings, also=list(usable))
    probability = sigmoid_bits(scored.bits)
    score_of = {
        (scored.learners.refs[i], scored.contacts.contacts[j].contact_id): float(p)
        for i, j, p in zip(
            scored.levels.learner.tolist(),
            scored.levels.contact.tolist(),
            probability.tolist(),
            strict=True,
        )
    }
    decided = [(score_of.get(k, 0.0), v) for k, v in usable.items()]
    auto = settings.auto
    for cut in _AUTO:
        above = [v for p, v in decided if p >= cut]
        # at most 1% rejected, allowing for chance: the "rule of three" upper bound
        if above and (above.count(False) + 3) / len(above) <= 0.01:
            auto = cut
            break
    review = _REVIEW[-1]
    for cut in _REVIEW:
        if cut <= settings.review and sum(v for p, v in decided if p >= cut) >= 0.97 * confirmed:
            review = cut
            break
    fitted_settings = replace(fitted_settings, auto=max(auto, review), review=review)
    after = _figures(usable, _statuses(learners, contacts, survivors, fitted_settings))
    return Calibration(fitted_settings, before, after, len(usable), len(decisions) - len(usable))

"""What each comparison is worth: a Fellegi–Sunter model fitted to the organisation's own data.

A field's level (``compare.LEVELS``) weighs ``log2(m / u)`` bits: ``m`` is how often a legacy
contact of a learner shows that level against it, ``u`` how often two different people do.

- ``u`` comes from the data, never from labels. For an agreement on a value it is the value's
  frequency among the learners (a shared "Nguyen", a household's e-mail, a common postcode say
  less than a rare one); for the other levels, the share of randomly drawn (learner, contact)
  pairs showing it. Both lean on defaults while there is little data (``Weights.population``).
- ``m`` starts from defaults that need no training data (``Weights.m``) and is fitted to the
  candidate pairs by expectation–maximisation, where each contact is at most one learner's
  (``cluster.exclusive``); so are the share of contacts that are some learner's and, with it,
  the prior. ``learnerledger duplicates calibrate`` may instead fit ``m`` on decisions people
  made.
- Households: two learners of one family share a surname with an address, a landline or an
  e-mail. How often they do, among the organisation's own learners (one record per person),
  caps what those shared details may add when the first names disagree
  (:meth:`Model.household_cap`). A set of learners without families lets them count in full.

Everything here is arithmetic on arrays of levels; nothing is compared twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from . import compare as c
from .compare import FIELDS, Levels
from .records import LearnerTable

__all__ = ["DEFAULT_M", "DEFAULT_U", "Model", "Weights", "sigmoid_bits"]

Floats = npt.NDArray[np.float64]

# P(level | a legacy contact of the learner), per field, for every level after MISSING.
DEFAULT_M: dict[str, tuple[float, ...]] = {
    "first_name": (0.80, 0.06, 0.02, 0.04, 0.04, 0.015, 0.01, 0.015),
    "last_name": (0.85, 0.04, 0.02, 0.02, 0.02, 0.05),
    "email": (0.75, 0.05, 0.03, 0.03, 0.02, 0.02, 0.10),
    "mobile": (0.90, 0.03, 0.07),
    "landline": (0.80, 0.20),
    "street": (0.65, 0.03, 0.06, 0.03, 0.23),
    "area": (0.65, 0.06, 0.06, 0.03, 0.20),
}
# P(level | two different people), the same way; agreements on a value use its frequency.
DEFAULT_U: dict[str, tuple[float, ...]] = {
    "first_name": (0.01, 0.002, 0.004, 0.003, 0.003, 0.01, 0.12, 0.85),
    "last_name": (0.004, 0.002, 0.005, 0.001, 0.1, 0.89),
    "email": (1e-4, 1e-4, 1e-6, 1e-5, 1e-5, 1e-3, 0.9988),
    "mobile": (1e-4, 1e-4, 0.9998),
    "landline": (1e-4, 0.9999),
    "street": (1e-4, 1e-4, 1e-4, 0.01, 0.9897),
    "area": (1e-3, 1e-3, 1e-3, 0.02, 0.977),
}
# Levels weighed by the frequency of the value that agreed, and the value's default frequency
# while there are few learners to count (an identifier's: none beyond its holder).
_BY_VALUE: dict[str, dict[int, float]] = {
    "first_name": {c.F_EXACT: 0.01},
    "last_name": {c.L_EXACT: 0.004},
    "email": {c.E_EXACT: 0.0, c.E_SHARED: 0.0},
    "mobile": {c.M_EXACT: 0.0, c.M_SHARED: 0.0},
    "landline": {c.T_EXACT: 0.0},
    "street": {c.S_EXACT: 0.0},
    "area": {c.A_BOTH: 0.001, c.A_POSTCODE: 0.001, c.A_SUBURB: 0.001},
}
# Levels that are no comparison at all (weight 0, never fitted).
_SILENT: dict[str, set[int]] = {}
_VALUE = {
    "first_name": "first_value",
    "last_name": "last_value",
    "email": "email_value",
    "mobile": "mobile_value",
    "landline": "landline_value",
    "street": "street_value",
    "area": "area_value",
}
_HOUSEHOLD = ("email", "landline", "street", "area")
_WEAK_FIRST = (c.F_DISAGREE, c.F_ALIKE)


@dataclass(frozen=True)
class Weights:
    """The model's assumptions before it sees the data, all of which need no training data.

    ``m`` and ``u``: per field, the probability of each level (after "missing") for a true
    pair and for two different people. ``matched_share``: the share of contacts that are some
    learner's. ``reference`` and ``swapped``: fixed bits for a contact carrying the learner's
    RefInternal and for a Name read surname first. ``household_m``: how often a legacy
    contact shares its learner's address, landline or e-mail; ``household_rate``: how often two
    learners of one surname do, before the learners are counted. ``learn``: fit ``m`` and the
    matched share to the data (off when they were calibrated on decisions). ``strength``:
    how many pairs' worth the defaults weigh against the data; ``population``: how many
    people's worth the default frequencies weigh against the learners counted."""

    m: Mapping[str, tuple[float, ...]] = field(default_factory=lambda: dict(DEFAULT_M))
    u: Mapping[str, tuple[float, ...]] = field(default_factory=lambda: dict(DEFAULT_U))
    matched_share: float = 0.8
    reference: float = 15.0
    swapped: float = -1.0
    household_m: float = 0.6
    household_rate: float = 0.1
    learn: bool = True
    strength: float = 50.0
    population: float = 200.0

    def as_json(self) -> dict[str, Any]:
        return {
            "m": {k: list(v) for k, v in self.m.items()},
            "matched_share": self.matched_share,
            "learn": self.learn,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Weights:
        m = dict(DEFAULT_M)
        for name, values in dict(data.get("m") or {}).items():
            if name in m and len(values) == len(m[name]):
                m[name] = tuple(float(v) for v in values)
        return cls(
            m=m,
            matched_share=float(data.get("matched_share", 0.8)),
            learn=bool(data.get("learn", True)),
        )


def _log2(x: npt.NDArray[Any] | float) -> Any:
    return np.log2(np.maximum(x, 1e-300))


class Model:
    """The weights of every level for one set of learners and contacts."""

    def __init__(
        self,
        learners: LearnerTable,
        vocab_size: int,
        weights: Weights,
        *,
        u: Mapping[str, Floats] | None = None,
    ) -> None:
        self.w = weights
        self.n = len(learners)
        self.m = {f: np.array((0.0, *weights.m[f])) for f in FIELDS}
        self.u = {f: np.array((1.0, *weights.u[f])) for f in FIELDS}
        if u is not None:
            self.u.update({f: np.array(v) for f, v in u.items()})
        self.matched_share = weights.matched_share
        self.counts = _value_counts(learners, vocab_size)
        self.household_rate = _household_rate(learners, weights)

    # -- the weights -------------------------------------------------------------------

    @property
    def people(self) -> float:
        return self.n + self.w.population

    @property
    def prior(self) -> float:
        """Bits: that a given contact is a given learner, before comparing them."""
        return float(_log2(self.matched_share / self.people))

    @property
    def household_cap(self) -> float:
        """Bits that an address, landline or e-mail shared with a learner may add when the
        first names disagree: log2 of how much more often a learner's own legacy contact
        shares one than another learner of the same surname does."""
        return float(_log2(self.w.household_m / self.household_rate))

    def level_weights(self, name: str) -> Floats:
        """Bits per level of a field (by-value levels at their default frequency)."""
        m, u = self.m[name], self.u[name]
        out: Floats = np.where((m > 0) & (u > 0), _log2(m) - _log2(u), 0.0)
        out[0] = 0.0
        for silent in _SILENT.get(name, ()):
            out[silent] = 0.0
        return out

    def weights(self, levels: Levels) -> dict[str, Floats]:
        """Bits per field for every pair."""
        out: dict[str, Floats] = {}
        for name in FIELDS:
            level = getattr(levels, name)
            table = self.level_weights(name)
            weight = table[level]
            for at, default in _BY_VALUE[name].items():
                rows = level == at
                if rows.any():
                    values = getattr(levels, _VALUE[name])[rows]
                    counts = self.counts[name][values]
                    u = (counts + self.w.population * default) / self.people
                    weight[rows] = _log2(self.m[name][at]) - _log2(u)
            out[name] = weight
        return out

    def log_odds(self, levels: Levels) -> tuple[Floats, dict[str, Floats], Floats]:
        """Bits that each pair is one person (the prior included), the bits per field, and the
        household cap's correction (0 or negative)."""
        per_field = self.weights(levels)
        total, household = self.total(levels, per_field)
        return total, per_field, household

    def total(
        self, levels: Levels, per_field: Mapping[str, Floats], without: str = ""
    ) -> tuple[Floats, Floats]:
        """The pairs' bits from their fields' bits, leaving out field ``without``; and the
        household cap's correction."""
        n = len(levels)
        weak = np.isin(levels.first_name, _WEAK_FIRST)
        shared = sum(
            (np.maximum(per_field[f], 0.0) for f in _HOUSEHOLD if f != without),
            start=np.zeros(n),
        )
        cap = self.household_cap
        household = np.where(weak & (shared > cap), cap - shared, 0.0)
        total = (
            self.prior
            + sum((v for f, v in per_field.items() if f != without), start=np.zeros(n))
            + np.where(levels.reference, self.w.reference, 0.0)
            + np.where(levels.swapped, self.w.swapped, 0.0)
            + household
        )
        return total, household

    # -- fitting -------------------------------------------------------------------------

    def fit_u(self, sample: Levels, name_mailbox_share: float) -> None:
        """``u`` of every level from randomly drawn pairs, leaning on the defaults while the
        sample is small. A mailbox that only spells the name agrees only where the names do,
        so random pairs cannot measure it: it takes the share of learners whose own mailbox
        is their name, as a namesake's would be."""
        prior_pairs = 1000.0
        for name in FIELDS:
            level = getattr(sample, name)
            size = len(self.u[name])
            counts = np.bincount(level, minlength=size)[:size].astype(np.float64)
            counts[0] = 0.0
            for silent in _SILENT.get(name, ()):
                counts[silent] = 0.0
            default = self.u[name].copy()
            default[0] = 0.0
            total = counts.sum()
            u = (counts + prior_pairs * default) / (total + prior_pairs * default.sum())
            u[0] = 1.0
            self.u[name] = u
        self.u["email"][c.E_NAME_ONLY] = name_mailbox_share

    def fit_m(
        self, levels: Levels, probability: Mapping[str, Floats], share: Floats, contacts: int
    ) -> float:
        """One maximisation step: ``m`` of every field's levels from the pairs' probabilities
        of being one person judged without that field (``probability[field]``), so that a
        field's own disagreements do not talk themselves out of the matches; the matched share
        from ``share``. Returns the largest change of an ``m``."""
        strength = self.w.strength
        change = 0.0
        for name in FIELDS:
            level = getattr(levels, name)
            size = len(self.m[name])
            mass = np.bincount(level, weights=probability[name], minlength=size)[:size]
            prior = np.array((0.0, *self.w.m[name]))
            mass[0] = prior[0] = 0.0
            for silent in _SILENT.get(name, ()):
                mass[silent] = prior[silent] = 0.0
            m = (mass + strength * prior) / (mass.sum() + strength * prior.sum())
            change = max(change, float(np.abs(m - self.m[name]).max()))
            self.m[name] = m
        matched = (float(share.sum()) + strength * self.w.matched_share) / (contacts + strength)
        self.matched_share = min(max(matched, 1e-3), 0.999)
        return change

    def as_weights(self) -> Weights:
        """These fitted ``m`` and matched share as settings (for calibration)."""
        return Weights(
            m={f: tuple(float(x) for x in self.m[f][1:]) for f in FIELDS},
            matched_share=self.matched_share,
            learn=False,
        )


def _value_counts(learners: LearnerTable, size: int) -> dict[str, npt.NDArray[np.int64]]:
    """How many learners hold each value, per field (each learner once per value)."""

    def count(*columns: npt.NDArray[np.int32]) -> npt.NDArray[np.int64]:
        if not len(learners):
            return np.zeros(size, np.int64)
        values = np.concatenate([col.reshape(len(learners), -1) for col in columns], axis=1)
        rows = [np.unique(r[r != 0]) for r in values] if values.shape[1] > 1 else [values[:, 0]]
        flat = np.concatenate(rows) if rows else np.zeros(0, np.int32)
        flat = flat[flat != 0]
        return np.bincount(flat, minlength=size) if len(flat) else np.zeros(size, np.int64)

    return {
        "first_name": count(learners.first[:, :1]),
        "last_name": count(learners.last),
        "email": count(learners.email),
        "mobile": count(learners.mobile),
        "landline": count(learners.landline),
        "street": count(learners.line),
        "area": count(learners.postcode, learners.suburb),
    }


def _household_rate(learners: LearnerTable, w: Weights) -> float:
    """Of the pairs of learners sharing a surname, the share that also share an address
    line, a landline or an e-mail: one family's members (the learners are one record each)."""
    surnames = Counter(learners.last[learners.last != 0].tolist())
    same_surname = sum(n * (n - 1) // 2 for n in surnames.values())
    shared: Counter[tuple[int, int, int]] = Counter()
    for kind, column in enumerate((learners.line, learners.landline, learners.email)):
        for last, row in zip(learners.last.tolist(), column.tolist(), strict=True):
            if last:
                shared.update((kind, last, v) for v in set(row) if v)
    households = sum(n * (n - 1) // 2 for n in shared.values())
    prior = 10.0
    rate = (households + prior * w.household_rate) / (same_surname + prior)
    return min(max(rate, 1e-9), 1.0)


def sigmoid_bits(bits: Floats) -> Floats:
    """Bits of log-odds as probabilities."""
    result: Floats = 1.0 / (1.0 + np.exp2(-np.clip(bits, -60.0, 60.0)))
    return result

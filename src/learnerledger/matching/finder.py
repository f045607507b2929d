"""The whole comparison of learners with contacts: blocking, levels, the fitted model, and
each contact weighed against its other learners. ``find_duplicates`` turns the result into
pairs with evidence; calibration refits the model on decisions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from learnerledger.domain.learner import Learner
from learnerledger.domain.mirror import MirroredContact

from .candidates import candidate_pairs
from .cluster import Grouping, MatchSettings
from .compare import FIELDS, Comparer, Levels
from .model import Model, sigmoid_bits
from .records import ContactTable, Ids, LearnerTable, Vocabulary, tables

__all__ = ["Scoring", "score_learners"]

Floats = npt.NDArray[np.float64]

_CHUNK = 500_000  # pairs compared at once: bounds the memory of one comparison
_U_SAMPLE = 200_000  # random pairs that measure how often two people compare alike
_EM_PAIRS = 400_000  # candidate pairs the model is fitted on (a sample of contacts)
_EM_ROUNDS = 30
_SEED = 20_240_601  # the samples are drawn the same way every run


@dataclass
class Scoring:
    """Every candidate pair's levels and bits: ``own`` (the pair on its own) and ``bits``
    (weighed against the contact's other learners)."""

    vocab: Vocabulary
    learners: LearnerTable
    contacts: ContactTable
    model: Model
    levels: Levels
    own: Floats
    bits: Floats

    def weights(self, pairs: npt.NDArray[np.intp]) -> tuple[Levels, dict[str, Floats], Floats]:
        """The levels of ``pairs``, their bits per field and their household correction."""
        levels = self.levels.take(pairs)
        per_field = self.model.weights(levels)
        _, household = self.model.total(levels, per_field)
        return levels, per_field, household


def _compare_all(comparer: Comparer, i: Ids, j: Ids) -> Levels:
    parts = [
        comparer.compare(i[start : start + _CHUNK], j[start : start + _CHUNK])
        for start in range(0, max(len(i), 1), _CHUNK)
    ]
    return Levels.concat(parts)


def _u_sample(comparer: Comparer, rng: np.random.Generator) -> Levels:
    n, m = len(comparer.learners), len(comparer.contacts)
    if n * m <= _U_SAMPLE:
        i, j = np.divmod(np.arange(n * m), m)
    else:
        i, j = rng.integers(0, n, _U_SAMPLE), rng.integers(0, m, _U_SAMPLE)
    return _compare_all(comparer, i.astype(np.int32), j.astype(np.int32))


def _em_sample(levels: Levels, contacts: int, rng: np.random.Generator) -> tuple[Levels, int]:
    if len(levels) <= _EM_PAIRS:
        return levels, contacts
    share = _EM_PAIRS / len(levels)
    chosen = rng.random(contacts) < share
    return levels.take(chosen[levels.contact]), int(chosen.sum())


def fit(model: Model, levels: Levels, contacts: int) -> None:
    """Expectation–maximisation of ``m`` and the matched share on candidate pairs, each contact
    at most one learner's; each field's ``m`` from the pairs judged on the other fields."""
    grouping = Grouping(levels.contact)
    for _ in range(_EM_ROUNDS):
        per_field = model.weights(levels)
        total, _ = model.total(levels, per_field)
        share = sigmoid_bits(grouping.exclusive(total))
        without = {
            name: sigmoid_bits(grouping.exclusive(model.total(levels, per_field, name)[0]))
            for name in FIELDS
        }
        if model.fit_m(levels, without, share, contacts) < 1e-4:
            break


def score_learners(
    learners: Sequence[Learner],
    contacts: Sequence[MirroredContact],
    survivors: Mapping[str, MirroredContact],
    settings: MatchSettings,
) -> Scoring:
    """Compare every learner with every contact worth comparing (``candidates``)."""
    vocab, learner_table, contact_table = tables(learners, contacts, survivors)
    comparer = Comparer(vocab, learner_table, contact_table)
    i, j = candidate_pairs(learner_table, contact_table, vocab, max_block=settings.max_block)
    mine = ~comparer.belongs_elsewhere(i, j)
    levels = _compare_all(comparer, i[mine], j[mine])
    model = Model(learner_table, len(vocab), settings.weights)
    rng = np.random.default_rng(_SEED)
    if len(learner_table) and len(contact_table):
        model.fit_u(_u_sample(comparer, rng), comparer.name_mailbox_share())
        if settings.weights.learn:
            sample, count = _em_sample(levels, len(contact_table), rng)
            fit(model, sample, count)
    own = np.concatenate(
        [
            model.total(part, model.weights(part))[0]
            for part in (
                levels.take(slice(start, start + _CHUNK))
                for start in range(0, max(len(levels), 1), _CHUNK)
            )
        ]
    )
    bits = Grouping(levels.contact).exclusive(own)
    return Scoring(vocab, learner_table, contact_table, model, levels, own, bits)

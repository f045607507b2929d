"""The whole comparison of learners with contacts: blocking, levels, the fitted model, and
each contact weighed against its other learners. ``find_duplicates`` turns the result into
pairs with evidence; calibration refits the model on decisions."""

from __future__ import annotations

import gc
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from learnerledger.domain.learner import Learner
from learnerledger.domain.mirror import MirroredContact

from .candidates import candidate_pairs
from .cluster import Grouping, MatchSettings, Pair, Scored, Status, decide
from .compare import FIELDS, Comparer, Levels
from .model import Model, sigmoid_bits
from .records import ContactTable, Ids, LearnerTable, Vocabulary, tables
from .score import Evidence, evidence, probability

__all__ = ["Scoring", "find_duplicates", "score_learners"]

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


def _with(
    learners: LearnerTable,
    contacts: ContactTable,
    i: Ids,
    j: Ids,
    pairs: Sequence[tuple[str, str]],
) -> tuple[Ids, Ids]:
    rows = {ref: n for n, ref in enumerate(learners.refs)}
    columns = {c.contact_id: n for n, c in enumerate(contacts.contacts)}
    known = [(rows[r], columns[c]) for r, c in pairs if r in rows and c in columns]
    if not known:
        return i, j
    width = max(len(contacts), 1)
    extra = np.asarray([a * width + b for a, b in known], np.int64)
    codes = np.unique(np.concatenate([i.astype(np.int64) * width + j, extra]))
    return (codes // width).astype(np.int32), (codes % width).astype(np.int32)


def score_learners(
    learners: Sequence[Learner],
    contacts: Sequence[MirroredContact],
    survivors: Mapping[str, MirroredContact],
    settings: MatchSettings,
    *,
    also: Sequence[tuple[str, str]] = (),
) -> Scoring:
    """Compare every learner with every contact worth comparing (``candidates``), and the
    (RefInternal, ContactID) pairs ``also`` whether they block together or not."""
    # in a fixed order, so that the samples drawn are the same whatever order the data came in
    learners = sorted(learners, key=lambda x: x.ref_internal)
    contacts = sorted(contacts, key=lambda c: c.contact_id)
    vocab, learner_table, contact_table = tables(learners, contacts, survivors)
    comparer = Comparer(vocab, learner_table, contact_table)
    i, j = candidate_pairs(learner_table, contact_table, vocab, max_block=settings.max_block)
    if also:
        i, j = _with(learner_table, contact_table, i, j, also)
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
    # A contact that is probably one of several learners, about equally (a common name with
    # nothing else), is listed for each of them: a person decides which, if any.
    best = np.full(len(contacts), -np.inf)
    np.maximum.at(best, levels.contact, own_bits)
    someone = np.bincount(levels.contact, weights=sigmoid_bits(bits), minlength=len(contacts))
    contender = (someone[levels.contact] >= settings.review) & (
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

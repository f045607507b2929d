"""How alike a learner and a contact are: per-field comparisons, each with its weight, summed.

The weights are Fellegi–Sunter log-likelihood ratios in bits (log2 of how much more often a
comparison outcome is seen in true pairs than in chance pairs). Names use their frequency among
the learners (a shared "Nguyen" says less than a shared "Wymarra"); the rest are fixed defaults
that need no training data. The sum plus the prior log-odds gives the probability.

Households are the hard negatives: siblings share a surname, an address, a landline and often
an e-mail. When the first names disagree (not explained by a nickname, an initial or a typo),
what a household shares is capped at ``household_cap`` so that it can never outweigh the
disagreement; only what one person alone holds (a mobile, a personal e-mail used by no other
learner, the learner's RefInternal) still counts in full.

Every comparison is an array operation over all candidate pairs at once (:func:`compare`):
each field's outcome is a small integer *level*, its weight looked up per level. Only the pairs
that are kept get their :class:`Evidence` written out in words (:func:`evidence`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .normalize import normalize_email, parse_name
from .records import ADDRESSES, ContactTable, Ids, LearnerTable, Vocabulary
from .similarity import Similar, similar

__all__ = [
    "Comparisons",
    "Evidence",
    "Frequencies",
    "Weights",
    "compare",
    "evidence",
    "probability",
]

Floats = npt.NDArray[np.float64]
Flags = npt.NDArray[np.bool_]
Levels = npt.NDArray[np.int8]


@dataclass(frozen=True, slots=True)
class Evidence:
    """One comparison, as a finance officer reads it: ``field`` (first_name, last_name, email,
    mobile, landline, address, reference, cluster), ``comparison`` (exact, nickname, initial,
    fuzzy, partial, shared, disagree, missing, downgraded), ``strength`` (similarity 0..1),
    ``weight`` (bits added to the score; negative counts against) and a plain ``detail``."""

    field: str
    comparison: str
    strength: float
    weight: float
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "comparison": self.comparison,
            "strength": round(self.strength, 3),
            "weight": round(self.weight, 2),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Weights:
    """Log-likelihood weights in bits. Names agreeing exactly take log2(m / u) with u their
    frequency among the learners, clipped to ``[name_min, name_max]``."""

    prior: float = -6.0
    name_m: float = 0.92
    name_min: float = 3.0
    name_max: float = 9.0
    first_default_u: float = 0.01
    last_default_u: float = 0.004
    first_nickname: float = 5.0
    first_prefix: float = 4.0
    first_fuzzy: float = 3.5
    first_fuzzy_short: float = 1.0
    first_initial: float = 1.5
    first_disagree: float = -8.0
    last_fuzzy: float = 4.0
    last_partial: float = 3.0
    last_disagree: float = -3.0
    swapped: float = -1.0
    email_exact: float = 9.0
    email_shared: float = 2.0
    email_local: float = 5.0
    email_name_only: float = 1.0
    email_disagree: float = -4.0
    mobile_exact: float = 8.0
    mobile_shared: float = 2.0
    mobile_disagree: float = -6.0
    landline_exact: float = 2.5
    address_exact: float = 3.0
    address_area: float = 1.0
    address_disagree: float = -1.5
    reference: float = 15.0
    household_cap: float = 3.0


def probability(log_odds: float) -> float:
    """Bits of evidence (prior included) as a probability in [0, 1]."""
    if log_odds > 60:
        return 1.0
    if log_odds < -60:
        return 0.0
    return 1.0 / (1.0 + math.pow(2.0, -log_odds))


# The levels of each comparison. Missing values compare as nothing (weight 0).
MISSING, EXACT, DISAGREE = 0, 1, 2
# first names
F_NO_LEARNER, F_INITIAL, F_INITIAL_DIFFERS, F_NICKNAME, F_PREFIX, F_FUZZY, F_FUZZY_SHORT = (
    3,
    4,
    5,
    6,
    7,
    8,
    9,
)
# surnames
L_FUZZY, L_PARTIAL = 3, 4
# e-mails: the same mailbox written otherwise (Gmail's dots), the name alone as that mailbox,
# a household's address, the same mailbox name at another provider
E_DOTS, E_DOTS_NAME_ONLY, E_SHARED, E_LOCAL = 3, 4, 5, 6
# mobiles, addresses
M_SHARED = 3
A_AREA, A_NO_POSTCODE = 3, 4


class Frequencies:
    """How common each value is among the learners: names for their weights, e-mails and
    mobiles to tell a household's shared ones from a person's own."""

    def __init__(self, learners: LearnerTable, vocab: Vocabulary) -> None:
        size = len(vocab)
        self.n = len(learners)
        self.first = np.bincount(learners.first[:, 0], minlength=size) if self.n else np.zeros(1)
        self.last = np.bincount(learners.last, minlength=size) if self.n else np.zeros(1)
        self.email = _counts(learners.email, size)
        self.mobile = _counts(learners.mobile, size)

    def name_weight(
        self, counts: npt.NDArray[Any], ids: Ids, default_u: float, w: Weights
    ) -> Floats:
        pseudo = 200.0  # values seen few times lean on the default rate
        u = (counts[ids] + pseudo * default_u) / (self.n + pseudo)
        result: Floats = np.clip(np.log2(w.name_m / u), w.name_min, w.name_max)
        return result


def _counts(ids: Ids, size: int) -> npt.NDArray[np.int64]:
    values = ids[ids != 0]
    return np.bincount(values, minlength=size) if len(values) else np.zeros(size, np.int64)


@dataclass
class Comparisons:
    """The comparisons of candidate pairs (learner ``learner[k]``, contact ``contact[k]``):
    levels, strengths and weights per field, the total ``log_odds`` (prior included)."""

    learner: Ids
    contact: Ids
    log_odds: Floats
    reading: npt.NDArray[np.int16]  # the contact's reading of its Name that fits best; -1 none
    first: Levels
    first_strength: Floats
    first_weight: Floats
    last: Levels
    last_strength: Floats
    last_weight: Floats
    email: Levels
    mobile: Levels
    landline: Levels
    address: Levels
    address_index: npt.NDArray[np.int8]  # which of the contact's addresses agreed
    reference: Flags
    household: Floats  # the cap's correction (0 or negative)
    couple: Flags
    only_name: Flags

    def __len__(self) -> int:
        return len(self.learner)

    def take(self, keep: npt.NDArray[Any]) -> Comparisons:
        return Comparisons(**{k: v[keep] for k, v in vars(self).items()})

    @staticmethod
    def concat(parts: list[Comparisons]) -> Comparisons:
        names = list(vars(parts[0]))
        return Comparisons(**{k: np.concatenate([vars(p)[k] for p in parts]) for k in names})


class _Context:
    """What every chunk of pairs is compared with: the tables, frequencies and weights."""

    def __init__(
        self,
        vocab: Vocabulary,
        learners: LearnerTable,
        contacts: ContactTable,
        freq: Frequencies,
        w: Weights,
        workers: int,
    ) -> None:
        self.vocab, self.learners, self.contacts = vocab, learners, contacts
        self.freq, self.w, self.workers = freq, w, workers
        self.lengths = vocab.lengths()
        self.initials = vocab.initials()
        masks = vocab.group_masks()
        self.masks = masks
        forms = masks[learners.first]  # [n, forms, words]
        self.learner_groups = np.bitwise_or.reduce(forms, axis=1) if len(learners) else masks[:0]
        self.family_local = np.fromiter(
            ("family" in s for s in vocab.strings), np.bool_, len(vocab)
        )
        refs = set(learners.ref.tolist())
        owner = np.zeros(len(contacts), np.int32)
        for col in range(contacts.refs.shape[1] - 1, -1, -1):
            ref = contacts.refs[:, col]
            known = np.isin(ref, list(refs)) & (ref != 0)
            owner[known] = ref[known]
        self.owner = owner  # the learner reference a contact carries, if it carries one

    def similar(self, a: Ids, b: Ids) -> Similar:
        return similar(self.vocab, self.lengths, a, b, workers=self.workers)


def _names(ctx: _Context, i: Ids, j: Ids) -> dict[str, npt.NDArray[Any]]:
    """The best reading of each contact's Name against its learner: levels and weights."""
    L, C, w, freq = ctx.learners, ctx.contacts, ctx.w, ctx.freq
    given0, family = C.given0[j], C.family[j]
    pair, reading = np.nonzero((given0 != 0) | (family != 0))
    li = i[pair]
    g0 = given0[pair, reading]
    gj = C.given[j][pair, reading]
    fam = family[pair, reading]
    forms = L.first[li]
    last = L.last[li]
    rows = len(pair)

    # first names: every (given, form) pair that needs more than equality, compared at once
    nforms = forms.shape[1]
    a = np.concatenate([np.repeat(g0, nforms), np.repeat(gj, nforms), fam])
    b = np.concatenate([forms.ravel(), forms.ravel(), last])
    sim = ctx.similar(a, b)
    cut = rows * nforms
    close_g0 = sim.close[:cut].reshape(rows, nforms)
    close_gj = sim.close[cut : 2 * cut].reshape(rows, nforms)
    prefix = sim.prefix[:cut].reshape(rows, nforms) & (forms != 0)
    last_close, last_suffix = sim.close[2 * cut :], sim.suffix[2 * cut :]

    has_forms = forms[:, 0] != 0
    exact = ((forms == g0[:, None]) | (forms == gj[:, None])).any(axis=1) & (g0 != 0)
    g0_len = ctx.lengths[g0]
    initial = g0_len == 1
    initial_agrees = (ctx.initials[forms] == ctx.initials[g0][:, None]).any(axis=1)
    nickname = (ctx.masks[g0] & ctx.learner_groups[li]).any(axis=1)
    short_form = (g0_len >= 3) & prefix.any(axis=1)
    best = np.maximum(close_g0.max(axis=1), close_gj.max(axis=1))

    first = np.full(rows, DISAGREE, np.int8)
    weight = np.full(rows, w.first_disagree)
    first[best >= 0.85] = F_FUZZY_SHORT
    weight[best >= 0.85] = w.first_fuzzy_short
    first[best >= 0.92] = F_FUZZY
    weight[best >= 0.92] = w.first_fuzzy
    first[short_form] = F_PREFIX
    weight[short_form] = w.first_prefix
    first[nickname] = F_NICKNAME
    weight[nickname] = w.first_nickname
    first[initial] = np.where(initial_agrees[initial], F_INITIAL, F_INITIAL_DIFFERS)
    weight[initial] = np.where(initial_agrees[initial], w.first_initial, w.first_disagree)
    first[exact] = EXACT
    weight[exact] = freq.name_weight(freq.first, forms[exact, 0], w.first_default_u, w)
    strength = best.copy()
    strength[exact] = 1.0
    strength[initial] = np.where(initial_agrees[initial], 0.5, 0.0)
    strength[nickname & ~exact & ~initial] = 0.9
    strength[short_form & ~nickname & ~exact & ~initial] = 0.8
    first[~has_forms] = F_NO_LEARNER
    first[g0 == 0] = MISSING
    weight[(g0 == 0) | ~has_forms] = 0.0
    strength[(g0 == 0) | ~has_forms] = 0.0

    # surnames
    last_level = np.full(rows, DISAGREE, np.int8)
    last_weight = np.full(rows, w.last_disagree)
    shortest = np.minimum(ctx.lengths[fam], ctx.lengths[last])
    partial = (shortest >= 3) & last_suffix
    last_level[partial] = L_PARTIAL
    last_weight[partial] = w.last_partial
    fuzzy = last_close >= 0.92
    last_level[fuzzy] = L_FUZZY
    last_weight[fuzzy] = w.last_fuzzy
    same = fam == last
    last_level[same] = EXACT
    last_weight[same] = freq.name_weight(freq.last, last[same], w.last_default_u, w)
    last_strength = last_close.copy()
    last_strength[partial & ~fuzzy] = 0.7
    nothing = (fam == 0) | (last == 0)
    last_level[nothing] = MISSING
    last_weight[nothing] = 0.0
    last_strength[nothing] = 0.0
    last_strength[same & ~nothing] = 1.0

    swapped = C.swapped[j][pair, reading]
    total = weight + last_weight + np.where(swapped, w.swapped, 0.0)
    firsts = _first_best(pair, total)
    n = len(i)
    out: dict[str, npt.NDArray[Any]] = {
        "reading": np.full(n, -1, np.int16),
        "first": np.zeros(n, np.int8),
        "first_strength": np.zeros(n),
        "first_weight": np.zeros(n),
        "last": np.zeros(n, np.int8),
        "last_strength": np.zeros(n),
        "last_weight": np.zeros(n),
        "swapped": np.zeros(n, np.bool_),
        "couple": np.zeros(n, np.bool_),
    }
    at = pair[firsts]
    out["reading"][at] = reading[firsts]
    out["first"][at] = first[firsts]
    out["first_strength"][at] = strength[firsts]
    out["first_weight"][at] = weight[firsts]
    out["last"][at] = last_level[firsts]
    out["last_strength"][at] = last_strength[firsts]
    out["last_weight"][at] = last_weight[firsts]
    out["swapped"][at] = swapped[firsts]
    out["couple"][at] = C.couple[j][pair[firsts], reading[firsts]]
    return out


def _first_best(group: npt.NDArray[Any], value: Floats) -> npt.NDArray[np.intp]:
    """Per run of equal ``group`` values (sorted), the index of its highest ``value``, the
    first of equals."""
    if not len(group):
        return np.zeros(0, np.intp)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    top = np.repeat(np.maximum.reduceat(value, starts), np.diff(np.r_[starts, len(group)]))
    best = np.flatnonzero(value == top)
    return best[np.r_[True, group[best][1:] != group[best][:-1]]]


def _any_equal(left: Ids, right: Ids) -> Flags:
    """Per row: does a non-empty value of ``left`` ([k, a]) appear in ``right`` ([k, b])?"""
    result: Flags = ((left[:, :, None] == right[:, None, :]) & (left[:, :, None] != 0)).any(
        axis=(1, 2)
    )
    return result


def _name_only(ctx: _Context, learner: int, local: str) -> bool:
    """The mailbox is only the learner's name ("felicityjones"), which a namesake has too."""
    letters = "".join(c for c in local if c.isalpha())
    if len(letters) != len(local.replace(".", "").replace("_", "").replace("-", "")):
        return False
    strings = ctx.vocab.strings
    last = strings[ctx.learners.last[learner]]
    forms = set()
    for f in (strings[x] for x in ctx.learners.first[learner] if x):
        forms |= {f + last, last + f, f[:1] + last}
    return letters in forms


def _emails(ctx: _Context, i: Ids, j: Ids) -> tuple[Levels, Floats]:
    L, C, w = ctx.learners, ctx.contacts, ctx.w
    ce, le = C.email[j], L.email[i]
    has = (ce != 0) & (le[:, 0] != 0)
    same = (le == ce[:, None]).any(axis=1) & has
    raw_known = (L.email_raw[i] == C.email_raw[j][:, None]).any(axis=1)
    level = np.where(has, DISAGREE, MISSING).astype(np.int8)
    local = C.email_local[j]
    other = (
        has
        & ~same
        & (ctx.lengths[local] >= 5)
        & ~C.email_role[j]
        & (L.email_local[i] == local[:, None]).any(axis=1)
    )
    level[other] = E_LOCAL
    exact = same & raw_known
    shared = exact & ((ctx.freq.email[ce] > 1) | ctx.family_local[local])
    level[exact] = EXACT
    level[shared] = E_SHARED
    dots = np.flatnonzero(same & ~raw_known)
    strings = ctx.vocab.strings
    for k in dots.tolist():
        weak = _name_only(ctx, int(i[k]), strings[local[k]])
        level[k] = E_DOTS_NAME_ONLY if weak else E_DOTS
    table = np.zeros(7)
    table[[DISAGREE, EXACT, E_DOTS, E_DOTS_NAME_ONLY, E_SHARED, E_LOCAL]] = [
        w.email_disagree,
        w.email_exact,
        w.email_local,
        w.email_name_only,
        w.email_shared,
        w.email_local,
    ]
    return level, table[level]


def _phones(ctx: _Context, i: Ids, j: Ids) -> tuple[Levels, Floats, Levels, Floats]:
    L, C, w = ctx.learners, ctx.contacts, ctx.w
    cm, lm = C.mobile[j], L.mobile[i]
    has = (cm[:, 0] != 0) & (lm[:, 0] != 0)
    same = cm[:, :, None] == lm[:, None, :]
    matched = (same & (cm[:, :, None] != 0)).any(axis=2)  # [k, phones]: this contact mobile
    own = (matched & (ctx.freq.mobile[cm] <= 1)).any(axis=1)
    mobile = np.where(has, DISAGREE, MISSING).astype(np.int8)
    mobile[matched.any(axis=1)] = M_SHARED
    mobile[own] = EXACT
    table = np.zeros(4)
    table[[DISAGREE, EXACT, M_SHARED]] = [w.mobile_disagree, w.mobile_exact, w.mobile_shared]
    cl, ll = C.landline[j], L.landline[i]
    has_line = (cl[:, 0] != 0) & (ll[:, 0] != 0)
    landline = np.where(has_line, DISAGREE, MISSING).astype(np.int8)
    landline[_any_equal(cl, ll)] = EXACT
    line_weight = np.where(landline == EXACT, w.landline_exact, 0.0)
    return mobile, table[mobile], landline, line_weight


def _addresses(ctx: _Context, i: Ids, j: Ids) -> tuple[Levels, Floats, npt.NDArray[np.int8]]:
    L, C, w = ctx.learners, ctx.contacts, ctx.w
    c_line, c_sub, c_pc = C.line[j], C.suburb[j], C.postcode[j]
    l_line, l_sub, l_pc = L.line[i], L.suburb[i], L.postcode[i]
    c_any = (c_line != 0) | (c_sub != 0) | (c_pc != 0)
    l_any = (l_line != 0) | (l_sub != 0) | (l_pc != 0)
    area = ((c_pc[:, :, None] == l_pc[:, None, :]) & (c_pc[:, :, None] != 0)) | (
        (c_sub[:, :, None] == l_sub[:, None, :]) & (c_sub[:, :, None] != 0)
    )
    area &= c_any[:, :, None] & l_any[:, None, :]
    lines_a = np.broadcast_to(c_line[:, :, None], area.shape)
    lines_b = np.broadcast_to(l_line[:, None, :], area.shape)
    compare_at = np.flatnonzero(area & (lines_a != 0) & (lines_a != lines_b) & (lines_b != 0))
    line_ok = (lines_a == lines_b) & (lines_a != 0)
    if len(compare_at):
        close = ctx.similar(lines_a.ravel()[compare_at], lines_b.ravel()[compare_at]).close
        flat = line_ok.ravel().copy()
        flat[compare_at] = close >= 0.95
        line_ok = flat.reshape(area.shape)
    width = area.shape[2]
    exact = (area & line_ok).reshape(len(i), area.shape[1] * width)
    near = area.reshape(len(i), area.shape[1] * width)
    level = np.where(c_any.any(axis=1) & l_any.any(axis=1), DISAGREE, MISSING).astype(np.int8)
    index = np.zeros(len(i), np.int8)
    has_near = near.any(axis=1)
    level[has_near] = A_AREA
    index[has_near] = (near[has_near].argmax(axis=1) // width).astype(np.int8)
    has_exact = exact.any(axis=1)
    level[has_exact] = EXACT
    index[has_exact] = (exact[has_exact].argmax(axis=1) // width).astype(np.int8)
    no_postcode = (level == DISAGREE) & ~(c_pc != 0).any(axis=1)
    level[no_postcode] = A_NO_POSTCODE
    table = np.zeros(5)
    table[[DISAGREE, EXACT, A_AREA]] = [w.address_disagree, w.address_exact, w.address_area]
    return level, table[level], index


def _compare_chunk(ctx: _Context, i: Ids, j: Ids) -> Comparisons:
    w = ctx.w
    names = _names(ctx, i, j)
    email, email_w = _emails(ctx, i, j)
    mobile, mobile_w, landline, landline_w = _phones(ctx, i, j)
    address, address_w, address_index = _addresses(ctx, i, j)
    reference = (ctx.contacts.refs[j] == ctx.learners.ref[i][:, None]).any(axis=1)
    reference &= ctx.learners.ref[i] != 0
    ref_w = np.where(reference, w.reference, 0.0)
    first, first_w = names["first"], names["first_weight"]
    weak_first = ((first == DISAGREE) | (first == F_INITIAL_DIFFERS)) | (
        (first_w <= w.first_fuzzy_short) & (first != MISSING) & (first != F_NO_LEARNER)
    )
    weak_first &= first != F_INITIAL
    shared = (
        np.maximum(names["last_weight"], 0.0)
        + np.maximum(email_w, 0.0)
        + np.maximum(landline_w, 0.0)
        + np.maximum(address_w, 0.0)
        - np.where(email == EXACT, w.email_exact, 0.0)
    )
    household = np.where(weak_first & (shared > w.household_cap), w.household_cap - shared, 0.0)
    others = np.stack([email_w, mobile_w, landline_w, address_w, ref_w])
    only_name = np.asarray(~(others > 0).any(axis=0), np.bool_)
    log_odds = (
        w.prior
        + ref_w
        + first_w
        + names["last_weight"]
        + np.where(names["swapped"], w.swapped, 0.0)
        + email_w
        + mobile_w
        + landline_w
        + address_w
        + household
    )
    return Comparisons(
        learner=i,
        contact=j,
        log_odds=log_odds,
        reading=names["reading"],
        first=first,
        first_strength=names["first_strength"],
        first_weight=first_w,
        last=names["last"],
        last_strength=names["last_strength"],
        last_weight=names["last_weight"],
        email=email,
        mobile=mobile,
        landline=landline,
        address=address,
        address_index=address_index,
        reference=reference,
        household=household,
        couple=names["couple"],
        only_name=only_name,
    )


def compare(
    vocab: Vocabulary,
    learners: LearnerTable,
    contacts: ContactTable,
    i: Ids,
    j: Ids,
    w: Weights,
    *,
    floor: float,
    chunk: int = 250_000,
    workers: int = 1,
) -> tuple[Comparisons, Frequencies]:
    """Compare learner ``i[k]`` with contact ``j[k]`` for every k, in chunks; keep the pairs
    whose log-odds reach ``floor`` (bits). A contact carrying another learner's RefInternal is
    that learner's and is not compared with the others."""
    freq = Frequencies(learners, vocab)
    ctx = _Context(vocab, learners, contacts, freq, w, workers)
    parts = []
    for start in range(0, len(i), chunk):
        ci, cj = i[start : start + chunk], j[start : start + chunk]
        owner = ctx.owner[cj]
        mine = (owner == 0) | (owner == learners.ref[ci])
        ci, cj = ci[mine], cj[mine]
        part = _compare_chunk(ctx, ci, cj)
        parts.append(part.take(part.log_odds >= floor))
    if not parts:
        empty = np.zeros(0, np.int32)
        parts.append(_compare_chunk(ctx, empty, empty))
    return Comparisons.concat(parts), freq


# ------------------------------------------------------------------------------ evidence


def evidence(
    vocab: Vocabulary,
    learners: LearnerTable,
    contacts: ContactTable,
    freq: Frequencies,
    w: Weights,
    comps: Comparisons,
    k: int,
) -> tuple[list[Evidence], list[str]]:
    """The evidence of pair ``k`` in words, and the reasons it may not be acted on without a
    person (a contact naming two people, a pair only the name supports)."""
    s = vocab.strings
    i, j = int(comps.learner[k]), int(comps.contact[k])
    contact = contacts.contacts[j]
    out: list[Evidence] = []
    reasons: list[str] = []
    if comps.reference[k]:
        out.append(
            Evidence(
                "reference", "exact", 1.0, w.reference, f"the contact carries {learners.refs[i]}"
            )
        )
    r = int(comps.reading[k])
    if r < 0:
        out.append(Evidence("name", "missing", 0.0, 0.0, "the contact has no name"))
    else:
        data = contact.data
        reading = parse_name(
            str(data.get("Name") or contact.name or ""),
            str(data.get("FirstName") or ""),
            str(data.get("LastName") or ""),
        )[r]
        out.append(_first_evidence(s, learners, comps, k, reading.given, i))
        out.append(_last_evidence(reading.family, comps, k))
        if reading.swapped:
            out.append(
                Evidence("name", "swapped", 0.5, w.swapped, "first and last name read swapped")
            )
        if comps.couple[k]:
            reasons.append("the contact names two people")
    out.append(_email_evidence(contact.data, freq, w, comps, k, contacts, j))
    out.append(_mobile_evidence(s, learners, contacts, freq, w, comps, k, i, j))
    out.append(_landline_evidence(w, comps, k))
    out.append(_address_evidence(s, contacts, w, comps, k, j))
    if comps.only_name[k]:
        reasons.append("only the name agrees: nothing else confirms it")
    if comps.household[k] < 0:
        out.append(
            Evidence(
                "household",
                "capped",
                0.0,
                float(comps.household[k]),
                "the first names differ: what a household shares counts at most "
                f"{w.household_cap:g}",
            )
        )
    return out, reasons


def _first_evidence(
    s: list[str], learners: LearnerTable, comps: Comparisons, k: int, given: tuple[str, ...], i: int
) -> Evidence:
    level, strength, weight = (
        int(comps.first[k]),
        float(comps.first_strength[k]),
        float(comps.first_weight[k]),
    )
    g0 = given[0] if given else ""
    shown = " ".join(given)
    if level == MISSING:
        return Evidence("first_name", "missing", 0.0, 0.0, "the contact has no first name")
    if level == F_NO_LEARNER:
        return Evidence("first_name", "missing", 0.0, 0.0, "the learner has no first name")
    if level == EXACT:
        return Evidence("first_name", "exact", 1.0, weight, f"{shown!r} agrees")
    if level == F_INITIAL:
        return Evidence("first_name", "initial", 0.5, weight, f"the initial {g0.upper()} agrees")
    if level == F_INITIAL_DIFFERS:
        return Evidence("first_name", "disagree", 0.0, weight, f"the initial {g0.upper()} differs")
    if level == F_NICKNAME:
        return Evidence("first_name", "nickname", 0.9, weight, f"{g0!r} is a form of the same name")
    if level == F_PREFIX:
        return Evidence(
            "first_name", "nickname", 0.8, weight, f"{g0!r} is a short form of the name"
        )
    if level == F_FUZZY:
        return Evidence("first_name", "fuzzy", strength, weight, f"{g0!r} is spelt alike")
    if level == F_FUZZY_SHORT:
        return Evidence("first_name", "fuzzy", strength, weight, f"{g0!r} is one letter away")
    first = s[learners.first[i, 0]]
    return Evidence("first_name", "disagree", strength, weight, f"{g0!r} differs from {first!r}")


def _last_evidence(fam: str, comps: Comparisons, k: int) -> Evidence:
    level, strength, weight = (
        int(comps.last[k]),
        float(comps.last_strength[k]),
        float(comps.last_weight[k]),
    )
    if level == MISSING:
        return Evidence("last_name", "missing", 0.0, 0.0, "no surname to compare")
    if level == EXACT:
        return Evidence("last_name", "exact", 1.0, weight, f"{fam!r} agrees")
    if level == L_FUZZY:
        return Evidence("last_name", "fuzzy", strength, weight, f"{fam!r} is spelt alike")
    if level == L_PARTIAL:
        return Evidence("last_name", "partial", 0.7, weight, f"{fam!r} contains the surname")
    return Evidence("last_name", "disagree", strength, weight, f"{fam!r} differs")


def _email_evidence(
    data: Any,
    freq: Frequencies,
    w: Weights,
    comps: Comparisons,
    k: int,
    contacts: ContactTable,
    j: int,
) -> Evidence:
    level = int(comps.email[k])
    e = normalize_email(str(data.get("EmailAddress") or ""))
    if level == MISSING:
        return Evidence("email", "missing", 0.0, 0.0, "no e-mail on one side")
    if level in (E_DOTS, E_DOTS_NAME_ONLY):
        weak = level == E_DOTS_NAME_ONLY
        return Evidence(
            "email",
            "partial",
            0.3 if weak else 0.8,
            w.email_name_only if weak else w.email_local,
            f"{e.raw} and the learner's address reach one mailbox at {e.domain}"
            + (", but the mailbox is only the name" if weak else ""),
        )
    if level == E_SHARED:
        shared = int(freq.email[contacts.email[j]])
        why = f"shared by {shared} learners" if shared > 1 else "a household address"
        return Evidence("email", "shared", 1.0, w.email_shared, f"{e.address} agrees, {why}")
    if level == EXACT:
        return Evidence("email", "exact", 1.0, w.email_exact, f"{e.address} agrees")
    if level == E_LOCAL:
        return Evidence(
            "email",
            "partial",
            0.7,
            w.email_local,
            f"the mailbox {e.local} agrees at another provider",
        )
    return Evidence("email", "disagree", 0.0, w.email_disagree, f"{e.address} differs")


def _mobile_evidence(
    s: list[str],
    learners: LearnerTable,
    contacts: ContactTable,
    freq: Frequencies,
    w: Weights,
    comps: Comparisons,
    k: int,
    i: int,
    j: int,
) -> Evidence:
    level = int(comps.mobile[k])
    if level == MISSING:
        return Evidence("mobile", "missing", 0.0, 0.0, "no mobile on one side")
    if level == DISAGREE:
        return Evidence("mobile", "disagree", 0.0, w.mobile_disagree, "the mobiles differ")
    same = set(contacts.mobile[j].tolist()) & set(learners.mobile[i].tolist()) - {0}
    if level == M_SHARED:
        number = min(s[x] for x in same)
        return Evidence(
            "mobile", "shared", 1.0, w.mobile_shared, f"{number} agrees, shared by learners"
        )
    number = min(s[x] for x in same if freq.mobile[x] <= 1)
    return Evidence("mobile", "exact", 1.0, w.mobile_exact, f"{number} agrees")


def _landline_evidence(w: Weights, comps: Comparisons, k: int) -> Evidence:
    level = int(comps.landline[k])
    if level == MISSING:
        return Evidence("landline", "missing", 0.0, 0.0, "no landline on one side")
    if level == EXACT:
        return Evidence(
            "landline", "exact", 1.0, w.landline_exact, "the landline agrees (often a household's)"
        )
    return Evidence("landline", "disagree", 0.0, 0.0, "the landlines differ")


def _address_evidence(
    s: list[str], contacts: ContactTable, w: Weights, comps: Comparisons, k: int, j: int
) -> Evidence:
    level = int(comps.address[k])
    a = int(comps.address_index[k])
    assert a < ADDRESSES
    line, suburb, postcode = (
        s[contacts.line[j, a]],
        s[contacts.suburb[j, a]],
        s[contacts.postcode[j, a]],
    )
    if level == MISSING:
        return Evidence("address", "missing", 0.0, 0.0, "no address on one side")
    if level == EXACT:
        return Evidence("address", "exact", 1.0, w.address_exact, f"{line}, {suburb} agrees")
    if level == A_AREA:
        return Evidence(
            "address", "partial", 0.5, w.address_area, f"the same area ({suburb or postcode})"
        )
    if level == A_NO_POSTCODE:
        return Evidence("address", "missing", 0.0, 0.0, "no postcode to compare")
    return Evidence("address", "disagree", 0.0, w.address_disagree, "the addresses differ")

"""Blocking: which (learner, contact) pairs are worth scoring at all.

Each side emits a few keys; a pair is a candidate when the two share a key. The keys are
chosen so that every kind of hand-typed duplicate shares at least one with its learner:

- ``n`` the surname's first three letters and a first initial (typos after the third letter,
  initials, swapped names through their swapped reading, nicknames through their group);
  ``t`` the surname's last four letters and a first initial (typos early in the surname);
- ``f`` the whole first name (or one of its nickname forms) and the surname's initial;
- ``s`` the whole surname; ``h`` its first three letters and ``g`` a first name alone, for a
  Name of one word ("Demetriou", "Charles");
- ``e`` the e-mail, ``l`` its mailbox at any provider (maiden names, another provider),
  ``d`` its domain (a work address typed with a slip);
- ``p`` a phone's last 8 digits; ``r`` a RefInternal in the ContactNumber or the Name;
- ``z`` a postcode or suburb with an initial, ``a`` with the street number, ``b`` with the
  street (a name typed beyond recognition at a known address).

A key shared by more than ``max_block`` pairs (a household's landline in a large
organisation, a common name) is dropped, and the weaker keys (``z``, ``h``, ``d``, ``a``,
``b``) get smaller blocks: the other keys still bring the true pairs together, and the cost
stays near-linear in the number of records. Every key is an integer made from the records'
columns by array operations, and so are the pairs: no Python object per key or pair.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from .normalize import NICKNAMES, fold, name_groups
from .records import ContactTable, Ids, LearnerTable, Vocabulary

__all__ = ["KINDS", "candidate_pairs"]

Keys = npt.NDArray[np.int64]

KINDS = "nftshgeldprzab"
# Keys less telling than a name or an e-mail get smaller blocks (a share of ``max_block``);
# a RefInternal is never too common.
_LIMITS = {"z": 0.1, "h": 0.1, "d": 0.1, "a": 0.25, "b": 0.25}
_SHIFT = 29  # each part of a key below 2**29; the kind above both


def _kind(name: str) -> int:
    return KINDS.index(name) + 1


class _Derived:
    """Strings made from the vocabulary's (a surname's first letters, a phone's last
    digits), numbered on their own."""

    def __init__(self, vocab: Vocabulary) -> None:
        self.strings = vocab.strings
        self.ids: dict[str, int] = {"": 0}

    def of(self, values: npt.NDArray[np.integer], make: Callable[[str], str]) -> Keys:
        unique, inverse = np.unique(values, return_inverse=True)
        setdefault, ids, strings = self.ids.setdefault, self.ids, self.strings
        made = [setdefault(make(strings[u]), len(ids)) if u else 0 for u in unique.tolist()]
        result: Keys = np.asarray(made, np.int64)[inverse].reshape(values.shape)
        return result


class _Postings:
    """(key, record) for every key of every record of one side."""

    def __init__(self) -> None:
        self.keys: list[Keys] = []
        self.records: list[npt.NDArray[np.int64]] = []

    def add(
        self,
        kind: str,
        a: npt.NDArray[np.integer],
        b: npt.NDArray[np.integer] | int,
        records: npt.NDArray[np.integer],
        keep: npt.NDArray[np.bool_] | bool,
    ) -> None:
        a64 = np.asarray(a, np.int64)
        b64 = np.broadcast_to(np.asarray(b, np.int64), a64.shape)
        rec = np.broadcast_to(np.asarray(records, np.int64), a64.shape)
        keep = np.broadcast_to(keep, a64.shape) & (a64 != 0)
        key = (np.int64(_kind(kind)) << (2 * _SHIFT)) | (a64 << _SHIFT) | b64
        self.keys.append(key[keep])
        self.records.append(rec[keep])

    def arrays(self) -> tuple[Keys, npt.NDArray[np.int64]]:
        if not self.keys:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        keys, records = np.concatenate(self.keys), np.concatenate(self.records)
        if not len(keys):
            return keys, records
        order = np.lexsort((records, keys))
        keys, records = keys[order], records[order]
        fresh = np.r_[True, (keys[1:] != keys[:-1]) | (records[1:] != records[:-1])]
        return keys[fresh], records[fresh]


def _expanded_forms(
    table: LearnerTable, vocab: Vocabulary
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Every learner's first-name forms with their nickname forms: (learner, form, initial);
    a nickname form no contact holds gets no form number of its own (0)."""
    strings, ids = vocab.strings, vocab.ids
    expansions: dict[int, list[tuple[int, int]]] = {}
    for first in np.unique(table.first).tolist():
        if not first:
            continue
        forms = {strings[first]}
        for group in name_groups(strings[first]):
            forms.update(fold(name) for name in NICKNAMES[group])
        expansions[first] = [(ids.get(f, 0), ord(f[0])) for f in forms if f]
    learner, form, initial = [], [], []
    for i, row in enumerate(table.first.tolist()):
        seen: set[tuple[int, int]] = set()
        for first in row:
            for item in expansions.get(first, ()):
                if item not in seen:
                    seen.add(item)
                    learner.append(i)
                    form.append(item[0])
                    initial.append(item[1])
    return (
        np.asarray(learner, np.int64),
        np.asarray(form, np.int64),
        np.asarray(initial, np.int64),
    )


def _learner_postings(table: LearnerTable, vocab: Vocabulary, derived: _Derived) -> _Postings:
    out = _Postings()
    n = len(table)
    every = np.arange(n)
    initials = vocab.initials().astype(np.int64)
    lengths = vocab.lengths()
    last = table.last.astype(np.int64)
    has_last = last != 0
    head3, tail4 = derived.of(last, lambda x: x[:3]), derived.of(last, lambda x: x[-4:])
    who, form, initial = _expanded_forms(table, vocab)
    named = has_last[who]
    out.add("n", head3[who], initial, who, named)
    out.add("t", tail4[who], initial, who, named)
    out.add("f", form, initials[last][who], who, named)
    out.add("g", form, 0, who, np.ones(len(who), np.bool_))
    out.add("s", last, 0, every, has_last)
    out.add("h", head3, 0, every, has_last)
    _email_postings(out, table.email, table.email_domain, table.email_local, lengths, every)
    out.add("p", derived.of(table.mobile, lambda x: x[-8:]), 0, every[:, None], True)
    out.add("p", derived.of(table.landline, lambda x: x), 0, every[:, None], True)
    _address_postings(out, table.postcode, table.suburb, table.number, table.street, every)
    # a place with an initial: every form's first letter, and the surname's (marked apart)
    for column in range(table.postcode.shape[1]):
        for place in (table.postcode[:, column], table.suburb[:, column]):
            out.add("z", place[who], initial, who, initial != 0)
            out.add("z", place, initials[last] + 256, every, has_last)
    out.add("r", table.ref, 0, every, True)
    return out


def _contact_postings(table: ContactTable, vocab: Vocabulary, derived: _Derived) -> _Postings:
    out = _Postings()
    m = len(table)
    every = np.arange(m)
    initials = vocab.initials().astype(np.int64)
    lengths = vocab.lengths()
    given, family = table.given0.astype(np.int64), table.family.astype(np.int64)
    has_given, has_family = given != 0, family != 0
    both = has_given & has_family
    rows = every[:, None]
    head3, tail4 = derived.of(family, lambda x: x[:3]), derived.of(family, lambda x: x[-4:])
    out.add("n", head3, initials[given], rows, both)
    out.add("t", tail4, initials[given], rows, both)
    out.add("f", given, initials[family], rows, both)
    out.add("s", family, 0, rows, has_family)
    out.add("h", head3, 0, rows, has_family & ~has_given)
    out.add("g", given, 0, rows, has_given & ~has_family)
    person = ~table.email_role
    _email_postings(
        out,
        table.email[:, None],
        table.email_domain[:, None],
        table.email_local[:, None],
        lengths,
        every,
        person[:, None],
    )
    out.add("p", derived.of(table.mobile, lambda x: x[-8:]), 0, rows, True)
    out.add("p", derived.of(table.landline, lambda x: x), 0, rows, True)
    _address_postings(out, table.postcode, table.suburb, table.number, table.street, every)
    # a place with an initial: every reading's first letters, and its surname's
    for column in range(table.postcode.shape[1]):
        for place in (table.postcode[:, column], table.suburb[:, column]):
            for reading in range(given.shape[1]):
                g, f = given[:, reading], family[:, reading]
                out.add("z", place, initials[g], every, g != 0)
                out.add("z", place, initials[f] + 256, every, f != 0)
    out.add("r", table.refs, 0, rows, True)
    return out


def _email_postings(
    out: _Postings,
    email: Ids,
    domain: Ids,
    local: Ids,
    lengths: npt.NDArray[np.int32],
    every: npt.NDArray[np.integer],
    keep: npt.NDArray[np.bool_] | bool = True,
) -> None:
    rows = every[:, None]
    out.add("e", email, 0, rows, keep)
    out.add("d", domain, 0, rows, keep)
    out.add("l", local, 0, rows, np.asarray(keep) & (lengths[local] >= 5))


def _address_postings(
    out: _Postings,
    postcode: Ids,
    suburb: Ids,
    number: Ids,
    street: Ids,
    every: npt.NDArray[np.integer],
) -> None:
    rows = every[:, None]
    numbered = number != 0
    for place in (postcode, suburb):
        out.add("a", place, number, rows, numbered)
        out.add("b", place, street, rows, numbered & (street != 0))


def candidate_pairs(
    learners: LearnerTable,
    contacts: ContactTable,
    vocab: Vocabulary,
    *,
    max_block: int = 2_000,
) -> tuple[Ids, Ids]:
    """Index arrays (learner, contact) of the pairs sharing a blocking key, each pair once,
    in (learner, contact) order."""
    derived = _Derived(vocab)
    lk, lr = _learner_postings(learners, vocab, derived).arrays()
    ck, cr = _contact_postings(contacts, vocab, derived).arrays()
    empty = np.zeros(0, np.int32)
    if not len(lk) or not len(ck):
        return empty, empty
    # learner keys are sorted: each contact key finds its learners by binary search
    lo = np.searchsorted(lk, ck, side="left")
    hi = np.searchsorted(lk, ck, side="right")
    sizes = hi - lo
    found = sizes > 0
    ck, cr, lo, sizes = ck[found], cr[found], lo[found], sizes[found]
    # how many contacts share each key: the block is learners x contacts
    key_start = np.r_[True, ck[1:] != ck[:-1]]
    group = np.cumsum(key_start) - 1
    contact_count = np.bincount(group)[group]
    limit = np.full(len(ck), max_block, np.int64)
    kinds = (ck >> (2 * _SHIFT)).astype(np.int64)
    for name, share in _LIMITS.items():
        limit[kinds == _kind(name)] = max(1, int(max_block * share))
    limit[kinds == _kind("r")] = np.iinfo(np.int64).max
    use = sizes * contact_count <= limit
    cr, lo, sizes = cr[use], lo[use], sizes[use]
    # the pairs of a few thousand contacts at a time: a pair is found once per shared key,
    # and each chunk's repeats are dropped before the next chunk is made
    order = np.argsort(cr, kind="stable")
    cr, lo, sizes = cr[order], lo[order], sizes[order]
    width = max(len(contacts), 1)
    bounds = np.searchsorted(cr, np.arange(0, width + _CONTACTS, _CONTACTS))
    parts = []
    for start, end in itertools.pairwise(bounds.tolist()):
        if start == end:
            continue
        c, b, n = cr[start:end], lo[start:end], sizes[start:end]
        offsets = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
        codes = np.sort(lr[np.repeat(b, n) + offsets] * width + np.repeat(c, n))
        parts.append(codes[np.r_[True, codes[1:] != codes[:-1]]])
    if not parts:
        return empty, empty
    codes = np.sort(np.concatenate(parts))
    return (codes // width).astype(np.int32), (codes % width).astype(np.int32)


_CONTACTS = 10_000  # contacts whose pairs are made at once

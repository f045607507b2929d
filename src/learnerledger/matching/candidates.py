"""Blocking: which (learner, contact) pairs are worth scoring at all.

Each side emits a few keys; a pair is a candidate when the two share a key. The keys are
chosen so that every kind of hand-typed duplicate shares at least one with its learner:

- ``n:`` the surname's first three letters and a first initial (typos after the third letter,
  initials, swapped names through their swapped reading, nicknames through their group);
- ``f:`` the whole first name (or one of its nickname forms) and the surname's initial
  (typos early in the surname);
- ``e:`` the e-mail, ``l:`` its mailbox at any provider (maiden names, another provider),
  ``d:`` its domain (a work address typed with a slip);
- ``p:`` a phone's last 8 digits; ``r:`` a RefInternal in the ContactNumber or the Name.

A key shared by more than ``max_block`` pairs (a household's landline in a large
organisation, a common name) is dropped: the other keys still bring the true pairs together.
The cost is then near-linear in the number of records. The pairs are made with array
operations (a sort of each side's keys and a join), never one Python object per pair.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .normalize import NICKNAMES, name_groups
from .records import ContactTable, Ids, LearnerTable, Vocabulary

__all__ = ["candidate_pairs", "contact_keys", "learner_keys"]


def _forms(first: str) -> set[str]:
    forms = {first}
    for group in name_groups(first):
        forms.update(NICKNAMES[group])
    return forms


def _name_keys(keys: set[str], firsts: Iterable[str], family: str, *, learner: bool) -> None:
    """Keys of one reading of a name: first names (or their nickname forms) and a surname."""
    if family:
        keys.add(f"s:{family}")
        if learner or not firsts:
            keys.add(f"h:{family[:3]}")
    for first in firsts:
        if not family or learner:
            keys.add(f"g:{first}")
        if family:
            keys.add(f"n:{family[:3]}:{first[:1]}")
            keys.add(f"f:{first}:{family[:1]}")
            keys.add(f"t:{family[-4:]}:{first[:1]}")


def _email_keys(keys: set[str], address: str, local: str) -> None:
    keys.add(f"e:{address}")
    keys.add(f"d:{address.rpartition('@')[2]}")
    if len(local) >= 5:
        keys.add(f"l:{local}")


def _address_keys(
    keys: set[str],
    s: list[str],
    lines: Iterable[int],
    postcodes: Iterable[int],
    suburbs: Iterable[int],
    initials: set[str],
) -> None:
    for line, postcode, suburb in zip(lines, postcodes, suburbs, strict=True):
        number, _, street = s[line].rpartition("/")[2].partition(" ")
        for place in {s[postcode], s[suburb]} - {""}:
            keys.update(f"z:{place}:{initial}" for initial in initials)
            if number[:1].isdigit() and street:
                keys.add(f"a:{place}:{number}")
                keys.add(f"b:{place}:{street}")


def learner_keys(table: LearnerTable, vocab: Vocabulary, i: int) -> set[str]:
    s = vocab.strings
    keys: set[str] = set()
    forms: set[str] = set()
    for first in (s[x] for x in table.first[i] if x):
        forms |= _forms(first)
    _name_keys(keys, forms, s[table.last[i]], learner=True)
    for e, local in zip(table.email[i].tolist(), table.email_local[i].tolist(), strict=True):
        if e:
            _email_keys(keys, s[e], s[local])
    keys.update(f"p:{s[m][-8:]}" for m in table.mobile[i].tolist() if m)
    keys.update(f"p:{s[t]}" for t in table.landline[i].tolist() if t)
    last = s[table.last[i]]
    initials = {f"{f[:1]}." for f in forms} | ({f".{last[:1]}"} if last else set())
    _address_keys(
        keys,
        s,
        table.line[i].tolist(),
        table.postcode[i].tolist(),
        table.suburb[i].tolist(),
        initials,
    )
    keys.add(f"r:{s[table.ref[i]]}")
    return keys


def contact_keys(table: ContactTable, vocab: Vocabulary, j: int) -> set[str]:
    s = vocab.strings
    keys: set[str] = set()
    initials: set[str] = set()
    for g0, fam in zip(table.given0[j].tolist(), table.family[j].tolist(), strict=True):
        if g0 or fam:
            _name_keys(keys, [s[g0]] if g0 else [], s[fam], learner=False)
            initials |= {f"{s[g0][:1]}."} if g0 else set()
            initials |= {f".{s[fam][:1]}"} if fam else set()
    if table.email[j] and not table.email_role[j]:
        _email_keys(keys, s[table.email[j]], s[table.email_local[j]])
    keys.update(f"p:{s[m][-8:]}" for m in table.mobile[j].tolist() if m)
    keys.update(f"p:{s[t]}" for t in table.landline[j].tolist() if t)
    _address_keys(
        keys,
        s,
        table.line[j].tolist(),
        table.postcode[j].tolist(),
        table.suburb[j].tolist(),
        initials,
    )
    keys.update(f"r:{s[r]}" for r in table.refs[j].tolist() if r)
    return keys


# Keys less telling than a name or an e-mail get smaller blocks (a share of ``max_block``);
# a RefInternal is never too common.
_LIMITS = {"z": 0.1, "h": 0.1, "d": 0.1, "a": 0.25, "b": 0.25, "r": 2**62}


def _postings(key_sets: Iterable[set[str]], ids: dict[str, int], grow: bool) -> tuple[Ids, Ids]:
    """(key number, record) for every key of every record, keys numbered in ``ids``."""
    keys: list[int] = []
    records: list[int] = []
    for n, key_set in enumerate(key_sets):
        for key in key_set:
            k = ids.get(key)
            if k is None:
                if not grow:
                    continue
                k = ids[key] = len(ids)
            keys.append(k)
            records.append(n)
    return np.asarray(keys, np.int64), np.asarray(records, np.int64)


def candidate_pairs(
    learners: LearnerTable,
    contacts: ContactTable,
    vocab: Vocabulary,
    *,
    max_block: int = 2_000,
) -> tuple[Ids, Ids]:
    """Index arrays (learner, contact) of the pairs sharing a blocking key, each pair once,
    in (learner, contact) order."""
    ids: dict[str, int] = {}
    lk, lr = _postings((learner_keys(learners, vocab, i) for i in range(len(learners))), ids, True)
    ck, cr = _postings((contact_keys(contacts, vocab, j) for j in range(len(contacts))), ids, False)
    nkeys = len(ids)
    if not len(lk) or not len(ck):
        empty = np.zeros(0, np.int32)
        return empty, empty
    limit = np.full(nkeys, max_block, np.int64)
    for key, k in ids.items():
        kind = key[0]
        if kind in _LIMITS:
            limit[k] = _LIMITS[kind] if kind == "r" else max(1, int(max_block * _LIMITS[kind]))
    order = np.argsort(lk, kind="stable")
    lk, lr = lk[order], lr[order]
    l_count = np.bincount(lk, minlength=nkeys)
    l_start = np.r_[0, np.cumsum(l_count)[:-1]]
    c_count = np.bincount(ck, minlength=nkeys)
    keep = l_count * c_count <= limit
    use = keep[ck]
    ck, cr = ck[use], cr[use]
    sizes = l_count[ck]
    total = int(sizes.sum())
    contact = np.repeat(cr, sizes)
    starts = np.repeat(l_start[ck], sizes)
    offsets = np.arange(total) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    learner = lr[starts + offsets]
    codes = np.unique(learner * len(contacts) + contact)
    return (codes // len(contacts)).astype(np.int32), (codes % len(contacts)).astype(np.int32)

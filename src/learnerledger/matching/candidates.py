"""Blocking: which (learner, contact) pairs are worth scoring at all.

Each side emits a few keys; a pair is a candidate when the two share a key. The keys are
chosen so that every kind of hand-typed duplicate shares at least one with its learner:

- ``n:`` the surname's first three letters and a first initial (typos after the third letter,
  initials, swapped names through their swapped reading, nicknames through their group);
- ``f:`` the whole first name (or one of its nickname forms) and the surname's initial
  (typos early in the surname);
- ``e:`` the e-mail, ``l:`` its mailbox at any provider (maiden names, another provider);
- ``p:`` a phone's last 8 digits; ``r:`` a RefInternal in the ContactNumber or the Name.

A key shared by more than ``max_block`` pairs (a household's landline in a large
organisation, a common name) is dropped: the other keys still bring the true pairs together.
The cost is then near-linear in the number of records.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from .normalize import NICKNAMES, name_groups
from .score import ContactView, LearnerView

__all__ = ["candidate_pairs", "contact_keys", "learner_keys"]


def _forms(first: str) -> set[str]:
    forms = {first}
    for group in name_groups(first):
        forms.update(NICKNAMES[group])
    return forms


def learner_keys(v: LearnerView) -> set[str]:
    keys: set[str] = set()
    if v.last:
        forms: set[str] = set()
        for first in v.firsts:
            forms |= _forms(first)
        for form in forms:
            keys.add(f"n:{v.last[:3]}:{form[:1]}")
            keys.add(f"f:{form}:{v.last[:1]}")
    for email in v.emails.values():
        keys.add(f"e:{email.address}")
        if len(email.local) >= 5:
            keys.add(f"l:{email.local}")
    keys.update(f"p:{m[-8:]}" for m in v.mobiles)
    keys.update(f"p:{t}" for t in v.landlines)
    keys.add(f"r:{v.ref.upper()}")
    return keys


def contact_keys(c: ContactView) -> set[str]:
    keys: set[str] = set()
    for r in c.readings:
        if r.family and r.given:
            keys.add(f"n:{r.family[:3]}:{r.first[:1]}")
            keys.add(f"f:{r.first}:{r.family[:1]}")
    if c.email and not c.email.role:
        keys.add(f"e:{c.email.address}")
        if len(c.email.local) >= 5:
            keys.add(f"l:{c.email.local}")
    keys.update(f"p:{m[-8:]}" for m in c.mobiles)
    keys.update(f"p:{t}" for t in c.landlines)
    keys.update(f"r:{ref}" for ref in c.references)
    return keys


def candidate_pairs(
    learners: Sequence[LearnerView], contacts: Sequence[ContactView], *, max_block: int = 2_000
) -> list[tuple[int, int]]:
    """Index pairs (learner, contact) sharing a blocking key, each once, in index order."""
    by_key: dict[str, list[int]] = defaultdict(list)
    for i, v in enumerate(learners):
        for key in learner_keys(v):
            by_key[key].append(i)
    blocks: dict[str, list[int]] = defaultdict(list)
    for j, c in enumerate(contacts):
        if c.company:
            continue
        for key in contact_keys(c):
            if key in by_key:
                blocks[key].append(j)
    pairs: set[tuple[int, int]] = set()
    for key, js in blocks.items():
        is_ = by_key[key]
        if len(is_) * len(js) > max_block and not key.startswith("r:"):
            continue
        pairs.update((i, j) for i in is_ for j in js)
    return sorted(pairs)

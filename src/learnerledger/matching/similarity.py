"""How alike two strings are, for arrays of string pairs: each distinct pair computed once.

The pairs come as two arrays of numbers in one :class:`~.records.Vocabulary`; the distinct
pairs among them are compared in C by rapidfuzz (``process.cpdist``), the answers spread back
to every pair. Equal numbers are equal strings and cost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from rapidfuzz import process
from rapidfuzz.distance import OSA, JaroWinkler, Postfix, Prefix

from .records import Ids, Vocabulary

__all__ = ["Similar", "similar"]

Floats = npt.NDArray[np.float64]
Flags = npt.NDArray[np.bool_]


@dataclass
class Similar:
    """Per pair: ``close`` (0..1, see :func:`similar`), ``prefix`` (one starts with the
    other) and ``suffix`` (one ends with the other)."""

    close: Floats
    prefix: Flags
    suffix: Flags


def similar(vocab: Vocabulary, lengths: Ids, a: Ids, b: Ids, *, workers: int = 1) -> Similar:
    """Similarity of the strings numbered ``a`` and ``b``: Jaro–Winkler, lifted to 0.95 for
    one slip of the finger (an insertion, deletion, substitution or transposition) in words of
    four letters or more and to 0.85 in shorter ones of three."""
    n = len(a)
    close = np.zeros(n, np.float64)
    prefix = np.zeros(n, np.bool_)
    suffix = np.zeros(n, np.bool_)
    same = a == b
    close[same & (a != 0)] = 1.0
    prefix[same] = suffix[same] = True
    todo = np.flatnonzero(~same & (a != 0) & (b != 0))
    if not len(todo):
        return Similar(close, prefix, suffix)
    keys = a[todo].astype(np.int64) * len(vocab) + b[todo]
    unique, inverse = np.unique(keys, return_inverse=True)
    ua, ub = (unique // len(vocab)).astype(np.int64), (unique % len(vocab)).astype(np.int64)
    strings = vocab.strings
    left = [strings[x] for x in ua.tolist()]
    right = [strings[x] for x in ub.tolist()]
    jw = process.cpdist(
        left, right, scorer=JaroWinkler.normalized_similarity, dtype=np.float64, workers=workers
    )
    slips = process.cpdist(
        left, right, scorer=OSA.distance, score_cutoff=1, dtype=np.int32, workers=workers
    )
    heads = process.cpdist(left, right, scorer=Prefix.similarity, dtype=np.int32, workers=workers)
    tails = process.cpdist(left, right, scorer=Postfix.similarity, dtype=np.int32, workers=workers)
    la, lb = lengths[ua], lengths[ub]
    shorter, longer = np.minimum(la, lb), np.maximum(la, lb)
    floor = np.where(shorter >= 4, 0.95, 0.85)
    lifted = np.where((slips <= 1) & (longer >= 3), np.maximum(floor, jw), jw)
    close[todo] = lifted[inverse]
    prefix[todo] = (heads == shorter)[inverse]
    suffix[todo] = (tails == shorter)[inverse]
    return Similar(close, prefix, suffix)

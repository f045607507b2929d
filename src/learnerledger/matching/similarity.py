"""How alike two strings are, for arrays of string pairs: each distinct pair computed once.

The pairs come as two arrays of numbers in one :class:`~.records.Vocabulary`; the distinct
pairs among them are compared in C by rapidfuzz (``process.cpdist``), the answers kept for
the rest of the run and spread back to every pair. Equal numbers are equal strings and cost
nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from rapidfuzz import process
from rapidfuzz.distance import OSA, JaroWinkler, Postfix, Prefix

from .records import Ids, Vocabulary

__all__ = ["Similar", "Similarity"]

Floats = npt.NDArray[np.float32]
Flags = npt.NDArray[np.bool_]
Keys = npt.NDArray[np.int64]

# rapidfuzz compares in C threads; two cores are what the matching is sized for
_WORKERS = max(1, min(2, os.cpu_count() or 1))


@dataclass
class Similar:
    """Per pair: ``close`` (0..1, see :meth:`Similarity.compare`), ``prefix`` (one starts
    with the other) and ``suffix`` (one ends with the other)."""

    close: Floats
    prefix: Flags
    suffix: Flags


class Similarity:
    """String pairs of one vocabulary, compared once each and remembered."""

    def __init__(self, vocab: Vocabulary) -> None:
        self.size = len(vocab)
        self.strings = np.array(vocab.strings, dtype=object)
        self.lengths = vocab.lengths()
        self.keys: Keys = np.zeros(0, np.int64)
        self.close: Floats = np.zeros(0, np.float32)
        self.heads = np.zeros(0, np.int16)  # common prefix length
        self.tails = np.zeros(0, np.int16)  # common suffix length

    def compare(self, a: Ids, b: Ids) -> Similar:
        """Similarity of the strings numbered ``a`` and ``b``: Jaro–Winkler, lifted to 0.95 for
        one slip of the finger (an insertion, deletion, substitution or transposition) in words
        of four letters or more and to 0.85 in shorter ones of three."""
        n = len(a)
        close = np.zeros(n, np.float32)
        prefix = np.zeros(n, np.bool_)
        suffix = np.zeros(n, np.bool_)
        same = a == b
        close[same & (a != 0)] = 1.0
        prefix[same] = suffix[same] = True
        todo = np.flatnonzero(~same & (a != 0) & (b != 0))
        if not len(todo):
            return Similar(close, prefix, suffix)
        ta, tb = a[todo], b[todo]
        keys = np.minimum(ta, tb).astype(np.int64) * self.size + np.maximum(ta, tb)
        unique, inverse = np.unique(keys, return_inverse=True)
        self._learn(unique)
        at = np.searchsorted(self.keys, unique)[inverse]
        close[todo] = self.close[at]
        shorter = np.minimum(self.lengths[ta], self.lengths[tb])
        prefix[todo] = self.heads[at] == shorter
        suffix[todo] = self.tails[at] == shorter
        return Similar(close, prefix, suffix)

    def _learn(self, unique: Keys) -> None:
        """Compare the pairs among ``unique`` (sorted) not compared yet."""
        if len(self.keys):
            pos = np.minimum(np.searchsorted(self.keys, unique), len(self.keys) - 1)
            new = unique[self.keys[pos] != unique]
        else:
            new = unique
        if not len(new):
            return
        ua, ub = new // self.size, new % self.size
        left, right = self.strings[ua], self.strings[ub]
        jw = process.cpdist(
            left,
            right,
            scorer=JaroWinkler.normalized_similarity,
            dtype=np.float64,
            workers=_WORKERS,
        )
        slips = process.cpdist(
            left, right, scorer=OSA.distance, score_cutoff=1, dtype=np.int32, workers=_WORKERS
        )
        heads = process.cpdist(
            left, right, scorer=Prefix.similarity, dtype=np.int16, workers=_WORKERS
        )
        tails = process.cpdist(
            left, right, scorer=Postfix.similarity, dtype=np.int16, workers=_WORKERS
        )
        la, lb = self.lengths[ua], self.lengths[ub]
        shorter, longer = np.minimum(la, lb), np.maximum(la, lb)
        floor = np.where(shorter >= 4, 0.95, 0.85).astype(np.float32)
        lifted = np.where((slips <= 1) & (longer >= 3), np.maximum(floor, jw), jw)
        keys = np.concatenate([self.keys, new])
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order]
        self.close = np.concatenate([self.close, lifted.astype(np.float32)])[order]
        self.heads = np.concatenate([self.heads, heads])[order]
        self.tails = np.concatenate([self.tails, tails])[order]

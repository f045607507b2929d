"""Duplicate detection: which legacy Xero contacts are which learner, how sure, and why.

Pure: it reads learners and mirrored contacts and returns pairs; nothing here touches the
store or the network. ``find_duplicates`` is the one entry point::

    pairs = find_duplicates(learners, contacts, survivors={"DAU0000072": contact_id})
    for p in pairs:
        print(p.ref_internal, p.contact_id, p.score, p.status, p.reasons)

The stages are modules of their own: ``normalize`` (normal forms), ``candidates`` (blocking),
``score`` (comparisons, weights, evidence) and ``cluster`` (thresholds and safeguards).
"""

from __future__ import annotations

from .calibrate import Calibration, calibrate
from .cluster import MatchSettings, Pair
from .finder import find_duplicates
from .model import Weights
from .score import Evidence

__all__ = [
    "Calibration",
    "Evidence",
    "MatchSettings",
    "Pair",
    "Weights",
    "calibrate",
    "find_duplicates",
]

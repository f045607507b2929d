"""The states a learner can be in, in a plan of the learner sync (DESIGN.md §1, job 2)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["PlanState"]


class PlanState(StrEnum):
    """What the sync will do with one learner flagged for Xero.

    ``create`` · ``update`` (only changed fields) · ``unchanged`` · ``adopt`` (an existing
    contact that is unambiguously this learner is given the ContactNumber and the unique Name
    instead of a duplicate being created) · ``review`` (a possible match: a person decides) ·
    ``invalid`` (not ready in the SMS: the reasons say what to fix) · ``conflict`` (something
    in Xero stands in the way: the reasons say what a person should do)."""

    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    ADOPT = "adopt"
    REVIEW = "review"
    INVALID = "invalid"
    CONFLICT = "conflict"

    @property
    def writes(self) -> bool:
        """The state sends something to Xero."""
        return self in (PlanState.CREATE, PlanState.UPDATE, PlanState.ADOPT)

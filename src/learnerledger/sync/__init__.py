"""Jobs that change Xero: each is planned first, journalled, then applied.

``plan`` decides what happens to each learner (pure), ``journal`` derives the keys of the
writes that ``store/journal.py`` keeps before they are sent, ``runner`` sends them in batches
within the rate budget and settles lost answers, as a run of the job frame.
"""

from learnerledger.sync.plan import Plan, PlanItem, make_plan
from learnerledger.sync.runner import SyncReport, sync_learners

__all__ = ["Plan", "PlanItem", "SyncReport", "make_plan", "sync_learners"]

"""Jobs that change Xero: each is planned first, journalled, then applied.

``plan`` decides what happens to each learner, ``journal`` stores the writes before they are
sent, ``runner`` sends them in batches within the rate budget and settles lost answers.
"""

from learnerledger.sync.plan import Plan, PlanItem, make_plan
from learnerledger.sync.runner import SyncProgress, SyncReport, sync_learners

__all__ = ["Plan", "PlanItem", "SyncProgress", "SyncReport", "make_plan", "sync_learners"]

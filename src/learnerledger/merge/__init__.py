"""Duplicates and merges: finding the pairs (through ``learnerledger.matching``), the decisions
people make about them, the merge plan (``plan``: what the API can move, what only Xero's Merge
can, and swaps), its apply (``apply``), the worklist for Xero's Merge (``worklist``), verify
(``verify``) and the money check every apply and verify makes (``money``)."""

from learnerledger.merge.apply import ApplyReport, merge_apply
from learnerledger.merge.duplicates import DuplicatesReport, decide, find_duplicates_job
from learnerledger.merge.money import Difference, MoneyNotConserved, Snapshot, compare
from learnerledger.merge.plan import ClusterPlan, MergePlan, make_merge_plan
from learnerledger.merge.reads import PlanReport, merge_plan, plan_merges
from learnerledger.merge.verify import VerifyReport, merge_verify
from learnerledger.merge.worklist import WorklistItem, worklist_csv, worklist_html

__all__ = [
    "ApplyReport",
    "ClusterPlan",
    "Difference",
    "DuplicatesReport",
    "MergePlan",
    "MoneyNotConserved",
    "PlanReport",
    "Snapshot",
    "VerifyReport",
    "WorklistItem",
    "compare",
    "decide",
    "find_duplicates_job",
    "make_merge_plan",
    "merge_apply",
    "merge_plan",
    "merge_verify",
    "plan_merges",
    "worklist_csv",
    "worklist_html",
]

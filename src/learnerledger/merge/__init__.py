"""Duplicates and merges: finding the pairs (through ``learnerledger.matching``), the decisions
people make about them, and (later) the merge plan, its apply, the worklist and verify."""

from learnerledger.merge.duplicates import DuplicatesReport, decide, find_duplicates_job

__all__ = ["DuplicatesReport", "decide", "find_duplicates_job"]

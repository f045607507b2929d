"""Documents from Xero back to the learners in the SMS, and the reconciliation of both sides.

- ``mapping``: which learner a document belongs to (links, ContactNumber, merges), pure;
- ``shape``: Xero's documents in Wisenet API v1's shape, and what v1 cannot hold, pure;
- ``budget``: Wisenet's day quota as counted in the store;
- ``run``: ``resync documents``, on the job frame (:func:`resync_documents`);
- ``reconcile``: ``report reconcile`` (:func:`reconcile`);
- ``export``: a CSV source's documents as the CSV its SMS imports (:func:`export_csv`).
"""

from learnerledger.resync.export import EXPORT_COLUMNS, export_csv
from learnerledger.resync.mapping import LearnerFinder, LearnerRef, Match, NoMatch
from learnerledger.resync.reconcile import Mismatch, Reconciliation, reconcile
from learnerledger.resync.run import (
    ResyncReport,
    Scope,
    WisenetInvoices,
    WisenetTarget,
    XeroDocuments,
    resync_documents,
    resync_scope,
)

__all__ = [
    "EXPORT_COLUMNS",
    "LearnerFinder",
    "LearnerRef",
    "Match",
    "Mismatch",
    "NoMatch",
    "Reconciliation",
    "ResyncReport",
    "Scope",
    "WisenetInvoices",
    "WisenetTarget",
    "XeroDocuments",
    "export_csv",
    "reconcile",
    "resync_documents",
    "resync_scope",
]

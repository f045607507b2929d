"""Where learners come from: the Wisenet API (``wisenet``) and CSV exports (``csvfile``).

Both turn what the student management system holds into ``domain.Learner`` values and store
them in the learner table, keyed by RefInternal.
"""

from learnerledger.sources.csvfile import ImportResult, Rejection, import_learners, read_learners
from learnerledger.sources.wisenet import (
    PullResult,
    WisenetClient,
    WisenetConnection,
    connect_wisenet,
    load_connection,
    open_client,
    pull_learners,
)

__all__ = [
    "ImportResult",
    "PullResult",
    "Rejection",
    "WisenetClient",
    "WisenetConnection",
    "connect_wisenet",
    "import_learners",
    "load_connection",
    "open_client",
    "pull_learners",
    "read_learners",
]

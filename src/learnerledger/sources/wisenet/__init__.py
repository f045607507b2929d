"""Wisenet (the student management system's API v1): the client, the stored connection, the
mapping of its learner JSON, and the incremental pull of the learners flagged for Xero.

- ``client``: paced and retried GETs with the API key (:class:`WisenetClient`);
- ``connection``: the stored connection (:func:`connect_wisenet`, :func:`load_connection`);
- ``mapping``: Wisenet's JSON as :class:`~learnerledger.domain.learner.Learner` values;
- ``pull``: ``pull learners``, run through the job frame (:func:`pull_learners`).
"""

from learnerledger.sources.wisenet.client import (
    DEFAULT_BASE_URL,
    PAGE_SIZE,
    ApiKeyAuth,
    Page,
    WisenetClient,
    check_base_url,
    open_client,
)
from learnerledger.sources.wisenet.connection import (
    WisenetConnection,
    connect_wisenet,
    load_connection,
)
from learnerledger.sources.wisenet.mapping import Lookups, learner_from_item, resolve_zone
from learnerledger.sources.wisenet.pull import PullResult, pull_learners

__all__ = [
    "DEFAULT_BASE_URL",
    "PAGE_SIZE",
    "ApiKeyAuth",
    "Lookups",
    "Page",
    "PullResult",
    "WisenetClient",
    "WisenetConnection",
    "check_base_url",
    "connect_wisenet",
    "learner_from_item",
    "load_connection",
    "open_client",
    "pull_learners",
    "resolve_zone",
]

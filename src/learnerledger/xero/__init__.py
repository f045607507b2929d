"""The Xero connector: OAuth2 and custom connections, the shared rate budget, paged and
incremental reads, batched writes, the local mirror, and the protocols jobs use to talk to Xero
(:mod:`learnerledger.xero.protocols`).

Start with :func:`open_client` (a :class:`XeroClient` for a connected organisation) and the
pulls :func:`pull_contacts` and :func:`pull_documents`.
"""

from learnerledger.xero.auth import (
    BROAD_SCOPES,
    GRANULAR_SCOPES,
    IdentityClient,
    LoopbackReceiver,
    Tenant,
    XeroAuth,
    authorize_in_browser,
)
from learnerledger.xero.client import (
    BATCH_LIMIT,
    PAGE_SIZE,
    ItemResult,
    Page,
    RecordProblem,
    Retrying,
    RetryPolicy,
    XeroClient,
    open_client,
)
from learnerledger.xero.connect import connect_custom, connect_oauth
from learnerledger.xero.connections import (
    Endpoints,
    TokenSet,
    XeroConnection,
    find_connection,
    list_connections,
)
from learnerledger.xero.mirror import PullReport, pull_contacts, pull_documents
from learnerledger.xero.protocols import (
    ContactReader,
    ContactSyncer,
    ContactWriter,
    DocumentReader,
    PageReader,
    XeroOrganisation,
)
from learnerledger.xero.ratelimit import BudgetSnapshot, Limits, RateBudget, Waiting
from learnerledger.xero.wire import Contact, Document

__all__ = [
    "BATCH_LIMIT",
    "BROAD_SCOPES",
    "GRANULAR_SCOPES",
    "PAGE_SIZE",
    "BudgetSnapshot",
    "Contact",
    "ContactReader",
    "ContactSyncer",
    "ContactWriter",
    "Document",
    "DocumentReader",
    "Endpoints",
    "IdentityClient",
    "ItemResult",
    "Limits",
    "LoopbackReceiver",
    "Page",
    "PageReader",
    "PullReport",
    "RateBudget",
    "RecordProblem",
    "RetryPolicy",
    "Retrying",
    "Tenant",
    "TokenSet",
    "Waiting",
    "XeroAuth",
    "XeroClient",
    "XeroConnection",
    "XeroOrganisation",
    "authorize_in_browser",
    "connect_custom",
    "connect_oauth",
    "find_connection",
    "list_connections",
    "open_client",
    "pull_contacts",
    "pull_documents",
]

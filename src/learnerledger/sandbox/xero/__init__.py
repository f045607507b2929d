"""A local server that behaves like the Xero Accounting API and Xero's identity service.

Run it with ``learnerledger sandbox xero``; see docs/sandbox.md for what it emulates and every
known difference from Xero.
"""

from learnerledger.sandbox.clock import Clock
from learnerledger.sandbox.xero.app import DEFAULT_SCOPES, Sandbox, create_app, prepare_store
from learnerledger.sandbox.xero.ratelimit import Limits
from learnerledger.sandbox.xero.store import DEFAULT_ORGANISATION, DEFAULT_TENANT_ID, SandboxStore

__all__ = [
    "DEFAULT_ORGANISATION",
    "DEFAULT_SCOPES",
    "DEFAULT_TENANT_ID",
    "Clock",
    "Limits",
    "Sandbox",
    "SandboxStore",
    "create_app",
    "prepare_store",
]

"""A local server that behaves like the Wisenet API v1 (learners AU, invoices, workplaces,
learner positions, combos), with Wisenet's API-key auth and usage limits.

Run it with ``learnerledger sandbox wisenet``; docs/wisenet.md says what it emulates and where
it follows our own choices because Wisenet's behaviour is not documented.
"""

from learnerledger.sandbox.clock import Clock
from learnerledger.sandbox.wisenet.app import Sandbox, create_app, parse_key, prepare_keys
from learnerledger.sandbox.wisenet.ratelimit import Limits
from learnerledger.sandbox.wisenet.seed import SEED_TODAY, SeedConflict, SeedReport, seed_account
from learnerledger.sandbox.wisenet.store import PLANS, SandboxStore

__all__ = [
    "PLANS",
    "SEED_TODAY",
    "Clock",
    "Limits",
    "Sandbox",
    "SandboxStore",
    "SeedConflict",
    "SeedReport",
    "create_app",
    "parse_key",
    "prepare_keys",
    "seed_account",
]

"""The sync's journal keys: every planned write is stored (``store/journal.py``) before it is
sent, under keys derived from what it is.

A step's key is derived from its organisation, action, learner and exact payload, and a
batch's Idempotency-Key from its steps, so sending the same batch again after a failure within
Xero's six-minute window replays Xero's first answer instead of writing twice. Beyond that
window the key alone is no protection, which is why a step whose outcome is unknown is looked
up by its contact before anything is sent again (see ``runner``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from learnerledger.store.journal import NewStep, Step
from learnerledger.sync.plan import Plan

__all__ = ["JOB", "batch_key", "plan_steps", "step_key"]

JOB = "sync learners"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def step_key(tenant_id: str, action: str, ref_internal: str, payload: Mapping[str, Any]) -> str:
    text = "|".join((tenant_id, action, ref_internal, _canonical(payload)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def batch_key(steps: Sequence[Step], attempt: int) -> str:
    """The Idempotency-Key of one request: the same steps sent again give the same key. The
    attempt number changes it once the earlier attempt's outcome has been looked up."""
    digest = hashlib.sha256("|".join([str(attempt), *(s.step_key for s in steps)]).encode())
    return f"ll-sync-{digest.hexdigest()[:56]}"


def plan_steps(plan: Plan, tenant_id: str) -> list[NewStep]:
    """The plan's writes, in order, as journal steps."""
    steps = []
    for item in plan.items:
        if not item.state.writes:  # create, update, adopt
            continue
        assert item.payload is not None
        assert item.mapped_hash is not None
        action = str(item.state)
        steps.append(
            NewStep(
                ref_internal=item.ref_internal,
                action=action,
                payload=dict(item.payload),
                mapped_hash=item.mapped_hash,
                step_key=step_key(tenant_id, action, item.ref_internal, item.payload),
            )
        )
    return steps

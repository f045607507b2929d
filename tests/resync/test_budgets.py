"""Both day budgets: a Wisenet day quota spent mid-run (Wisenet's 429, or learnerledger's own
count of ``wisenet_day_limit``) pauses the resync, loses nothing, and the next day's run
carries on, writing each document once; a dry run says beforehand that the run will pause;
Xero's day budget pauses a resync as it pauses any job."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from learnerledger.errors import RateLimited, WisenetQuotaExhausted
from learnerledger.store import history
from learnerledger.store import resync as held_store
from resync.conftest import World


def accepted_today(world: World) -> int:
    """The calls Wisenet accepted today from learnerledger's key (refused ones do not count)."""
    answer = httpx.get(
        world.wisenet.server.url + "/sandbox/limits", headers={"x-api-key": world.wisenet.api_key}
    )
    return int(answer.json()["key"]["calls_today"])


def to_next_utc_day(world: World) -> None:
    now = datetime.fromtimestamp(world.wisenet.sandbox.clock.now(), UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    world.wisenet.sandbox.clock.advance((midnight - now).total_seconds() + 1)


def test_a_spent_wisenet_quota_pauses_and_the_next_day_carries_on(make_world: Any) -> None:
    # Setting up uses one of the key's calls (the pull of the learners); three are left.
    world: World = make_world(day=4)
    (ada,) = world.add_learners("Ada Lovelace")
    invoices = [world.invoice(ada, f"{10 + i}.00") for i in range(5)]
    assert accepted_today(world) == 1

    paused = world.resync()

    assert paused.status == "paused"
    assert isinstance(paused.paused, WisenetQuotaExhausted)
    assert (paused.counts()["written"], paused.left, paused.mismatches) == (3, 2, 2)
    assert len(world.invoices()) == 3
    held = held_store.load_held(world.store, world.xero.connection.id)
    assert not [h for h in held.values() if h.pending]  # the refused write is not pending
    run = history.last_run(world.store, "resync documents", world.xero.connection.id)
    assert run is not None
    assert (run.status, run.counts["written"]) == ("paused", 3)

    again = world.resync()  # the same day: still nothing to spend, nothing lost
    assert again.status == "paused"
    assert again.counts()["written"] == 0

    to_next_utc_day(world)
    resumed = world.resync()

    assert resumed.status == "succeeded"
    assert (resumed.counts()["written"], resumed.unchanged) == (2, 3)
    assert set(world.invoices()) == {i["InvoiceID"] for i in invoices}
    assert accepted_today(world) == 2  # each of the last two written once, nothing read


def test_the_day_limit_setting_is_kept_and_a_dry_run_says_the_run_will_pause(
    world: World,
) -> None:
    (ada,) = world.add_learners("Ada Lovelace")
    for i in range(5):
        world.invoice(ada, f"{i + 1}.00")

    plan = world.resync(dry_run=True, day_limit=3)
    wisenet = plan.budget["wisenet"]
    assert (wisenet["calls_needed"], wisenet["day_left"], wisenet["pauses"]) == (5, 3, True)
    assert plan.budget["xero"]["day_left"] > 0

    world.reset_calls()
    run = world.resync(day_limit=3)
    assert run.status == "paused"
    assert run.paused is not None
    assert "wisenet_day_limit" in str(run.paused)
    assert world.calls() == {"PUT /invoices/{id}": 3}  # stopped before going over, no 429
    assert (run.counts()["written"], run.left) == (3, 2)

    resumed = world.resync(day_limit=3, clock=lambda: time.time() + 86_400)  # the next day
    assert resumed.status == "succeeded"
    assert resumed.counts()["written"] == 2
    assert len(world.invoices()) == 5


def test_a_spent_xero_day_budget_pauses_the_resync_before_anything_is_written(
    make_world: Any,
) -> None:
    world: World = make_world(xero_day_limit=3)
    (ada,) = world.add_learners("Ada Lovelace")
    world.invoice(ada, "10.00")
    world.reset_calls()
    report = world.resync()
    assert report.status == "paused"
    assert isinstance(report.paused, RateLimited)
    assert report.paused.limit == "day"
    assert world.calls() == {}
    assert world.invoices() == {}

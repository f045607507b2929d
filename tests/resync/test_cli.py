"""``learnerledger resync documents`` on the command line: the summary for people, one JSON
document for scripts, the dry run's budget notice, chosen learners, and exit 75 on a pause."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from learnerledger.cli import main
from resync.conftest import World, day


def invoke(world: World, tmp_path: Path, *args: str, **env: str) -> Result:
    base = ["--home", str(tmp_path / "home"), "--database-url", str(world.store.engine.url)]
    return CliRunner().invoke(main, [*base, "resync", "documents", *args], env=env)


def test_the_summary_and_the_json_report(world: World, tmp_path: Path) -> None:
    ada, grace = world.add_learners("Ada Lovelace", "Grace Hopper")
    world.invoice(ada, "120.00")
    world.invoice(grace, "80.00", date=day(12))
    employer = world.books.contact("Harbour Constructions")
    world.invoice(employer, "900.00")

    planned = invoke(world, tmp_path, "--dry-run")
    assert planned.exit_code == 0, planned.output
    assert "2 documents would be written (2 new, 0 changed, 0 moved" in planned.stdout
    assert "1 unmatched" in planned.stdout
    assert "Harbour Constructions" in planned.stdout
    assert "Writing it takes 2 Wisenet calls" in planned.stdout
    assert world.invoices() == {}

    done = invoke(world, tmp_path, "--json")
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert report["status"] == "succeeded"
    assert report["counts"]["written"] == 2
    assert report["counts"]["unmatched"] == 1
    assert report["counts"]["mismatches"] == 0
    assert report["range"]["incremental"] is True
    assert [u["contact"] for u in report["unmatched"]] == ["Harbour Constructions"]
    assert len(world.invoices()) == 2

    chosen = invoke(world, tmp_path, "--learner", f"{ada},{grace}", "--json")
    assert chosen.exit_code == 0, chosen.output
    assert json.loads(chosen.stdout)["counts"]["unchanged"] == 2

    ranged = invoke(world, tmp_path, "--from", day(20), "--to", day(5), "--json")
    assert ranged.exit_code == 0, ranged.output
    assert json.loads(ranged.stdout)["range"] == {
        "from": day(20),
        "to": day(5),
        "incremental": False,
        "first": False,
    }
    empty = invoke(world, tmp_path, "--from", day(5), "--to", day(20))
    assert empty.exit_code == 1
    assert "is empty" in empty.stderr


def test_a_spent_day_limit_exits_75_and_the_dry_run_warns_first(
    world: World, tmp_path: Path
) -> None:
    (ada,) = world.add_learners("Ada Lovelace")
    for amount in ("1.00", "2.00", "3.00"):
        world.invoice(ada, amount)
    env: dict[str, Any] = {"LEARNERLEDGER_WISENET_DAY_LIMIT": "2"}
    planned = invoke(world, tmp_path, "--dry-run", **env)
    assert planned.exit_code == 0, planned.output
    assert "the run will pause when the day's quota is spent" in planned.stdout
    run = invoke(world, tmp_path, **env)
    assert run.exit_code == 75, run.output
    assert "Paused:" in run.stderr
    assert "wisenet_day_limit" in run.stderr
    assert len(world.invoices()) == 2

"""``learnerledger merge plan|apply|verify`` as commands (JSON on stdout, the worklist as CSV
and a printable page), and a spent day budget in the middle of an apply: the run pauses, the
command exits 75, and the next run carries on without moving anything twice."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from click.testing import CliRunner, Result

from learnerledger.cli import main
from learnerledger.store import history
from learnerledger.store.merges import merge_steps
from learnerledger.xero.ratelimit import RateBudget
from merge.scenario import Org, organisation, sync_and_confirm
from sandbox_documents import line


def _invoke(org: Org, tmp_path: Path, *args: str, **env: str) -> Result:
    base = [
        "--home",
        str(org.setup.config.home),
        "--database-url",
        f"sqlite:///{tmp_path / 'learnerledger.db'}",
    ]
    return CliRunner().invoke(main, [*base, "merge", *args], env=env)


def _worklist_org(make_xero_sandbox: Any, connect_xero: Any) -> tuple[Org, dict[str, Any]]:
    org = organisation(make_xero_sandbox, connect_xero)
    legacy = org.legacy["DAU0000001"]
    invoice = org.books.invoice(legacy, line("400"))
    org.books.pay(invoice["InvoiceID"], "120.00", date="2025-03-02")
    sync_and_confirm(org)
    org.books.invoice(org.survivor("DAU0000001"), line("60"))  # no swap
    return org, invoice


def test_plan_apply_and_verify_commands(
    make_xero_sandbox: Any, connect_xero: Any, tmp_path: Path
) -> None:
    org, invoice = _worklist_org(make_xero_sandbox, connect_xero)
    legacy = org.legacy["DAU0000001"]

    planned = _invoke(org, tmp_path, "plan", "--json")
    assert planned.exit_code == 0, planned.output
    plan = json.loads(planned.stdout)
    (cluster,) = plan["clusters"]
    assert cluster["state"] == "worklist"
    assert cluster["outstanding"] == "340.00"  # 280.00 on the legacy contact, 60.00 on its own
    (lp,) = cluster["legacy"]
    assert lp["outcome"] == "merge"
    assert lp["documents"][0]["reason"] == "payment of $120.00 on 2025-03-02"
    assert "holds 1 document" in cluster["no_swap"]
    human = _invoke(org, tmp_path, "plan")
    assert "DAU0000001 (Felicity Jones) worklist" in human.stdout
    assert "blocked invoice" in human.stdout

    csv_path, html_path = tmp_path / "worklist.csv", tmp_path / "worklist.html"
    applied = _invoke(
        org,
        tmp_path,
        "apply",
        "--worklist-csv",
        str(csv_path),
        "--worklist-html",
        str(html_path),
    )
    assert applied.exit_code == 0, applied.output
    assert "1 merge on the worklist" in applied.stdout
    assert "JONES, Felicity" in applied.stdout
    (row,) = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8"))))
    assert row["legacy_contact_id"] == legacy
    assert row["merge_into_name"] == "Felicity Jones DAU0000001"
    assert row["contact_code"] == "DAU0000001"
    assert row["open_in_xero"].endswith(f"/contacts/{legacy}")
    assert f"invoice {invoice['InvoiceNumber']}" in row["documents"]
    page = html_path.read_text(encoding="utf-8")
    assert "<!doctype html>" in page
    assert "Merge <b>JONES, Felicity</b> into <b>Felicity Jones DAU0000001</b>" in page
    assert "http" not in page.replace(row["open_in_xero"], "")  # nothing fetched from elsewhere

    as_json = json.loads(_invoke(org, tmp_path, "apply", "--json", "--no-archive").stdout)
    assert as_json["status"] == "succeeded"
    assert [i["legacy_contact_id"] for i in as_json["worklist"]] == [legacy]

    assert org.merge_in_xero(legacy, "", by_name="Felicity Jones DAU0000001").status_code == 303
    verified = _invoke(org, tmp_path, "verify", "--json")
    assert verified.exit_code == 0, verified.output
    document = json.loads(verified.stdout)
    assert document["counts"]["done"] == 1
    assert document["worklist"] == []
    assert "DAU0000001 done" in _invoke(org, tmp_path, "verify").stdout


def test_a_bad_worklist_path_is_a_clear_error(
    make_xero_sandbox: Any, connect_xero: Any, tmp_path: Path
) -> None:
    org, _ = _worklist_org(make_xero_sandbox, connect_xero)
    missing = tmp_path / "no such folder" / "worklist.csv"
    result = _invoke(org, tmp_path, "apply", "--worklist-csv", str(missing))
    assert result.exit_code == 1
    assert "The worklist could not be written to" in result.stderr
    assert "Give a path in a folder that exists" in result.stderr


def _movable_org(make_xero_sandbox: Any, connect_xero: Any, n: int) -> Org:
    org = organisation(make_xero_sandbox, connect_xero, xero_day_limit=100_000)
    org.invoices(org.legacy["DAU0000001"], n)
    sync_and_confirm(org)
    return org


def _moves(db: Path) -> list[tuple[str, str, int]]:
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    merge_steps.c.target_id, merge_steps.c.status, merge_steps.c.attempts
                ).where(merge_steps.c.action == "move")
            ).all()
            return [(str(a), str(b), int(c)) for a, b, c in rows]
    finally:
        engine.dispose()


def test_a_spent_day_budget_pauses_apply_and_the_next_run_resumes(
    make_xero_sandbox: Any, connect_xero: Any, tmp_path: Path
) -> None:
    org = _movable_org(make_xero_sandbox, connect_xero, 120)
    legacy, survivor = org.legacy["DAU0000001"], org.survivor("DAU0000001")
    setup = org.setup
    budget = RateBudget(setup.store, setup.connection.id, clock=org.sandbox.clock.now)
    used = budget.limits.day - budget.snapshot().day_remaining
    # Room for the reads and two batches of 50: the third batch meets the spent budget.
    limit = str(used + 8)
    first = _invoke(org, tmp_path, "apply", LEARNERLEDGER_XERO_DAY_LIMIT=limit)
    assert first.exit_code == 75, first.output
    assert "Paused:" in first.stderr
    assert "resumes at" in first.stderr
    moves = _moves(tmp_path / "learnerledger.db")
    assert len(moves) == 120
    assert sum(1 for _, status, _ in moves if status == "done") == 100
    assert len(org.documents(legacy)) == 20
    runs = history.latest_runs(setup.store, limit=50)
    assert "paused" in [r.status for r in runs if r.job == "merge apply"]

    # Verify meanwhile leaves the half-applied cluster to the apply that will finish it.
    verified = _invoke(org, tmp_path, "verify", "--json", LEARNERLEDGER_XERO_DAY_LIMIT="100000")
    assert verified.exit_code == 0, verified.output
    (cluster,) = json.loads(verified.stdout)["clusters"]
    assert cluster["state"] == "pending"
    assert "stopped half way" in cluster["fix"]

    second = _invoke(org, tmp_path, "apply", LEARNERLEDGER_XERO_DAY_LIMIT="100000")
    assert second.exit_code == 0, second.output
    assert "Finished 20 writes left by an earlier run" in second.stdout
    moves = _moves(tmp_path / "learnerledger.db")
    assert len(moves) == 120
    assert all(status == "done" for _, status, _ in moves)
    # The batch the spent budget held back was looked up (not moved) and sent once more.
    assert sorted(attempts for _, _, attempts in moves) == [1] * 100 + [2] * 20
    assert len({target for target, _, _ in moves}) == 120  # each document moved once
    assert org.documents(legacy) == {}
    assert len(org.documents(survivor)) == 120
    assert org.contact(legacy)["ContactStatus"] == "ARCHIVED"

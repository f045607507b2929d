"""``learnerledger duplicates calibrate`` on a store holding an organisation's learners,
mirrored contacts and decisions: a dry run stores nothing, a run stores settings that
``duplicates`` then uses, and too few decisions are refused with a clear message."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from conftest import ConnectedXero
from learnerledger.cli import main
from learnerledger.cli.duplicates import match_settings
from learnerledger.matching import MatchSettings, find_duplicates
from learnerledger.store import duplicates as pairs_repo
from learnerledger.store import mirror
from learnerledger.store.learners import upsert_learners

from .seeded import Seeded, seeded


def _mirror(setup: ConnectedXero, data: Seeded) -> None:
    rows: list[mirror.ContactRow] = []
    for c in data.contacts:
        d = c.data
        rows.append(
            mirror.ContactRow(
                contact_id=c.contact_id,
                name=c.name,
                contact_number=c.contact_number,
                account_number=None,
                first_name=d.get("FirstName"),
                last_name=d.get("LastName"),
                email=d.get("EmailAddress"),
                status=c.status,
                merged_to=None,
                is_customer=True,
                is_supplier=False,
                updated_ms=0,
                data=json.dumps({**d, "ContactID": c.contact_id}),
            )
        )
    with setup.store.transaction() as conn:
        upsert_learners(conn, data.learners)
        mirror.store_contacts(conn, setup.connection.id, rows, 0)


def _decide(setup: ConnectedXero, data: Seeded, count: int) -> None:
    """Pairs found and decided by the truth, as a finance officer would."""
    learners = [x for x in data.learners if x.sync_to_xero]
    found = find_duplicates(learners, data.contacts)
    pairs_repo.save_found(
        setup.store,
        setup.connection.id,
        [
            pairs_repo.FoundPair(p.ref_internal, p.contact_id, None, p.score, p.status)
            for p in found
        ],
    )
    keys = [(p.ref_internal, p.contact_id) for p in found][:count]
    same = [k for k in keys if k in data.truth]
    pairs_repo.decide(setup.store, setup.connection.id, same, "confirmed")
    strangers = [c.contact_id for c in data.contacts if data.variants[c.contact_id] == "namesake"]
    others = [(x.ref_internal, c) for x, c in zip(learners, itertools.cycle(strangers))][:12]
    pairs_repo.save_found(
        setup.store,
        setup.connection.id,
        [
            *[
                pairs_repo.FoundPair(p.ref_internal, p.contact_id, None, p.score, p.status)
                for p in found
            ],
            *[pairs_repo.FoundPair(r, c, None, 0.6, "review") for r, c in others],
        ],
    )
    pairs_repo.decide(setup.store, setup.connection.id, others, "rejected")


def _invoke(setup: ConnectedXero, tmp_path: Path, *args: str) -> Any:
    base = [
        "--home",
        str(setup.config.home),
        "--database-url",
        f"sqlite:///{tmp_path / 'learnerledger.db'}",
    ]
    return CliRunner().invoke(main, [*base, "duplicates", *args])


def test_calibrate_dry_run_then_store(xero_sandbox: Any, connect_xero: Any, tmp_path: Path) -> None:
    setup: ConnectedXero = connect_xero(xero_sandbox)
    data = seeded(scale=0.5, seed_n=5)
    _mirror(setup, data)
    _decide(setup, data, 200)

    dry = _invoke(setup, tmp_path, "calibrate", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    document = json.loads(dry.stdout)
    assert document["stored"] is False
    assert match_settings(setup.store, setup.connection.id) is None
    for side in ("before", "after"):
        figures = document[side]
        assert figures["confirmed"] >= 25
        assert figures["rejected"] == 12
        assert set(figures) >= {"precision_at_auto", "recall_at_review", "confirmed_auto"}
    assert document["after"]["precision_at_auto"] >= 0.99
    assert document["after"]["recall_at_review"] >= 0.97

    stored = _invoke(setup, tmp_path, "calibrate")
    assert stored.exit_code == 0, stored.output
    assert "Calibrated on" in stored.stdout
    assert "recall at review" in stored.stdout
    assert "Stored:" in stored.stdout
    settings = match_settings(setup.store, setup.connection.id)
    assert settings is not None
    assert settings.as_json() == document["settings"]
    assert settings.weights.learn is False

    # `duplicates` matches with the stored settings from now on: with the smallest blocks,
    # it finds fewer pairs than the defaults do
    narrow = MatchSettings(max_block=0)
    pairs_repo.save_fitted_settings(setup.store, setup.connection.id, narrow.as_json())
    listed = _invoke(setup, tmp_path, "--json")
    assert listed.exit_code == 0, listed.output
    learners = [x for x in data.learners if x.sync_to_xero]
    expected = find_duplicates(learners, data.contacts, settings=narrow)
    assert len(expected) < len(find_duplicates(learners, data.contacts))
    assert json.loads(listed.stdout)["counts"]["pairs"] == len(expected)


def test_calibrate_refuses_too_few_decisions(
    xero_sandbox: Any, connect_xero: Any, tmp_path: Path
) -> None:
    setup: ConnectedXero = connect_xero(xero_sandbox)
    data = seeded(scale=0.5, seed_n=5)
    _mirror(setup, data)
    _decide(setup, data, 5)
    refused = _invoke(setup, tmp_path, "calibrate")
    assert refused.exit_code == 1
    assert "Calibration needs at least 25 confirmed" in refused.stderr
    assert "duplicates confirm" in refused.stderr
    assert match_settings(setup.store, setup.connection.id) is None

"""Calibration on an organisation's own decisions: it refuses too few, fits settings that keep
the goals on the decided pairs, says what changed, and its settings survive a round trip."""

from __future__ import annotations

import itertools
import random

import pytest

from learnerledger.errors import LearnerLedgerError
from learnerledger.matching import MatchSettings, calibrate, find_duplicates
from learnerledger.matching.calibrate import MIN_CONFIRMED, MIN_REJECTED

from .seeded import Seeded, seeded


@pytest.fixture(scope="module")
def organisation() -> Seeded:
    return seeded(scale=1.0, seed_n=3)


def _decisions(data: Seeded, count: int, seed: int = 1) -> dict[tuple[str, str], bool]:
    """What a finance officer decides about ``count`` of the pairs the matcher lists: the
    truth, for the pairs it shows them."""
    pairs = find_duplicates(data.learners, data.contacts)
    shown = random.Random(seed).sample(pairs, min(count, len(pairs)))
    return {
        (p.ref_internal, p.contact_id): (p.ref_internal, p.contact_id) in data.truth for p in shown
    }


def _with_rejections(data: Seeded, decisions: dict[tuple[str, str], bool]) -> None:
    """Rejections of pairs a person would not take: each learner with a stranger's contact."""
    strangers = [c.contact_id for c in data.contacts if data.variants[c.contact_id] == "namesake"]
    for learner, contact in zip(data.learners, itertools.cycle(strangers)):
        decisions.setdefault((learner.ref_internal, contact), False)
        if sum(not v for v in decisions.values()) >= 2 * MIN_REJECTED:
            break


def test_too_few_decisions_are_refused_with_the_counts_and_the_fix(organisation: Seeded) -> None:
    decisions = dict(list(_decisions(organisation, 400).items())[: MIN_CONFIRMED - 1])
    with pytest.raises(LearnerLedgerError) as raised:
        calibrate(organisation.learners, organisation.contacts, decisions)
    assert f"at least {MIN_CONFIRMED} confirmed and {MIN_REJECTED} rejected" in raised.value.message
    assert "duplicates confirm" in (raised.value.fix or "")


def test_decisions_about_vanished_records_do_not_count(organisation: Seeded) -> None:
    decisions = {(f"GONE{n:04d}", f"nowhere-{n}"): n % 2 == 0 for n in range(200)}
    with pytest.raises(LearnerLedgerError, match="there are 0 confirmed and 0 rejected"):
        calibrate(organisation.learners, organisation.contacts, decisions)


def test_calibrated_settings_keep_the_goals_on_the_decided_pairs(organisation: Seeded) -> None:
    decisions = _decisions(organisation, 300)
    _with_rejections(organisation, decisions)
    decisions[("GONE0001", "nowhere")] = True
    result = calibrate(organisation.learners, organisation.contacts, decisions)
    assert result.skipped == 1
    assert result.used == len(decisions) - 1
    after = result.after
    assert after.confirmed == sum(decisions.values()) - 1
    assert after.precision_at_auto >= 0.99
    assert after.recall_at_review >= 0.97
    assert after.rejected_auto == 0
    fitted = result.settings
    assert 0.05 <= fitted.review <= MatchSettings().review <= fitted.auto <= 0.9999
    assert fitted.weights.learn is False  # from now on the decisions' m, not the data's guess
    assert set(fitted.weights.m) == set(MatchSettings().weights.m)
    document = result.as_json()
    assert document["before"]["confirmed"] == document["after"]["confirmed"]
    assert document["decisions_skipped"] == 1


def test_fitted_settings_round_trip_through_json(organisation: Seeded) -> None:
    decisions = _decisions(organisation, 300)
    _with_rejections(organisation, decisions)
    fitted = calibrate(organisation.learners, organisation.contacts, decisions).settings
    again = MatchSettings.from_json(fitted.as_json())
    assert again == fitted
    pairs = find_duplicates(organisation.learners, organisation.contacts, settings=again)
    assert pairs == find_duplicates(organisation.learners, organisation.contacts, settings=fitted)


def test_settings_json_keeps_defaults_for_what_it_lacks() -> None:
    assert MatchSettings.from_json({}) == MatchSettings()
    assert MatchSettings.from_json({"auto": 0.995}).auto == 0.995

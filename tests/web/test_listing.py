"""The Learners page's reads on both databases: link states in their order, search by words
(any case, no wildcards), paging, and the resync form's default range."""

from __future__ import annotations

from datetime import UTC, date, datetime

from learnerledger.store import connections, links, open_store
from learnerledger.store.listing import count_link_states, page_learners
from learnerledger.web.views import Organisation, resync_defaults
from sync.test_sync_learners import make_learner, put_learners


def test_link_states_search_and_paging_on_both_databases(store_url: str) -> None:
    store = open_store(store_url)
    try:
        row = connections.save_connection(
            store,
            kind="xero",
            tenant_id="t-1",
            base_url="http://127.0.0.1:9",
            name="Org",
            auth_mode="custom_connection",
            secret=b"-",
        )
        put_learners(
            store,
            make_learner("DAU0000001", first="Ana", last="O'Neil_Smith"),
            make_learner("DAU0000002", first="Ben"),
            make_learner("DAU0000003", first="Cat", email="nope"),
            make_learner("DAU0000004", first="Dan", sync_to_xero=False),
            make_learner("DAU0000005", first="Eve"),
        )
        with store.transaction() as conn:
            links.link_contact(
                conn, row.id, "DAU0000001", "c-1", mapped_hash=None, contact_updated_ms=0
            )
            links.link_contact(
                conn, row.id, "DAU0000005", "c-5", mapped_hash=None, contact_updated_ms=0
            )
        # DAU0000005 is linked but its last sync had a problem; DAU0000003's problem is that
        # it is not ready, so it stays invalid.
        conflicts = {"DAU0000005", "DAU0000003"}
        assert count_link_states(store, row.id, conflicts=conflicts) == {
            "linked": 1,
            "ready": 1,
            "invalid": 1,
            "conflict": 1,
            "not_flagged": 1,
        }
        states = {
            line.ref_internal: line.state
            for line in page_learners(store, row.id, conflicts=conflicts).lines
        }
        assert states == {
            "DAU0000001": "linked",
            "DAU0000002": "ready",
            "DAU0000003": "invalid",
            "DAU0000004": "not_flagged",
            "DAU0000005": "conflict",
        }
        found = page_learners(store, row.id, query="o'neil_SMITH ana")
        assert [x.ref_internal for x in found.lines] == ["DAU0000001"]
        assert found.lines[0].contact_id == "c-1"
        assert page_learners(store, row.id, query="_").total == 1  # a literal underscore
        assert page_learners(store, row.id, query="%").total == 0
        second = page_learners(store, row.id, offset=2, limit=2)
        assert (second.total, [x.ref_internal for x in second.lines]) == (
            5,
            ["DAU0000003", "DAU0000004"],
        )
        ready = page_learners(store, row.id, state="ready", conflicts=conflicts)
        assert [x.ref_internal for x in ready.lines] == ["DAU0000002"]
        # With no organisation nothing is linked.
        assert count_link_states(store, None)["linked"] == 0
    finally:
        store.close()


def test_the_resync_range_starts_a_year_before_the_connection() -> None:
    def org(when: datetime) -> Organisation:
        return Organisation(1, "Org", "t", "connected", "", when)

    today = date(2026, 12, 2)
    found = resync_defaults(org(datetime(2026, 3, 14, 9, tzinfo=UTC)), today=today)
    assert (found.date_from, found.date_to) == (date(2025, 3, 14), today)
    leap = resync_defaults(org(datetime(2028, 2, 29, tzinfo=UTC)), today=today)
    assert leap.date_from == date(2027, 2, 28)
    assert resync_defaults(None, today=today).date_from == date(2025, 12, 2)

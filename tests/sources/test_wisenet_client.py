"""The Wisenet client without a server (httpx.MockTransport): auth header, pacing, backoff
on 429, the spent day quota, retries, errors that keep Wisenet's answer but never the key;
reading learner records; the stored connection."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from learnerledger.errors import (
    SourceError,
    WisenetAuthError,
    WisenetError,
    WisenetNotConnected,
    WisenetQuotaExhausted,
)
from learnerledger.sources.wisenet import (
    ApiKeyAuth,
    Lookups,
    WisenetClient,
    check_base_url,
    connect_wisenet,
    learner_from_item,
    load_connection,
    open_client,
    resolve_zone,
)
from learnerledger.store import Store, load_secret_box
from learnerledger.store.tables import connections

KEY = "s3cret-api-key"


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


def make_client(
    handler: Callable[[httpx.Request], httpx.Response], fake: FakeTime | None = None, **kw: Any
) -> WisenetClient:
    fake = fake or FakeTime()
    return open_client(
        "https://api.example.test/v1",
        KEY,
        transport=httpx.MockTransport(handler),
        sleep=fake.sleep,
        monotonic=fake.monotonic,
        now=lambda: datetime(2026, 3, 4, 22, 0, tzinfo=UTC),
        **kw,
    )


def test_the_key_goes_in_x_api_key_and_never_in_a_repr() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    client = make_client(handler)
    client.list_page("/learnersAU", {"take": 1000})
    assert seen[0].headers["x-api-key"] == KEY
    assert seen[0].url.path == "/v1/learnersAU"
    assert KEY not in repr(ApiKeyAuth(KEY))
    assert KEY not in repr(client.http.auth)


def test_calls_are_paced_under_the_per_second_limit() -> None:
    fake = FakeTime()
    client = make_client(lambda r: httpx.Response(200, json=[]), fake, requests_per_second=10)
    for _ in range(25):
        client.get("/entities")
    assert client.calls == 25
    assert fake.now - 1000.0 >= 2 * 1.1 - 1e-9  # 25 calls: two full windows waited
    assert all(s <= 1.1 + 1e-9 for s in fake.sleeps)


def test_a_429_is_met_by_backing_off_then_retrying() -> None:
    answers = [429, 200]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(answers.pop(0), json={"message": "Too Many Requests"})

    fake = FakeTime()
    client = make_client(handler, fake)
    assert client.get("/entities").status_code == 200
    assert fake.sleeps == [1.0]
    assert client.calls == 2


def test_429_after_every_backoff_means_the_day_quota_is_spent() -> None:
    fake = FakeTime()
    client = make_client(lambda r: httpx.Response(429, json={"message": "Limit Exceeded"}), fake)
    with pytest.raises(WisenetQuotaExhausted) as info:
        client.get("/learnersAU")
    assert fake.sleeps == [1.0, 2.0]
    assert client.calls == 3
    assert info.value.resets_at == datetime(2026, 3, 5, tzinfo=UTC)
    assert "2026-03-05 00:00 UTC" in str(info.value)
    assert info.value.body == '{"message":"Limit Exceeded"}'


def test_a_refused_key_is_an_auth_error_without_the_key() -> None:
    client = make_client(lambda r: httpx.Response(403, json={"message": "Forbidden"}))
    with pytest.raises(WisenetAuthError) as info:
        client.get("/learnersAU", {"take": 1})
    assert info.value.status == 403
    assert "connect wisenet --api-key" in str(info.value)
    assert KEY not in str(info.value)


def test_server_errors_and_dropped_connections_are_retried() -> None:
    answers: list[Any] = [500, httpx.ConnectError("reset"), 200]

    def handler(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer, json=[])

    client = make_client(handler)
    assert client.get("/entities").status_code == 200
    assert client.calls == 3


def test_an_unreachable_server_is_a_clear_error_after_the_retries() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out")

    client = make_client(handler)
    with pytest.raises(WisenetError, match="could not be reached") as info:
        client.get("/entities")
    assert client.calls == 4
    assert "--base-url" in str(info.value)


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(404, json={"Message": "Learner 5 not found"}), "answered 404"),
        (httpx.Response(400, json={"Message": "bad"}), "answered 400"),
        (httpx.Response(200, text="<html>"), "not a JSON list"),
        (httpx.Response(200, json={"Data": {}}), "not a JSON list"),
    ],
)
def test_other_answers_keep_wisenets_body(response: httpx.Response, message: str) -> None:
    client = make_client(lambda r: response)
    with pytest.raises(WisenetError, match=message) as info:
        client.list_page("/learnersAU", {})
    assert info.value.status == response.status_code


def test_only_https_leaves_this_machine() -> None:
    assert check_base_url("https://api.wisenet.co/v1/") == "https://api.wisenet.co/v1"
    assert check_base_url("http://127.0.0.1:8002/v1") == "http://127.0.0.1:8002/v1"
    with pytest.raises(SourceError, match="unencrypted"):
        check_base_url("http://api.wisenet.co/v1")
    with pytest.raises(SourceError, match="not a URL"):
        check_base_url("api.wisenet.co")


def test_time_zones() -> None:
    assert resolve_zone("UTC") is UTC
    assert str(resolve_zone("Australia/Sydney")) == "Australia/Sydney"
    with pytest.raises(SourceError, match="wisenet_timezone"):
        resolve_zone("Mars/Olympus")


# -- reading learners -------------------------------------------------------------------------

ITEM: dict[str, Any] = {
    "Data": {
        "LearnerId": 4021,
        "LastModifiedTimeStamp": "2024-03-04T22:17:05.113",
        "Personal": {
            "FirstName": "Priya",
            "LastName": " Ramanathan ",
            "PreferredNamed": "Pri",
            "DateOfBirth": "1996-08-14T00:00:00",
            "LearnerNumber": "ABC0000123",
            "SyncToXero": True,
            "PhoneNumbers": {"PhoneWork": "0298765432", "Mobile": "+61412000111"},
            "EmailAddresses": {"Email": "priya.r@example.org"},
            "StreetAddress": {
                "UnitDetails": "4",
                "StreetNumber": "17",
                "StreetName": "Wattle Rd",
                "SuburbTownCity": "Parramatta",
                "StateId": 2,
                "Postcode": "2150",
                "CountryId": 13,
                "StreetAddress": "4/17 Wattle Rd",
            },
            "PostalAddress": {"PoBox": "812", "SuburbTownCity": "Parramatta", "StateId": 42},
        },
    },
    "Relationships": {
        "States": [{"StateId": 2, "Code": "01", "ShortDescription": "NSW"}],
        "Countries": [{"CountryId": 13, "Code": "1101", "Description": "Australia"}],
    },
}


def combos_handler(calls: list[str]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path.endswith("/combos/states"):
            return httpx.Response(
                200, json=[{"Data": {"StateId": 8, "ShortDescription": "NT"}, "Relationships": {}}]
            )
        return httpx.Response(200, json=[])

    return handler


def test_a_learner_record_becomes_a_learner() -> None:
    calls: list[str] = []
    lookups = Lookups(make_client(combos_handler(calls)))
    learner = learner_from_item(ITEM, lookups)
    assert learner.ref_internal == "ABC0000123"
    assert (learner.first_name, learner.last_name, learner.preferred_name) == (
        "Priya",
        "Ramanathan",
        "Pri",
    )
    assert learner.date_of_birth == date(1996, 8, 14)
    assert learner.phone_work == "+61298765432"
    assert learner.street.line == "4/17 Wattle Rd"
    assert (learner.street.state, learner.street.country) == ("NSW", "Australia")
    assert learner.postal.line == "PO Box 812"
    assert learner.postal.state == ""  # StateId 42 is in neither the relationships nor combos
    assert any("StateId 42" in w for w in learner.warnings)
    assert learner.source == "wisenet"
    assert learner.source_id == "4021"
    assert learner.source_modified == datetime(2024, 3, 4, 22, 17, 5, 113000, tzinfo=UTC)
    assert learner.ready_for_xero() == []  # the street address is complete
    assert calls == ["/v1/combos/states", "/v1/combos/countries"]


def test_ids_missing_from_the_relationships_are_resolved_through_the_combos_once() -> None:
    calls: list[str] = []
    lookups = Lookups(make_client(combos_handler(calls)))
    item = {"Data": {**ITEM["Data"]}, "Relationships": {}}
    item["Data"]["Personal"] = {**ITEM["Data"]["Personal"], "PostalAddress": None}
    item["Data"]["Personal"]["StreetAddress"] = {
        **ITEM["Data"]["Personal"]["StreetAddress"],
        "StateId": 8,
    }
    first = learner_from_item(item, lookups)
    second = learner_from_item(item, lookups)
    assert first.street.state == second.street.state == "NT"
    assert first.street.country == ""  # CountryId 13 is in no list here
    assert calls == ["/v1/combos/states", "/v1/combos/countries"]


def test_a_bare_learner_and_offset_timestamps_are_accepted() -> None:
    lookups = Lookups(make_client(combos_handler([])))
    bare = {**ITEM["Data"], "LastModifiedTimeStamp": "2024-03-05T09:17:05+11:00"}
    learner = learner_from_item(bare, lookups, zone=resolve_zone("Australia/Sydney"))
    assert learner.source_modified == datetime(2024, 3, 4, 22, 17, 5, tzinfo=UTC)
    naive = learner_from_item(ITEM, lookups, zone=resolve_zone("Australia/Sydney"))
    assert naive.source_modified == datetime(2024, 3, 4, 11, 17, 5, 113000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("x", "not a JSON object"),
        ({"Data": []}, "no Data object"),
        ({"Data": {"LearnerId": 1, "Personal": {"FirstName": "A"}}}, "no LearnerNumber"),
    ],
)
def test_unusable_records_say_why(item: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        learner_from_item(item, Lookups(make_client(combos_handler([]))))


# -- the stored connection ---------------------------------------------------------------------


def test_connecting_checks_the_key_and_stores_it_encrypted(tmp_path: Path, store: Store) -> None:
    box = load_secret_box(tmp_path, environ={})
    calls: list[str] = []

    def factory(url: str, key: str) -> WisenetClient:
        assert key == KEY
        return make_client(combos_handler(calls))

    connection = connect_wisenet(
        store, box, api_key=KEY, base_url="https://api.wisenet.co/v1/", client_factory=factory
    )
    assert calls == ["/v1/combos/states"]
    assert connection.base_url == "https://api.wisenet.co/v1"
    assert KEY not in repr(connection)
    with store.read() as conn:
        row = conn.execute(sa.select(connections)).one()
    assert (row.kind, row.auth_mode, row.state) == ("wisenet", "api_key", "connected")
    assert KEY.encode() not in row.secret
    assert load_connection(store, box).api_key == KEY
    url = store.engine.url.database
    assert url is not None
    assert KEY.encode() not in Path(url).read_bytes()

    again = connect_wisenet(store, box, api_key="other-key", check=False)
    assert again.id == connection.id
    assert load_connection(store, box).api_key == "other-key"


def test_a_refused_key_is_not_stored(tmp_path: Path, store: Store) -> None:
    box = load_secret_box(tmp_path, environ={})

    def factory(url: str, key: str) -> WisenetClient:
        return make_client(lambda r: httpx.Response(403, json={"message": "Forbidden"}))

    with pytest.raises(WisenetAuthError):
        connect_wisenet(store, box, api_key=KEY, client_factory=factory)
    with pytest.raises(WisenetNotConnected, match="connect wisenet"):
        load_connection(store, box)
    with pytest.raises(SourceError, match="empty"):
        connect_wisenet(store, box, api_key="  ", check=False)


def test_a_server_that_ignores_skip_stops_the_pull_instead_of_looping(
    tmp_path: Path, store: Store
) -> None:
    from learnerledger.sources.wisenet import pull_learners

    page = [
        {**ITEM, "Data": {**ITEM["Data"], "LearnerId": i, "Personal": {"LearnerNumber": f"N{i}"}}}
        for i in range(1000)
    ]
    client = make_client(lambda r: httpx.Response(200, json=page))
    connection = connect_wisenet(
        store, load_secret_box(tmp_path, environ={}), api_key=KEY, check=False
    )
    with pytest.raises(WisenetError, match="paging does not move forward"):
        pull_learners(store, client, connection_id=connection.id)
    assert client.calls == 2

"""The Wisenet sandbox over real HTTP: auth, usage limits, the envelope, paging, every filter
and operator, learners, invoices, workplaces, positions, combos; bad input is a 4xx, never
a 5xx."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import WisenetSandbox
from learnerledger.sandbox.wisenet import model

NEW = {
    "Personal": {
        "FirstName": "Tom",
        "LastName": "Okafor",
        "SyncToXero": True,
        "EmailAddresses": {"Email": "tom.okafor@example.net"},
        "StreetAddress": {
            "StreetNumber": "22",
            "StreetName": "Moorabool St",
            "SuburbTownCity": "Geelong",
            "StateId": 3,
            "Postcode": "3220",
            "CountryId": 13,
        },
    }
}


@pytest.fixture
def empty(make_wisenet_sandbox: Any) -> WisenetSandbox:
    sandbox: WisenetSandbox = make_wisenet_sandbox(seed=None)
    return sandbox


def create(http: httpx.Client, *learners: dict[str, Any]) -> list[dict[str, Any]]:
    response = http.post("/learnersAU", json=list(learners or [NEW]))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()
    return items


def keys_of(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: keys_of(v) for k, v in value.items()}
    return None


def model_keys(spec: Any) -> Any:
    return {k: model_keys(v) if isinstance(v, dict) else None for k, v in spec.items()}


# -- transport --------------------------------------------------------------------------------


def test_a_missing_or_unknown_key_is_forbidden(wisenet_sandbox: WisenetSandbox) -> None:
    for headers in ({}, {"x-api-key": "wrong"}):
        response = httpx.get(wisenet_sandbox.url + "/learnersAU", headers=headers)
        assert response.status_code == 403
        assert response.json() == {"message": "Forbidden"}


def test_the_per_second_limit_answers_429_and_the_next_second_is_free(
    make_wisenet_sandbox: Any,
) -> None:
    sandbox: WisenetSandbox = make_wisenet_sandbox(seed=None, per_second=3)
    http = sandbox.http()
    codes = [http.get("/combos/states").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = http.get("/combos/states")
    assert refused.json() == {"message": "Too Many Requests"}
    assert "retry-after" not in refused.headers
    sandbox.sandbox.clock.advance(1.0)
    assert http.get("/combos/states").status_code == 200


def test_the_day_quota_answers_limit_exceeded_until_midnight_utc(
    make_wisenet_sandbox: Any,
) -> None:
    sandbox: WisenetSandbox = make_wisenet_sandbox(seed=None, day=2, keys=("full-key:full", "k"))
    http = sandbox.http("k")
    assert [http.get("/entities").status_code for _ in range(2)] == [200, 200]
    refused = http.get("/entities")
    assert (refused.status_code, refused.json()) == (429, {"message": "Limit Exceeded"})
    assert sandbox.http("full-key").get("/entities").status_code == 200  # its own quota
    clock = sandbox.sandbox.clock
    clock.advance(86_400 - clock.now() % 86_400 + 1)
    assert http.get("/entities").status_code == 200


def test_the_fail_next_switch(wisenet_sandbox: WisenetSandbox) -> None:
    control = httpx.post(
        wisenet_sandbox.server.url + "/sandbox/limits", json={"fail_next": 2}
    ).json()
    assert control["per_second_limit"] == 1000
    http = wisenet_sandbox.http()
    assert [http.get("/entities").status_code for _ in range(3)] == [429, 429, 200]
    bad = httpx.post(wisenet_sandbox.server.url + "/sandbox/limits", json={"fail_next": "x"})
    assert bad.status_code == 400


def test_the_clock_control_moves_time_forward_only(wisenet_sandbox: WisenetSandbox) -> None:
    url = wisenet_sandbox.server.url + "/sandbox/clock"
    before = httpx.get(url).json()["now_ms"]
    after = httpx.post(url, json={"advance_seconds": 3600}).json()["now_ms"]
    assert after - before >= 3_600_000
    assert httpx.post(url, json={"advance_seconds": -1}).status_code == 400


def test_calls_are_counted_per_endpoint(empty: WisenetSandbox) -> None:
    http = empty.http()
    url = empty.server.url + "/sandbox/calls"
    httpx.delete(url)
    http.get("/learnersAU")
    http.get("/learnersAU/5")
    http.get("/learnersAU/6")
    counts = httpx.get(url).json()
    assert counts["by_endpoint"] == {"GET /learnersAU": 1, "GET /learnersAU/{id}": 2}
    assert counts["total"] == 3


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/nowhere", None, 404),
        ("GET", "/learnersau", None, 404),  # paths are matched exactly as Wisenet writes them
        ("DELETE", "/learnersAU", None, 405),
        ("GET", "/learnersAU/abc", None, 400),
        ("GET", "/learnersAU/999999", None, 404),
        ("POST", "/learnersAU", b"{not json", 400),
        ("POST", "/learnersAU", b"NaN", 400),
        ("POST", "/learnersAU", b"{}", 400),
        ("POST", "/learnersAU", b"[]", 400),
    ],
)
def test_bad_requests_are_4xx(
    empty: WisenetSandbox, method: str, path: str, body: bytes | None, status: int
) -> None:
    response = empty.http().request(
        method, path, content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == status, response.text
    assert "Message" in response.json()


def test_a_body_that_is_not_json_by_its_type_is_415(empty: WisenetSandbox) -> None:
    response = empty.http().post(
        "/learnersAU", content=b"x", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415


# -- learners ---------------------------------------------------------------------------------


def test_list_items_are_envelopes_with_every_declared_field(
    wisenet_sandbox: WisenetSandbox,
) -> None:
    items = wisenet_sandbox.http().get("/learnersAU", params={"take": 3}).json()
    assert isinstance(items, list)
    assert len(items) == 3
    for item in items:
        assert set(item) == {"Data", "Relationships"}
        assert keys_of(item["Data"]) == model_keys(model.LEARNER) | {
            "Demographics": None,
            "International": None,
            "NextOfKin": None,
        }
        states = item["Relationships"]["States"]
        state_id = item["Data"]["Personal"]["StreetAddress"]["StateId"]
        if state_id is not None:
            assert {"StateId", "Code", "ShortDescription", "LongDescription"} == set(states[0])
        assert (
            item["Relationships"]["Countries"]
            == [{"CountryId": 13, "Code": "1101", "Description": "Australia"}]
            or item["Data"]["Personal"]["StreetAddress"]["CountryId"] is None
        )


def test_the_light_list_is_flat(wisenet_sandbox: WisenetSandbox) -> None:
    (basic,) = wisenet_sandbox.http().get("/learnersAU/list", params={"take": 1}).json()
    assert set(basic) == {
        "LearnerId",
        "FirstName",
        "InformalName",
        "LastName",
        "LearnerNumber",
        "Email",
        "DateOfBirth",
        "IsActive",
        "UniqueStudentIdentifier",
        "Username",
        "Mobile",
    }


def test_paging_by_id_with_take_capped_at_1000(make_wisenet_sandbox: Any) -> None:
    sandbox: WisenetSandbox = make_wisenet_sandbox(seed=2.0)  # 1,200 learners
    http = sandbox.http()
    first = http.get("/learnersAU/list").json()
    capped = http.get("/learnersAU/list", params={"take": 5000}).json()
    rest = http.get("/learnersAU/list", params={"skip": 1000, "take": 1000}).json()
    assert len(first) == len(capped) == 1000
    assert len(rest) == 200
    ids = [x["LearnerId"] for x in first + rest]
    assert ids == sorted(ids)
    assert len(set(ids)) == 1200
    for bad in ({"skip": "-1"}, {"take": "ten"}):
        assert http.get("/learnersAU", params=bad).status_code == 400


def test_equality_filters_ignore_case_and_parameter_names_too(
    wisenet_sandbox: WisenetSandbox,
) -> None:
    http = wisenet_sandbox.http()
    (one,) = http.get("/learnersAU/list", params={"take": 1, "skip": 7}).json()
    number = one["LearnerNumber"]
    for params in (
        {"learnerNumberFilter": number.lower()},
        {"LEARNERNUMBERFILTER": number},
        {"search": one["LastName"].upper()[1:4], "learnerNumberFilter": number},
    ):
        found = http.get("/learnersAU", params=params).json()
        assert [x["Data"]["Personal"]["LearnerNumber"] for x in found] == [number]
    if one["Email"]:
        by_email = http.get("/learnersAU", params={"emailAddressFilter": one["Email"].upper()})
        assert number in [x["Data"]["Personal"]["LearnerNumber"] for x in by_email.json()]


def test_boolean_filters(wisenet_sandbox: WisenetSandbox) -> None:
    http = wisenet_sandbox.http()
    flagged = http.get("/learnersAU", params={"syncToXeroFilter": "true"}).json()
    other = http.get("/learnersAU", params={"syncToXeroFilter": "FALSE"}).json()
    assert {x["Data"]["Personal"]["SyncToXero"] for x in flagged} == {True}
    assert {x["Data"]["Personal"]["SyncToXero"] for x in other} == {False}
    assert len(flagged) + len(other) == 600
    inactive = http.get("/learnersAU/list", params={"isActiveFilter": "false"}).json()
    assert inactive
    assert {x["IsActive"] for x in inactive} == {False}
    assert http.get("/learnersAU", params={"syncToXeroFilter": "maybe"}).status_code == 400


def test_last_modified_operators(empty: WisenetSandbox) -> None:
    http = empty.http()
    stamps = []
    for name in ("Ann", "Bob", "Cat"):
        (item,) = create(http, {"Personal": {"FirstName": name, "LastName": "Lee"}})
        stamps.append(item["Data"]["LastModifiedTimeStamp"])
        empty.sandbox.clock.advance(2)
    a, b, c = stamps

    def names(value: str) -> list[str]:
        response = http.get("/learnersAU", params={"lastModifiedTimeStampFilter": value})
        assert response.status_code == 200, response.text
        return [x["Data"]["Personal"]["FirstName"] for x in response.json()]

    assert names(f"gt:{a}") == ["Bob", "Cat"]
    assert names(f"ge:{b}") == ["Bob", "Cat"]
    assert names(f"lt:{b}") == ["Ann"]
    assert names(f"le:{b}") == ["Ann", "Bob"]
    assert names(f"eq:{b}") == ["Bob"]
    assert names(b) == ["Bob"]
    assert names(f"ne:{b}") == ["Ann", "Cat"]
    assert names(f"bt:{a},{b}") == ["Ann", "Bob"]
    assert names(f"in:{a},{c}") == ["Ann", "Cat"]
    assert names(f"ni:{a},{c}") == ["Bob"]
    assert names(f"ct:{c[11:19]}") == ["Cat"]
    assert names(f"nc:{c[11:19]}") == ["Ann", "Bob"]
    assert names(f"GT:{a}+00:00") == ["Bob", "Cat"]
    lower = http.get("/learnersAU", params={"lastModifiedTimestampFilter": f"gt:{b}"}).json()
    assert [x["Data"]["Personal"]["FirstName"] for x in lower] == ["Cat"]
    for bad in ("zz:2024-01-01", "gt:yesterday", "bt:2024-01-01", "gt:2024-02-30T00:00:00"):
        response = http.get("/learnersAU", params={"lastModifiedTimeStampFilter": bad})
        assert response.status_code == 400, bad


def test_post_assigns_the_server_fields_and_composes_the_address_line(
    empty: WisenetSandbox,
) -> None:
    body = {**NEW, "LearnerId": 5, "LearnerGuid": "x", "Personal": {**NEW["Personal"]}}
    body["Personal"]["LearnerNumber"] = "MINE"
    (item,) = create(empty.http(), body)
    data = item["Data"]
    assert data["LearnerId"] != 5
    assert data["LearnerGuid"] != "x"
    assert data["Personal"]["LearnerNumber"] != "MINE"
    assert len(data["Personal"]["LearnerNumber"]) <= 10
    assert data["Personal"]["StreetAddress"]["StreetAddress"] == "22 Moorabool St"
    assert item["Relationships"]["States"][0]["ShortDescription"] == "VIC"
    assert data["LastModifiedTimeStamp"]


def test_post_refuses_the_whole_batch_for_one_bad_learner(empty: WisenetSandbox) -> None:
    http = empty.http()
    bad = {"Personal": {"FirstName": "x" * 51, "LastName": "Lee", "StreetAddress": {"StateId": 99}}}
    response = http.post("/learnersAU", json=[NEW, bad])
    assert response.status_code == 400
    body = response.json()
    assert "index 1" in body["Message"]
    assert set(body["Errors"]) == {"[1].Personal.FirstName", "[1].Personal.StreetAddress.StateId"}
    nameless = http.post("/learnersAU", json=[{"Personal": {"FirstName": "Ann"}}])
    assert "[0].Personal.LastName" in nameless.json()["Errors"]
    assert http.get("/learnersAU").json() == []


def test_put_replaces_and_the_timestamp_moves_forward(empty: WisenetSandbox) -> None:
    http = empty.http()
    (item,) = create(http)
    learner_id = item["Data"]["LearnerId"]
    personal = {**NEW["Personal"], "LastName": "Okafor-Lee", "EmailAddresses": None}
    response = http.put(f"/learnersAU/{learner_id}", json={"Personal": personal})
    assert response.status_code == 200, response.text
    data = response.json()["Data"]
    assert data["Personal"]["LastName"] == "Okafor-Lee"
    assert data["Personal"]["EmailAddresses"] == {"Email": None, "AlternativeEmail": None}
    assert data["Personal"]["LearnerNumber"] == item["Data"]["Personal"]["LearnerNumber"]
    assert data["LastModifiedTimeStamp"] > item["Data"]["LastModifiedTimeStamp"]


def test_personal_get_and_put(empty: WisenetSandbox) -> None:
    http = empty.http()
    (item,) = create(http)
    learner_id = item["Data"]["LearnerId"]
    got = http.get(f"/learnersAU/{learner_id}/personal").json()
    assert got["Data"]["FirstName"] == "Tom"
    assert set(got["Relationships"]) == {
        "Gender",
        "AgeCategory",
        "TargetGroup",
        "VaccineStatus",
        "Countries",
        "States",
    }
    put = http.put(
        f"/learnersAU/{learner_id}/personal", json={"FirstName": "Tommy", "LastName": "O"}
    )
    assert put.status_code == 200
    assert put.json()["Data"]["LearnerNumber"] == item["Data"]["Personal"]["LearnerNumber"]
    assert http.get(f"/learnersAU/{learner_id}").json()["Data"]["Personal"]["FirstName"] == "Tommy"


def test_patch_replaces_named_fields_and_answers_a_bare_learner(empty: WisenetSandbox) -> None:
    http = empty.http()
    (item,) = create(http)
    learner_id = item["Data"]["LearnerId"]
    ops = [
        {"op": "Replace", "path": "Personal/SyncToXero", "value": False},
        {"op": "replace", "path": "/Personal/EmailAddresses/Email", "value": "t@example.net"},
    ]
    response = http.patch(f"/learnersAU/{learner_id}", json=ops)
    assert response.status_code == 200, response.text
    bare = response.json()
    assert "Data" not in bare
    assert bare["Personal"]["SyncToXero"] is False
    assert bare["Personal"]["EmailAddresses"]["Email"] == "t@example.net"
    assert bare["Personal"]["FirstName"] == "Tom"
    assert bare["LastModifiedTimeStamp"] > item["Data"]["LastModifiedTimeStamp"]
    for bad in (
        [{"op": "add", "path": "Personal/SyncToXero", "value": True}],
        [{"op": "replace", "path": "Personal/Nope", "value": 1}],
        [{"op": "replace", "path": "Personal/LearnerNumber", "value": "X"}],
        [{"op": "replace", "path": "Personal/SyncToXero", "value": "yes"}],
        [{"op": "replace", "path": "Personal/StreetAddress/StateId", "value": 99}],
        [{"op": "replace", "path": "Personal/SyncToXero"}],
        {"op": "replace"},
        ["x"],
    ):
        assert http.patch(f"/learnersAU/{learner_id}", json=bad).status_code == 400, bad


# -- invoices ---------------------------------------------------------------------------------

INVOICE_ID = "9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"


def invoice(learner_id: int, **changes: Any) -> dict[str, Any]:
    body = {
        "LearnerId": learner_id,
        "InvoiceNumber": "INV-0042",
        "Status": "AUTHORISED",
        "SourceAppKey": "Xero",
        "Date": "2024-03-05T00:00:00",
        "LineItems": [{"ItemCode": "CERT3", "Quantity": 1, "UnitAmount": 1250.10}],
        "AmountTotal": 1250.10,
        "AmountPaid": 500,
        "AmountDue": 750.10,
        "Payments": [{"Type": "CreditNote", "Date": "2024-03-11T00:00:00", "Amount": 0.1}],
    }
    return body | changes


def test_invoices_put_creates_then_replaces_and_delete_removes(empty: WisenetSandbox) -> None:
    http = empty.http()
    learner_id = create(http)[0]["Data"]["LearnerId"]
    created = http.put(f"/invoices/{INVOICE_ID}", json=invoice(learner_id))
    assert created.status_code == 200, created.text
    data = created.json()["Data"]
    assert data["InvoiceId"] == INVOICE_ID
    assert Decimal(str(data["AmountTotal"])) == Decimal("1250.10")
    assert data["Payments"][0]["Type"] == "CreditNote"
    assert created.json()["Relationships"] == {}
    replaced = http.put(f"/invoices/{INVOICE_ID}", json=invoice(learner_id, Status="PAID"))
    assert replaced.json()["Data"]["Status"] == "PAID"
    listed = http.get("/invoices", params={"learnerIdFilter": str(learner_id)}).json()
    assert [x["Data"]["Status"] for x in listed] == ["PAID"]
    assert http.get("/invoices", params={"learnerIdFilter": "ne:" + str(learner_id)}).json() == []
    assert http.delete(f"/invoices/{INVOICE_ID}").status_code == 204
    assert http.get(f"/invoices/{INVOICE_ID}").status_code == 404
    assert http.delete(f"/invoices/{INVOICE_ID}").status_code == 404


@pytest.mark.parametrize(
    "changes",
    [
        {"InvoiceId": "another-id"},
        {"LearnerId": 424242},
        {"LineItems": [{"Quantity": 1.5}]},
        {"AmountTotal": "1250"},
        {"AmountTotal": 1e300},
        {"Payments": {"Type": "Payment"}},
    ],
)
def test_invoice_rules(empty: WisenetSandbox, changes: dict[str, Any]) -> None:
    http = empty.http()
    learner_id = create(http)[0]["Data"]["LearnerId"]
    response = http.put(f"/invoices/{INVOICE_ID}", json=invoice(learner_id) | changes)
    assert response.status_code == 400, response.text


# -- workplaces and positions ------------------------------------------------------------------


def test_workplaces(empty: WisenetSandbox) -> None:
    http = empty.http()
    body = [
        {
            "Description": "Harbour Constructions",
            "Code": "HBRCON",
            "SyncToXero": True,
            "StreetAddress": {"AddressLine1": "88 Quay St", "Suburb": "Newcastle", "StateId": 2},
        }
    ]
    created = http.post("/workplaces", json=body)
    assert created.status_code == 201, created.text
    (item,) = created.json()
    data = item["Data"]
    assert data["StreetAddress"]["StateId"] == "2"  # a string, as Wisenet declares it
    assert item["Relationships"]["States"][0]["ShortDescription"] == "NSW"
    workplace_id = data["WorkplaceId"]
    found = http.get("/workplaces", params={"search": "harbour"}).json()
    assert [x["Data"]["WorkplaceId"] for x in found] == [workplace_id]
    put = http.put(
        f"/workplaces/{workplace_id}", json={"Description": "Harbour", "ArchivedFlag": True}
    )
    assert put.json()["Data"]["ArchivedFlag"] is True
    assert http.post("/workplaces", json=[{"Code": "X"}]).status_code == 400
    assert (
        http.post("/workplaces", json=[{"Description": "X", "Email": "e" * 51}]).status_code == 400
    )
    bad_state = {"Description": "X", "StreetAddress": {"StateId": "NSW"}}
    assert http.post("/workplaces", json=[bad_state]).status_code == 400
    assert http.patch(f"/workplaces/{workplace_id}", json=[]).status_code == 405


def test_learner_positions(empty: WisenetSandbox) -> None:
    http = empty.http()
    learner_id = create(http)[0]["Data"]["LearnerId"]
    (workplace,) = http.post("/workplaces", json=[{"Description": "Coastal Aged Care"}]).json()
    workplace_id = workplace["Data"]["WorkplaceId"]
    body = [{"LearnerId": learner_id, "WorkplaceId": workplace_id, "PositionId": 5}]
    created = http.post("/learner-positions", json=body)
    assert created.status_code == 201, created.text
    (item,) = created.json()
    position_id = item["Data"]["LearnerPositionId"]
    assert item["Relationships"]["Learner"]["LearnerId"] == learner_id
    assert item["Relationships"]["Workplace"]["Description"] == "Coastal Aged Care"
    assert item["Relationships"]["Position"]["Code"] == "APP"
    listed = http.get("/learner-positions", params={"learnerIdFilter": learner_id}).json()
    assert [x["Data"]["LearnerPositionId"] for x in listed] == [position_id]
    ended = http.put(
        f"/learner-positions/{position_id}",
        json=body[0] | {"EndDate": "2024-06-30T00:00:00"},
    )
    assert ended.json()["Data"]["EndDate"] == "2024-06-30T00:00:00"
    assert http.delete(f"/learner-positions/{position_id}").status_code == 204
    assert http.get(f"/learner-positions/{position_id}").status_code == 404
    orphan = [{"LearnerId": 1, "WorkplaceId": workplace_id}]
    assert http.post("/learner-positions", json=orphan).status_code == 400


# -- lookups ----------------------------------------------------------------------------------


def test_combos_and_entities(empty: WisenetSandbox) -> None:
    http = empty.http()
    states = http.get("/combos/states").json()
    assert {"Data": model.STATE_IDS[2], "Relationships": {}} in states
    assert [s["Data"]["ShortDescription"] for s in states][:3] == ["NSW", "VIC", "QLD"]
    countries = http.get("/combos/countries").json()
    assert countries[0]["Data"] == {"CountryId": 13, "Code": "1101", "Description": "Australia"}
    for name in ("positions", "workplace-types", "pay-levels", "currencies", "payment-types"):
        assert http.get(f"/combos/{name}").json(), name
    assert http.get("/combos/nope").status_code == 404
    entities = http.get("/entities", params={"take": 2, "skip": 1}).json()
    assert [e["Data"]["EntityName"] for e in entities] == ["CourseEnrolment", "UnitEnrolment"]


# -- fuzzing ----------------------------------------------------------------------------------

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "Personal",
                    "FirstName",
                    "LastName",
                    "StateId",
                    "Quantity",
                    "LearnerId",
                    "op",
                    "path",
                    "value",
                    "StreetAddress",
                    "Description",
                    "LineItems",
                    "x",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=12,
)


@pytest.mark.slow
@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    target=st.sampled_from(
        [
            ("POST", "/learnersAU"),
            ("PUT", "/learnersAU/{id}"),
            ("PATCH", "/learnersAU/{id}"),
            ("PUT", "/learnersAU/{id}/personal"),
            ("PUT", "/invoices/abc"),
            ("POST", "/workplaces"),
            ("POST", "/learner-positions"),
        ]
    ),
    body=_json,
)
def test_no_body_makes_the_sandbox_fail(
    wisenet_sandbox: WisenetSandbox, target: tuple[str, str], body: Any
) -> None:
    method, path = target
    response = wisenet_sandbox.http().request(method, path.replace("{id}", "10468"), json=body)
    assert response.status_code < 500, response.text

"""Xero's ``where`` filter: the documented subset works, anything else is a
QueryParseException in Dynamic LINQ's words, and no input ever breaks the server."""

from __future__ import annotations

import sqlite3

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import XeroSandbox
from learnerledger.sandbox.xero.contacts import resolve_field
from learnerledger.sandbox.xero.errors import ApiError
from learnerledger.sandbox.xero.store import SandboxStore
from learnerledger.sandbox.xero.where import compile_where

PEOPLE = [
    {
        "Name": "Mary O'Brien DAU0000001",
        "FirstName": "Mary",
        "LastName": "O'Brien",
        "ContactNumber": "DAU0000001",
        "EmailAddress": "mary@example.com",
    },
    {
        "Name": 'Bob "The Builder" Jones',
        "FirstName": "Bob",
        "LastName": "Jones",
        "ContactNumber": "DAU0000002",
    },
    {
        "Name": "Jane Jones DAU0000003",
        "FirstName": "Jane",
        "LastName": "Jones",
        "ContactNumber": "DAU0000003",
        "EmailAddress": "jane@bigpond.com",
    },
    {"Name": "Acme Plumbing Pty Ltd", "EmailAddress": "accounts@acme.example"},
]


@pytest.fixture
def people(xero_sandbox: XeroSandbox) -> tuple[httpx.Client, dict[str, str]]:
    http = xero_sandbox.http()
    made = http.put("/Contacts", json={"Contacts": PEOPLE}).json()["Contacts"]
    return http, {c["Name"]: c["ContactID"] for c in made}


def _names(http: httpx.Client, where: str) -> list[str]:
    response = http.get("/Contacts", params={"where": where, "page": 1, "order": "Name"})
    assert response.status_code == 200, response.text
    return [c["Name"] for c in response.json()["Contacts"]]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ('Name=="Mary O\'Brien DAU0000001"', ["Mary O'Brien DAU0000001"]),
        ('Name=="Bob ""The Builder"" Jones"', ['Bob "The Builder" Jones']),
        ('ContactNumber=="DAU0000003"', ["Jane Jones DAU0000003"]),
        ('ContactNumber = "DAU0000003"', ["Jane Jones DAU0000003"]),
        ('LastName!="Jones"', ["Acme Plumbing Pty Ltd", "Mary O'Brien DAU0000001"]),
        ('Name.Contains("Jones")', ['Bob "The Builder" Jones', "Jane Jones DAU0000003"]),
        ('Name.StartsWith("Acme")', ["Acme Plumbing Pty Ltd"]),
        ('EmailAddress.EndsWith("@bigpond.com")', ["Jane Jones DAU0000003"]),
        ('Name.ToLower().Contains("o\'brien")', ["Mary O'Brien DAU0000001"]),
        ('EmailAddress!=null&&EmailAddress.StartsWith("ja")', ["Jane Jones DAU0000003"]),
        ("EmailAddress==null", ['Bob "The Builder" Jones']),
        (
            'FirstName=="Bob" OR FirstName=="Jane"',
            ['Bob "The Builder" Jones', "Jane Jones DAU0000003"],
        ),
        (
            '(FirstName=="Bob" || FirstName=="Mary") AND LastName=="Jones"',
            ['Bob "The Builder" Jones'],
        ),
        ('!(LastName=="Jones")', ["Acme Plumbing Pty Ltd", "Mary O'Brien DAU0000001"]),
        ('ContactStatus=="ACTIVE" AND IsCustomer==false', sorted(p["Name"] for p in PEOPLE)),
        ("UpdatedDateUTC >= DateTime(2020, 01, 01)", sorted(p["Name"] for p in PEOPLE)),
        ("UpdatedDateUTC < DateTime(2020, 1, 1, 0, 0, 0)", []),
        ('name=="jane jones dau0000003"', []),  # values compare case-sensitively
    ],
)
def test_where_filters(
    people: tuple[httpx.Client, dict[str, str]], where: str, expected: list[str]
) -> None:
    http, _ = people
    assert _names(http, where) == expected


def test_guid_comparisons(people: tuple[httpx.Client, dict[str, str]]) -> None:
    http, ids = people
    jane = ids["Jane Jones DAU0000003"]
    assert _names(http, f'ContactID==Guid("{jane}")') == ["Jane Jones DAU0000003"]
    assert _names(http, f'ContactID==GUID("{jane.upper()}")') == ["Jane Jones DAU0000003"]
    assert _names(http, f'ContactID=="{jane}"') == ["Jane Jones DAU0000003"]


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ('Name=="unterminated', "Unterminated string literal"),
        ('Name=="O\\"Brien"', "Unterminated string literal"),  # no backslash escapes
        ('Shoe=="x"', "No property or field 'Shoe' exists in type 'Contact'"),
        ("Name==1", "Operator '==' incompatible with operand types 'String' and 'Decimal'"),
        ('Name.Explode("x")', "No applicable method 'Explode' exists in type 'String'"),
        ("Name", "Expression of type 'Boolean' expected"),
        ("", None),
        ('Name=="a" &&', "Expression expected"),
        ("Name ~ 1", "Syntax error '~'"),
        ('ContactID==Guid("nope")', "Guid should contain 32 digits"),
        ("UpdatedDateUTC > DateTime(2020, 13, 1)", "un-representable DateTime"),
        ("Name==Guid(", "')' expected"),
        ("Name.Contains(", "Expression expected"),
    ],
)
def test_bad_where_is_a_query_parse_exception(
    people: tuple[httpx.Client, dict[str, str]], where: str, message: str | None
) -> None:
    http, _ = people
    response = http.get("/Contacts", params={"where": where, "page": 1})
    if message is None:  # an empty where is no filter at all
        assert response.status_code == 200
        return
    assert response.status_code == 400
    body = response.json()
    assert body["Type"] == "QueryParseException"
    assert body["ErrorNumber"] == 16
    assert message in body["Message"]


@pytest.fixture(scope="module")
def contacts_db(tmp_path_factory: pytest.TempPathFactory) -> sqlite3.Connection:
    store = SandboxStore(tmp_path_factory.mktemp("where") / "x.db")
    return store._conn


_alphabet = st.sampled_from(
    [*'Name=!<>&|().," ', "Contains", "Guid", "null", "true", "AND", "OR", "1", "x", '""', "\\"]
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_alphabet, max_size=14).map("".join) | st.text(max_size=40))
def test_any_where_text_compiles_to_working_sql_or_a_parse_error(
    contacts_db: sqlite3.Connection, text: str
) -> None:
    try:
        sql, params = compile_where(text, resolve_field, "Contact")
    except ApiError as exc:
        status = exc.response.status_code
    else:
        status = 200
        contacts_db.execute(f"SELECT count(*) FROM contacts WHERE {sql}", params).fetchone()
    assert status in (200, 400)


def test_compiled_parameters_line_up_with_placeholders() -> None:
    sql, params = compile_where(
        '"x" != Name && Name.EndsWith("ab") || Name.StartsWith("c")', resolve_field, "Contact"
    )
    assert sql.count("?") == len(params)

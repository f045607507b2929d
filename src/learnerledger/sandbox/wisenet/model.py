"""Wisenet's models as the sandbox enforces them: every declared field (contract §2–§4) with
its JSON type and maximum length, the lookup lists (combos), and the rules for reading a body.

A model is a dict of field name -> ``Field`` or nested model. ``read_body`` checks a client's
JSON against it (400 with the field's dotted name on a wrong type, a value too long, or an
unknown state or country) and drops the server-owned fields; ``expand`` fills every declared
field, ``null`` when unset, for answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from learnerledger.sandbox.wisenet.wire import bad_request, format_ts, parse_ts

__all__ = [
    "COMBOS",
    "COUNTRY_IDS",
    "ENTITIES",
    "INVOICE",
    "LEARNER",
    "PERSONAL",
    "POSITION",
    "STATE_IDS",
    "WORKPLACE",
    "Field",
    "compose_lines",
    "expand",
    "learner_basic",
    "learner_relationships",
    "read_body",
]


@dataclass(frozen=True)
class Field:
    kind: str  # str | int | bool | datetime | money | any | list:<model name>
    max: int | None = None
    server: bool = False  # assigned by the server; ignored in bodies
    item: dict[str, Any] | None = None  # model of list items


Model = dict[str, Any]  # field name -> Field | Model


def _s(n: int | None = None) -> Field:
    return Field("str", n)


_I, _B, _D, _M, _ANY = Field("int"), Field("bool"), Field("datetime"), Field("money"), Field("any")
_SERVER_STR = Field("str", server=True)

_ADDRESS: Model = {
    "BuildingName": _s(50),
    "UnitDetails": _s(30),
    "StreetNumber": _s(15),
    "StreetName": _s(70),
    "ExtraAddressLine": _s(50),
    "SuburbTownCity": _s(50),
    "StateId": _I,
    "Postcode": _s(20),
    "CountryId": _I,
}
STREET_ADDRESS: Model = {**_ADDRESS, "StreetAddress": _SERVER_STR}
POSTAL_ADDRESS: Model = {"PoBox": _s(22), **_ADDRESS, "PostalAddress": _SERVER_STR}
PERMANENT_ADDRESS: Model = {"PoBox": _s(22), **_ADDRESS, "PermanentAddress": _SERVER_STR}

PERSONAL: Model = {
    "LearnerNumber": Field("str", 10, server=True),
    "FirstName": _s(50),
    "MiddleName": _s(50),
    "LastName": _s(),
    "PreferredNamed": _s(),
    "Title": _s(),
    "Suffix": _s(),
    "PreviousName": _s(),
    "DateOfBirth": _D,
    "IsActive": _B,
    "SyncToXero": _B,
    "SyncToSugarCrm": _B,
    "AustralianBusinessNumber": _s(50),
    "TaxFileNumber": _s(11),
    "PhoneNumbers": {
        "PhoneHome": _s(15),
        "PhoneWork": _s(15),
        "FaxHome": _s(15),
        "FaxWork": _s(15),
        "Mobile": _s(20),
    },
    "EmailAddresses": {"Email": _s(80), "AlternativeEmail": _s(80)},
    "StreetAddress": STREET_ADDRESS,
    "PostalAddress": POSTAL_ADDRESS,
    "PermanentAddress": PERMANENT_ADDRESS,
    "WebsiteUrl": _s(100),
    "LearnerAlt1Number": _s(50),
    "LearnerAlt2Number": _s(50),
    "LearnerExportNumber": Field("str", 25, server=True),
    "UniqueStudentIdentifier": _s(10),
    "GeneralNotes": _s(3000),
    "RequestPrivacy": _B,
    "AgeCategoryId": _I,
    "GenderId": _I,
    "TargetGroupId": _I,
    "SurveyStatusId": _I,
    "VaccineStatusId": _I,
    "DriverLicense": _s(50),
    "UsiStatus": _s(50),
    "UsiStatusReason": _s(200),
    "UsiStatusLastModifiedTimestamp": _D,
    "Chessn": _s(10),
    "LearnerUniqueIdentifier": _s(20),
    "SaceId": _s(20),
    "VictorianStudentNumber": _s(9),
    "ApprenticeshipIdentifier": _s(50),
    "HealthcareNumber": _s(20),
    "HealthcareExpiryDate": _D,
    "MedicareNumber": _s(20),
    "MedicareExpiryDate": _D,
    "SpecialRequirements": _s(1000),
    "SaWorkReadyNumber": _s(30),
    "SentToDsdDate": _D,
    "VaccineStatusNotes": _s(1000),
}

LEARNER: Model = {
    "LearnerId": Field("int", server=True),
    "Personal": PERSONAL,
    "Demographics": _ANY,
    "International": _ANY,
    "NextOfKin": _ANY,
    "LearnerAccess": {
        "Username": _s(150),
        "AccessEnabledLearnerApp": _B,
        "AccessEnabledElearning": _B,
        "AccessEnabledKliq": _B,
        "AccessExpiryDate": _D,
        "PasswordForceChange": _B,
    },
    "LastModifiedTimeStamp": Field("datetime", server=True),
    "LearnerGuid": _SERVER_STR,
}

_LINE_ITEM: Model = {
    "ItemCode": _s(),
    "Description": _s(),
    "Quantity": _I,
    "UnitAmount": _M,
    "AccountCode": _s(),
    "TaxType": _s(),
    "TaxAmount": _M,
    "LineAmount": _M,
}
_PAYMENT: Model = {"Type": _s(), "Date": _D, "Amount": _M}
INVOICE: Model = {
    "InvoiceId": _s(),
    "LearnerId": _I,
    "InvoiceNumber": _s(),
    "InvoiceReference": _s(),
    "SourceAppKey": _s(),
    "Status": _s(),
    "Date": _D,
    "DueDate": _D,
    "LineItems": Field("list", item=_LINE_ITEM),
    "AmountTotal": _M,
    "AmountDue": _M,
    "AmountPaid": _M,
    "AmountCredited": _M,
    "UpdateDateUtc": _D,
    "Payments": Field("list", item=_PAYMENT),
}

_WORKPLACE_STATE = Field("state-text", 50)
WORKPLACE: Model = {
    "WorkplaceId": Field("int", server=True),
    "Code": _s(20),
    "Description": _s(150),
    "LegalName": _s(100),
    "ArchivedFlag": _B,
    "Phone": _s(15),
    "Fax": _s(20),
    "Email": _s(50),
    "Website": _s(500),
    "StreetAddress": {
        "BuildingName": _s(50),
        "UnitDetails": _s(30),
        "StreetNumber": _s(15),
        "StreetName": _s(70),
        "AddressLine1": _s(100),
        "ExtraAddressLine": _s(100),
        "Suburb": _s(100),
        "StateId": _WORKPLACE_STATE,
        "Postcode": _s(20),
        "CountryId": _I,
    },
    "PostalAddress": {
        "BuildingName": _s(50),
        "PoBox": _s(22),
        "UnitDetails": _s(30),
        "StreetNumber": _s(15),
        "StreetName": _s(100),
        "AddressLine1": _s(100),
        "ExtraAddressLine": _s(100),
        "SuburbTownCity": _s(70),
        "StateId": Field("state-text", 20),
        "Postcode": _s(20),
        "CountryId": _I,
    },
    "CompanyNumber": _s(255),
    "BusinessNumber": _s(255),
    "SchoolFlag": _B,
    "SchoolTypeId": _I,
    "AnzsicId": _I,
    "GeneralNotes": _s(100),
    "WorkplaceClassificationId": _I,
    "IndustrySizeId": _I,
    "AccreditationTypeId": _I,
    "HeadOfficeWorkplaceId": _I,
    "SyncToSugarCrm": _B,
    "SyncToXero": _B,
    "LocationId": _I,
    "LastModifiedTimeStamp": Field("datetime", server=True),
}

POSITION: Model = {
    "LearnerPositionId": Field("int", server=True),
    "LearnerId": _I,
    "WorkplaceId": _I,
    "PositionId": _I,
    "SalesContactId": _I,
    "WorkplaceTypeId": _I,
    "StartDate": _D,
    "EndDate": _D,
    "SubGroup": _s(50),
    "OrganisationalUnit": _s(50),
    "PayLevelId": _I,
    "LastModifiedTimeStamp": Field("datetime", server=True),
}

# Lookup lists. Ids and codes are the sandbox's own (AVETMISS-style codes); only the shapes
# are Wisenet's (contract §6).
_STATES = [
    (2, "01", "NSW", "New South Wales"),
    (3, "02", "VIC", "Victoria"),
    (4, "03", "QLD", "Queensland"),
    (5, "04", "SA", "South Australia"),
    (6, "05", "WA", "Western Australia"),
    (7, "06", "TAS", "Tasmania"),
    (8, "07", "NT", "Northern Territory"),
    (9, "08", "ACT", "Australian Capital Territory"),
    (10, "99", "OTH", "Other (Australian Territories or Dependencies)"),
]
_COUNTRIES = [
    (13, "1101", "Australia"),
    (14, "1201", "New Zealand"),
    (15, "2100", "United Kingdom, Channels Islands and Isle of Man"),
    (16, "7103", "India"),
    (17, "6101", "China (excludes SARs and Taiwan)"),
    (18, "5204", "Philippines"),
    (19, "5105", "Vietnam"),
    (20, "8104", "United States of America"),
]
COMBOS: dict[str, list[dict[str, Any]]] = {
    "states": [
        {"StateId": i, "Code": c, "ShortDescription": s, "LongDescription": long}
        for i, c, s, long in _STATES
    ],
    "countries": [{"CountryId": i, "Code": c, "Description": d} for i, c, d in _COUNTRIES],
    "nz-countries": [
        {"CountryId": 1, "Code": "NZ", "Description": "New Zealand"},
        {"CountryId": 2, "Code": "AU", "Description": "Australia"},
    ],
    "positions": [
        {"PositionId": i, "IsActive": True, "Code": c, "Description": d}
        for i, c, d in [(1, "EMP", "Employee"), (5, "APP", "Apprentice"), (6, "TRN", "Trainee")]
    ],
    "workplace-types": [
        {"WorkplaceTypeId": i, "Description": d}
        for i, d in [(1, "Employer"), (2, "Host employer"), (3, "Work placement")]
    ],
    "pay-levels": [
        {"PayLevelId": i, "Code": c, "Description": d}
        for i, c, d in [(1, "L1", "Level 1"), (2, "L2", "Level 2"), (3, "L3", "Level 3")]
    ],
    "currencies": [
        {"CurrencyId": 1, "Code": "AUD", "Symbol": "$", "Description": "Australian Dollar"},
        {"CurrencyId": 2, "Code": "NZD", "Symbol": "$", "Description": "New Zealand Dollar"},
    ],
    "payment-types": [
        {"PaymentTypeId": i, "Code": c, "Description": d, "IsActive": True}
        for i, c, d in [(1, "CC", "Credit card"), (2, "EFT", "Bank transfer"), (3, "CASH", "Cash")]
    ],
}
GENDERS = {1: ("M", "Male"), 2: ("F", "Female"), 3: ("X", "Non-binary")}
ENTITIES = [
    {"EntityId": i, "EntityName": n, "DisplayName": d}
    for i, n, d in [
        (1, "Learner", "Learner"),
        (2, "CourseEnrolment", "Course Enrolment"),
        (3, "UnitEnrolment", "Unit Enrolment"),
        (4, "Workplace", "Workplace"),
        (5, "LearnerPosition", "Learner Position"),
        (6, "Invoice", "Invoice"),
    ]
]
STATE_IDS = {row["StateId"]: row for row in COMBOS["states"]}
COUNTRY_IDS = {row["CountryId"]: row for row in COMBOS["countries"]}

_SINGLE_RELATIONSHIPS = (
    "Gender",
    "AgeCategory",
    "TargetGroup",
    "EmploymentStatus",
    "OccupationIdentifier",
    "IndustryOfEmployment",
    "HighestSchoolLevelCompleted",
    "PrimaryLanguage",
    "SpokenEnglishProficiency",
    "IndigenousStatus",
    "PriorEducationFlag",
    "DisabilityFlag",
    "EnglishTestScoreType",
    "SurveyStatus",
    "FhCitizenResident",
    "VisaType",
    "VaccineStatus",
)
_LIST_RELATIONSHIPS = (
    "PriorEducations",
    "PriorEducationTypes",
    "Disabilities",
    "CitizenResidents",
    "Countries",
    "States",
    "NextOfKinRelationships",
)
_PERSONAL_RELATIONSHIPS = ("Gender", "AgeCategory", "TargetGroup", "VaccineStatus")
_ADDRESS_KEYS = ("StreetAddress", "PostalAddress", "PermanentAddress")


def expand(model: Model, data: dict[str, Any] | None) -> dict[str, Any]:
    """Every declared field of ``model``, from ``data`` or ``null``; nested models in full."""
    data = data or {}
    out: dict[str, Any] = {}
    for name, spec in model.items():
        value = data.get(name)
        if isinstance(spec, dict):
            out[name] = expand(spec, value if isinstance(value, dict) else None)
        elif spec.kind == "list" and spec.item is not None:
            out[name] = [expand(spec.item, v) for v in (value or [])]
        else:
            out[name] = value
    return out


class _Reader:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def fail(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def model(self, model: Model, value: Any, path: str) -> dict[str, Any] | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            self.fail(path or "body", "Expected a JSON object.")
            return None
        out: dict[str, Any] = {}
        # Names match without regard to case, as Wisenet's .NET model binder does.
        given = {str(k).casefold(): v for k, v in value.items()}
        for name, spec in model.items():
            raw = given.get(name.casefold())
            where = f"{path}.{name}" if path else name
            if isinstance(spec, dict):
                nested = self.model(spec, raw, where)
                if nested:
                    out[name] = nested
                continue
            if spec.server or raw is None:
                continue
            converted = self.value(spec, raw, where)
            if converted is not None:
                out[name] = converted
        return out

    def value(self, spec: Field, raw: Any, where: str) -> Any:
        name = where.rsplit(".", 1)[-1]
        kind = spec.kind
        if kind == "any":
            return raw
        if kind == "list":
            if not isinstance(raw, list):
                self.fail(where, f"The field {name} must be a JSON array.")
                return None
            assert spec.item is not None
            items = [self.model(spec.item, item, f"{where}[{i}]") for i, item in enumerate(raw)]
            return [item or {} for item in items]
        if kind == "str":
            if not isinstance(raw, str):
                self.fail(where, f"The field {name} must be a string.")
                return None
            if spec.max is not None and len(raw) > spec.max:
                self.fail(
                    where,
                    f"The field {name} must be a string with a maximum length of {spec.max}.",
                )
                return None
            return raw
        if kind == "int":
            number = _as_int(raw)
            if number is None:
                self.fail(where, f"The value '{raw}' is not valid for {name}: a whole number.")
                return None
            if not -(2**31) <= number < 2**31:
                self.fail(where, f"The value '{raw}' is out of range for {name} (int32).")
                return None
            return number
        if kind == "bool":
            if not isinstance(raw, bool):
                self.fail(where, f"The value '{raw}' is not valid for {name}: true or false.")
                return None
            return raw
        if kind == "datetime":
            if not isinstance(raw, str):
                self.fail(where, f"The field {name} must be a date-time string.")
                return None
            try:
                return format_ts(parse_ts(raw))
            except ValueError as exc:
                self.fail(where, str(exc))
                return None
        if kind == "money":
            if isinstance(raw, bool) or not isinstance(raw, int | Decimal | float):
                self.fail(where, f"The value '{raw}' is not valid for {name}: a number.")
                return None
            try:
                amount = Decimal(str(raw))
            except InvalidOperation:
                self.fail(where, f"The value '{raw}' is not valid for {name}: a number.")
                return None
            if (
                not amount.is_finite()
                or len(amount.as_tuple().digits) > 15
                or amount.adjusted() >= 15
                or amount.as_tuple().exponent < -6  # type: ignore[operator]
            ):
                self.fail(where, f"The value '{raw}' is not valid for {name}: 15 digits at most.")
                return None
            return str(amount)
        if kind == "state-text":
            text = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw
            if not isinstance(text, str) or (text.strip() and not text.strip().isdigit()):
                self.fail(where, f"The value '{raw}' is not valid for {name}: a StateId.")
                return None
            if text.strip() and int(text) not in STATE_IDS:
                self.fail(where, f"StateId {text} is not in /combos/states.")
                return None
            return text.strip() or None
        raise AssertionError(f"unknown field kind {kind}")


def read_body(model: Model, value: Any, *, label: str) -> dict[str, Any]:
    """Check a client's JSON object against ``model``; 400 listing every bad field."""
    reader = _Reader()
    out = reader.model(model, value, "")
    if value is None or not isinstance(value, dict):
        raise bad_request(f"The request is invalid: the body must be a JSON object ({label}).")
    if out is not None:
        _check_lookups(out, reader, "")
    if reader.errors:
        raise bad_request("The request is invalid.", reader.errors)
    return out or {}


def _check_lookups(data: dict[str, Any], reader: _Reader, path: str) -> None:
    for key, value in data.items():
        where = f"{path}.{key}" if path else key
        if isinstance(value, dict):
            _check_lookups(value, reader, where)
        elif key == "StateId" and isinstance(value, int) and value not in STATE_IDS:
            reader.fail(where, f"StateId {value} is not in /combos/states.")
        elif key == "CountryId" and isinstance(value, int) and value not in COUNTRY_IDS:
            reader.fail(where, f"CountryId {value} is not in /combos/countries.")


def compose_lines(personal: dict[str, Any]) -> None:
    """Fill the read-only address lines the server composes (contract §2.3, our choice)."""
    for key in _ADDRESS_KEYS:
        address = personal.get(key)
        if not isinstance(address, dict):
            continue
        address[key] = _line(address)


def _line(address: dict[str, Any]) -> str | None:
    box = (address.get("PoBox") or "").strip()
    if box:
        return f"PO Box {box}"
    number = (address.get("StreetNumber") or "").strip()
    street = (address.get("StreetName") or "").strip()
    unit = (address.get("UnitDetails") or "").strip()
    if unit and number:
        number = f"{unit}/{number}"
    elif unit:
        number = unit
    line = " ".join(p for p in (number, street) if p)
    return line or None


def learner_basic(data: dict[str, Any]) -> dict[str, Any]:
    personal = data.get("Personal") or {}
    access = data.get("LearnerAccess") or {}
    return {
        "LearnerId": data.get("LearnerId"),
        "FirstName": personal.get("FirstName"),
        "InformalName": personal.get("PreferredNamed"),
        "LastName": personal.get("LastName"),
        "LearnerNumber": personal.get("LearnerNumber"),
        "Email": (personal.get("EmailAddresses") or {}).get("Email"),
        "DateOfBirth": personal.get("DateOfBirth"),
        "IsActive": personal.get("IsActive"),
        "UniqueStudentIdentifier": personal.get("UniqueStudentIdentifier"),
        "Username": access.get("Username"),
        "Mobile": (personal.get("PhoneNumbers") or {}).get("Mobile"),
    }


def _lookups(personal: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    state_ids: list[int] = []
    country_ids: list[int] = []
    for key in _ADDRESS_KEYS:
        address = personal.get(key) or {}
        state, country = address.get("StateId"), address.get("CountryId")
        if isinstance(state, int) and state in STATE_IDS and state not in state_ids:
            state_ids.append(state)
        if isinstance(country, int) and country in COUNTRY_IDS and country not in country_ids:
            country_ids.append(country)
    return [STATE_IDS[i] for i in state_ids], [COUNTRY_IDS[i] for i in country_ids]


def _gender(personal: dict[str, Any]) -> dict[str, Any] | None:
    gender = GENDERS.get(personal.get("GenderId") or 0)
    if gender is None:
        return None
    return {"GenderId": personal["GenderId"], "Code": gender[0], "Description": gender[1]}


def learner_relationships(personal: dict[str, Any], *, personal_only: bool = False) -> Model:
    states, countries = _lookups(personal)
    singles = _PERSONAL_RELATIONSHIPS if personal_only else _SINGLE_RELATIONSHIPS
    out: dict[str, Any] = dict.fromkeys(singles)
    out["Gender"] = _gender(personal)
    if personal_only:
        out["Countries"], out["States"] = countries, states
        return out
    for key in _LIST_RELATIONSHIPS:
        out[key] = []
    out["Countries"], out["States"] = countries, states
    return out


def workplace_state_ids(data: dict[str, Any]) -> list[int]:
    found: list[int] = []
    for key in ("StreetAddress", "PostalAddress"):
        value = (data.get(key) or {}).get("StateId")
        if isinstance(value, str) and value.isdigit() and int(value) not in found:
            found.append(int(value))
    return found


def _as_int(raw: Any) -> int | None:
    """A JSON number that is a whole number (``3`` or ``3.0``), else None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float | Decimal):
        value = Decimal(str(raw)) if isinstance(raw, float) else raw
        if not value.is_finite() or value.adjusted() > 12 or value != value.to_integral_value():
            return None
        return int(value)
    return None

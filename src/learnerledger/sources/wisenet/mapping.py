"""Wisenet's learner JSON as ``Learner`` values: StateId and CountryId lookups, street and
postal addresses, phone numbers, and timestamps read in the configured zone."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from learnerledger.domain.learner import Address, Learner
from learnerledger.errors import SourceError
from learnerledger.sources.fields import normalise_phone, parse_timestamp
from learnerledger.sources.wisenet.client import WisenetClient

__all__ = ["Lookups", "UnusableRecord", "item_learner_id", "learner_from_item", "resolve_zone"]


class UnusableRecord(ValueError):
    """A Wisenet record that cannot be used at all. ``code`` is stable (``not_an_object``,
    ``no_data``, ``ref_missing``, ``ref_too_long``), ``field`` the field at fault, if one
    is; the message says what to do."""

    def __init__(self, code: str, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.field = field


def resolve_zone(name: str) -> tzinfo:
    """The zone Wisenet's offset-less timestamps are read in (setting ``wisenet_timezone``)."""
    if name.strip().upper() in ("UTC", "Z", ""):
        return UTC
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise SourceError(
            f"{name!r} is not a time zone name.",
            fix="Set wisenet_timezone to a name such as UTC or Australia/Sydney.",
        ) from None


# -- learners --------------------------------------------------------------------------------


class Lookups:
    """StateId and CountryId resolved through the rows each learner's Relationships carry and,
    for any id they do not include, the combos (fetched at most once per pull)."""

    def __init__(self, client: WisenetClient) -> None:
        self.client = client
        self.states: dict[int, str] = {}
        self.countries: dict[int, str] = {}
        self._fetched = False

    def learn(self, relationships: Any) -> None:
        if not isinstance(relationships, dict):
            return
        for row in relationships.get("States") or []:
            if isinstance(row, dict) and isinstance(row.get("StateId"), int):
                self.states[row["StateId"]] = str(row.get("ShortDescription") or "")
        for row in relationships.get("Countries") or []:
            if isinstance(row, dict) and isinstance(row.get("CountryId"), int):
                self.countries[row["CountryId"]] = str(row.get("Description") or "")

    def _fetch(self) -> None:
        if self._fetched:
            return
        self._fetched = True
        self.learn(
            {"States": self.client.combo("states"), "Countries": self.client.combo("countries")}
        )

    def state(self, state_id: int) -> str | None:
        if state_id not in self.states:
            self._fetch()
        return self.states.get(state_id)

    def country(self, country_id: int) -> str | None:
        if country_id not in self.countries:
            self._fetch()
        return self.countries.get(country_id)


def _text(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def _street_line(address: Mapping[str, Any], read_only: str) -> str:
    line = _text(address.get(read_only))
    if not line:
        box = _text(address.get("PoBox"))
        number = _text(address.get("StreetNumber"))
        unit = _text(address.get("UnitDetails"))
        if unit and number:
            number = f"{unit}/{number}"
        line = (
            f"PO Box {box}"
            if box
            else " ".join(p for p in (number or unit, _text(address.get("StreetName"))) if p)
        )
    extras = [_text(address.get("BuildingName")), line, _text(address.get("ExtraAddressLine"))]
    return ", ".join(p for p in extras if p)


def _address(
    value: Any, read_only: str, label: str, lookups: Lookups, warnings: list[str]
) -> Address:
    if not isinstance(value, dict):
        return Address()
    state = ""
    state_id = value.get("StateId")
    if isinstance(state_id, int):
        found = lookups.state(state_id)
        if found is None:
            warnings.append(
                f"The {label} address's StateId {state_id} is not in Wisenet's state list; "
                "choose the state again in Wisenet."
            )
        else:
            state = found
    country = ""
    country_id = value.get("CountryId")
    if isinstance(country_id, int):
        found = lookups.country(country_id)
        if found is None:
            warnings.append(
                f"The {label} address's CountryId {country_id} is not in Wisenet's country "
                "list; choose the country again in Wisenet."
            )
        else:
            country = found
    # Clipped to the learner table's columns; Wisenet's own limits are well inside them.
    return Address(
        line=_street_line(value, read_only)[:500],
        suburb=_text(value.get("SuburbTownCity"))[:255],
        state=state[:50],
        postcode=_text(value.get("Postcode")).replace(" ", "")[:20],
        country=country[:100],
    )


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def item_learner_id(item: Any) -> int | None:
    data = item.get("Data", item) if isinstance(item, dict) else None
    value = data.get("LearnerId") if isinstance(data, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def learner_from_item(
    item: Any, lookups: Lookups, *, region: str = "AU", zone: tzinfo = UTC
) -> Learner:
    """A ``LearnerAuItem`` (or a bare ``LearnerAu``) as a Learner. Raises
    :class:`UnusableRecord` (a ``ValueError``), its message phrased as a fix, when the record
    cannot be used at all."""
    if not isinstance(item, dict):
        raise UnusableRecord(
            "not_an_object", "The record is not a JSON object; Wisenet sent something unexpected."
        )
    data = item.get("Data", item)
    if not isinstance(data, dict):
        raise UnusableRecord(
            "no_data", "The record has no Data object; Wisenet sent something unexpected."
        )
    lookups.learn(item.get("Relationships"))
    personal = _obj(data.get("Personal"))
    ref = _text(personal.get("LearnerNumber"))
    if not ref:
        raise UnusableRecord(
            "ref_missing",
            "It has no LearnerNumber (RefInternal). Give the learner one in Wisenet.",
            field="LearnerNumber",
        )
    if len(ref) > 50:
        raise UnusableRecord(
            "ref_too_long",
            f"Its LearnerNumber {ref!r} is longer than 50 characters.",
            field="LearnerNumber",
        )
    warnings: list[str] = []
    phones = _obj(personal.get("PhoneNumbers"))
    numbers = {}
    for name in ("Mobile", "PhoneHome", "PhoneWork"):
        value, warning = normalise_phone(_text(phones.get(name)), region, name)
        numbers[name] = value[:50]
        if warning:
            warnings.append(warning)
    born: date | None = None
    raw_birth = _text(personal.get("DateOfBirth"))
    if raw_birth:
        try:
            born = date.fromisoformat(raw_birth[:10])
        except ValueError:
            warnings.append(f"DateOfBirth {raw_birth!r} is not a date; it was left out.")
    modified: datetime | None = None
    raw_modified = _text(data.get("LastModifiedTimeStamp"))
    if raw_modified:
        try:
            modified = parse_timestamp(raw_modified, zone)
        except ValueError:
            warnings.append(f"LastModifiedTimeStamp {raw_modified!r} is not a date-time.")
    emails = _obj(personal.get("EmailAddresses"))
    learner_id = item_learner_id(item)
    return Learner(
        ref_internal=ref,
        first_name=_text(personal.get("FirstName"))[:255],
        last_name=_text(personal.get("LastName"))[:255],
        preferred_name=_text(personal.get("PreferredNamed"))[:255],
        email=_text(emails.get("Email"))[:255],
        mobile=numbers["Mobile"],
        phone_home=numbers["PhoneHome"],
        phone_work=numbers["PhoneWork"],
        date_of_birth=born,
        street=_address(
            personal.get("StreetAddress"), "StreetAddress", "street", lookups, warnings
        ),
        postal=_address(
            personal.get("PostalAddress"), "PostalAddress", "postal", lookups, warnings
        ),
        sync_to_xero=personal.get("SyncToXero") is True,
        source="wisenet",
        source_id=str(learner_id) if learner_id is not None else None,
        source_modified=modified,
        warnings=tuple(warnings),
    )

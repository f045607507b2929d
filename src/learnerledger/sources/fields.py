"""Field normalisation shared by every learner source: phone numbers, dates, states,
countries and postcodes, each turned into the one form the store keeps.

Functions that can refuse a value raise ``FieldProblem`` whose message says what is wrong and
how to write it instead; the CSV import turns that into a rejection naming line and column.
"""

from __future__ import annotations

import re
from datetime import date, datetime, tzinfo
from functools import lru_cache

import phonenumbers

__all__ = [
    "AU_STATES",
    "FieldProblem",
    "check_birth_date",
    "is_australian",
    "normalise_country",
    "normalise_phone",
    "normalise_postcode",
    "normalise_state",
    "parse_date",
    "parse_timestamp",
]


class FieldProblem(ValueError):
    """A value that cannot be used; ``str()`` is the message, phrased with its fix."""


AU_STATES: dict[str, str] = {
    "NSW": "New South Wales",
    "VIC": "Victoria",
    "QLD": "Queensland",
    "SA": "South Australia",
    "WA": "Western Australia",
    "TAS": "Tasmania",
    "NT": "Northern Territory",
    "ACT": "Australian Capital Territory",
    "OTH": "Other Australian Territory",
}
_STATE_LOOKUP = {code.casefold(): code for code in AU_STATES} | {
    name.casefold(): code for code, name in AU_STATES.items()
}
_STATE_LOOKUP |= {"vic.": "VIC", "qld.": "QLD", "tas.": "TAS", "queensland.": "QLD"}
_AUSTRALIA = {"au", "aus", "australia", "1101"}

_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]00:00(?::00(?:\.0+)?)?(?:Z)?)?$")
_AU_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_DATE_FIX = "Write it as dd/mm/yyyy (e.g. 14/08/1996) or yyyy-mm-dd (e.g. 1996-08-14)."
_EARLIEST_BIRTH = date(1900, 1, 1)


def is_australian(country: str) -> bool:
    return not country.strip() or country.strip().casefold() in _AUSTRALIA


def normalise_country(text: str) -> str:
    """``AU``, ``AUS`` and ``Australia`` (any case) become ``Australia``; others stay as typed."""
    text = " ".join(text.split())
    return "Australia" if text.casefold() in _AUSTRALIA else text


def normalise_state(text: str, country: str) -> str:
    """An Australian state as its short form (``NSW``); other countries' regions as typed."""
    text = " ".join(text.split())
    if not text or not is_australian(country):
        return text
    code = _STATE_LOOKUP.get(text.casefold())
    if code is None:
        raise FieldProblem(
            f"{text!r} is not an Australian state or territory. Write one of "
            + ", ".join(AU_STATES)
            + " (or its full name), or fill in the country if the address is not in Australia."
        )
    return code


def normalise_postcode(text: str, country: str) -> tuple[str, str | None]:
    """The postcode as text (leading zeros kept). Returns the value and a warning, if any.

    A spreadsheet that treated an Australian postcode as a number drops its leading zero
    (0800 becomes 800): three digits in Australia are padded back, with a warning.
    """
    text = "".join(text.split()) if is_australian(country) else " ".join(text.split())
    if not text or not is_australian(country):
        return text, None
    if not text.isdigit() or not 3 <= len(text) <= 4:
        raise FieldProblem(
            f"{text!r} is not an Australian postcode. Write the four digits (e.g. 2150 or "
            "0800), or fill in the country if the address is not in Australia."
        )
    if len(text) == 3:
        return "0" + text, (
            f"Postcode {text} was stored as 0{text}: a spreadsheet had dropped its leading zero."
        )
    return text, None


_AU_SEPARATORS = re.compile(r"[\s().-]")
_AU_NATIONAL = re.compile(r"0[2-578]\d{8}")
_AU_INTERNATIONAL = re.compile(r"\+61[2-578]\d{8}")


@lru_cache(maxsize=8)
def _region_ok(region: str) -> bool:
    return region in phonenumbers.SUPPORTED_REGIONS


def normalise_phone(text: str, region: str, label: str) -> tuple[str, str | None]:
    """E.164 (``+61412345678``) when the number can be read as a valid number; otherwise the
    text as typed (whitespace tidied) and a warning that says so. ``region`` is the default
    for numbers written without a country code (``AU``)."""
    text = " ".join(text.split())
    if not text:
        return "", None
    if region == "AU":
        # Nearly every Australian number is typed in one of a few shapes; answering those
        # directly gives what the general path below gives, several times faster.
        compact = _AU_SEPARATORS.sub("", text)
        if _AU_NATIONAL.fullmatch(compact):
            return "+61" + compact[1:], None
        if _AU_INTERNATIONAL.fullmatch(compact):
            return compact, None
    return _normalise_phone(text, region, label)


def _normalise_phone(text: str, region: str, label: str) -> tuple[str, str | None]:
    """The general path of ``normalise_phone``, through libphonenumber."""
    try:
        number = phonenumbers.parse(text, region if _region_ok(region) else None)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and number.extension:
        return text, f"{label} {text!r} has an extension, which E.164 cannot hold; kept as typed."
    # A number as long as its country's mobile or landline numbers is written E.164 even when
    # its range is not in libphonenumber's allocation tables (new ranges, made-up test data);
    # a local number without its area code is not, because the area cannot be guessed.
    if number is not None and (
        phonenumbers.is_valid_number(number)
        or len(str(number.national_number)) in _full_lengths(number.country_code)
    ):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None
    return text, (
        f"{label} {text!r} is not a complete phone number (a landline needs its area code); "
        "it was kept as typed."
    )


@lru_cache(maxsize=64)
def _full_lengths(country_code: int) -> frozenset[int]:
    lengths = set()
    region = phonenumbers.region_code_for_country_code(country_code)
    for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
        example = phonenumbers.example_number_for_type(region, kind)
        if example is not None:
            lengths.add(len(str(example.national_number)))
    return frozenset(lengths)


def parse_date(text: str) -> date:
    """A date written dd/mm/yyyy (also with - or .), or ISO yyyy-mm-dd (a midnight time is
    allowed, as Wisenet writes dates of birth). Two-digit years are refused as ambiguous."""
    text = text.strip()
    iso = _ISO_DATE.match(text)
    au = None if iso else _AU_DATE.match(text)
    if iso:
        year, month, day = (int(g) for g in iso.groups())
    elif au:
        day, month, year = (int(g) for g in au.groups())
    else:
        raise FieldProblem(f"{text!r} is not a date. {_DATE_FIX}")
    try:
        value = date(year, month, day)
    except ValueError:
        raise FieldProblem(f"{text!r} is not a date in the calendar. {_DATE_FIX}") from None
    return value


def check_birth_date(value: date, today: date) -> None:
    if value > today:
        raise FieldProblem(f"{value:%d/%m/%Y} is in the future. Correct the date of birth.")
    if value < _EARLIEST_BIRTH:
        raise FieldProblem(f"{value:%d/%m/%Y} is before 1900. Correct the date of birth.")


def parse_timestamp(text: str, zone: tzinfo) -> datetime:
    """Parse Wisenet's ``YYYY-MM-DDTHH:MM:SS[.fff][offset]``; a value without an offset is
    taken to be in ``zone``. Raises ``ValueError`` for anything else."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)

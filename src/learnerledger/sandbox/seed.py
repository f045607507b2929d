"""Deterministic demo data for the sandboxes: the people of "Demo Training Co".

``demo_people`` makes the learners as a student management system holds them; ``legacy_contacts``
makes the contacts the finance team typed into Xero by hand before any integration existed, with
the duplicates a duplicate finder has to catch and each contact's ground truth (``person_ref``).
Both depend only on their arguments: every draw comes from ``random.Random`` instances seeded with
a string (string seeding and ``Random.random()`` are what Python promises to keep stable across
versions), every weight is an integer, and nothing reads the clock. docs/seed.md has the numbers.
The word lists they draw from (names, places, e-mail domains, business names) are the package's
data files, ``sandbox/data/*.txt``.
"""

from __future__ import annotations

import bisect
import itertools
import random
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from importlib import resources
from operator import attrgetter
from typing import Any, Generic, TypeVar

__all__ = ["Address", "LegacyContact", "Person", "demo_people", "legacy_contacts", "seed_summary"]

_LEARNERS_AT_SCALE_1 = 600
_MAX_SCALE = 1000.0  # 600,000 learners; RefInternal keeps its 7 digits well beyond that
_HISTORY_SECONDS = 3 * 365 * 86_400  # modified / updated moments fall within this before `today`
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


@dataclass(frozen=True)
class Address:
    """An Australian address; ``state`` or ``postcode`` is "" where the record is incomplete."""

    line1: str
    suburb: str
    state: str
    postcode: str
    country: str = "Australia"


@dataclass(frozen=True)
class Person:
    """One learner as the student management system holds it."""

    ref_internal: str
    learner_id: int
    first_name: str
    last_name: str
    preferred_name: str
    middle_name: str
    title: str
    gender: str
    email: str
    mobile: str
    phone_home: str
    phone_work: str
    date_of_birth: date | None
    street: Address | None
    postal: Address | None
    sync_to_xero: bool
    family_id: int | None
    modified_utc: datetime


@dataclass(frozen=True)
class LegacyContact:
    """A contact typed into Xero by hand, with the ground truth of who it really is."""

    key: str
    contact: dict[str, Any]
    person_ref: str | None
    kind: str
    variant: str
    updated_utc: datetime


# The word lists: sandbox/data/*.txt, whose header says how they are written.
_DATA_FILES = ("people.txt", "places.txt", "contacts.txt")


def _parse(text: str) -> dict[str, tuple[str, ...]]:
    lists: dict[str, list[str]] = {}
    key = ""
    for line in text.strip().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if not line[0].isspace():
            key, _, line = line.partition(":")
            lists[key] = []
        lists[key].extend(item.strip() for item in line.split(",") if item.strip())
    return {key: tuple(items) for key, items in lists.items()}


def _load() -> dict[str, tuple[str, ...]]:
    data = resources.files("learnerledger.sandbox").joinpath("data")
    lists: dict[str, tuple[str, ...]] = {}
    for name in _DATA_FILES:
        found = _parse(data.joinpath(name).read_text(encoding="utf-8"))
        if lists.keys() & found.keys():
            raise ValueError(f"sandbox/data/{name} repeats a list of another file")
        lists |= found
    return lists


def _pairs(key: str) -> dict[str, str]:
    return {name: value for name, _, value in (item.partition("=") for item in _D[key])}


_D = _load()
_T = TypeVar("_T")


class _Table(Generic[_T]):
    """Items with integer weights, drawn by bisecting the cumulative weights."""

    __slots__ = ("cum", "items", "total")

    def __init__(self, pairs: Sequence[tuple[_T, int]]) -> None:
        self.items = tuple(item for item, _ in pairs)
        cum: list[int] = []
        for _, weight in pairs:
            cum.append(weight + (cum[-1] if cum else 0))
        self.cum = tuple(cum)
        self.total = cum[-1]


def _weighted(key: str) -> _Table[str]:
    pairs = [item.rpartition(" ")[::2] for item in _D[key]]
    return _Table([("" if item == "-" else item, int(weight)) for item, weight in pairs])


def _ranked(names: Sequence[str]) -> _Table[str]:
    """Names listed most common first get a Zipf-like weight (integers only)."""
    return _Table([(name, 1000 // (rank + 20)) for rank, name in enumerate(names)])


class _Rng:
    """The only source of randomness: every draw goes through ``Random.random()``."""

    __slots__ = ("_random",)

    def __init__(self, seed: int, stream: str) -> None:
        self._random = random.Random(f"learnerledger.seed/{stream}/{seed}").random

    def chance(self, p: float) -> bool:
        return self._random() < p

    def below(self, n: int) -> int:
        return int(self._random() * n)

    def pick(self, seq: Sequence[_T]) -> _T:
        return seq[int(self._random() * len(seq))]

    def weighted(self, table: _Table[_T]) -> _T:
        i = bisect.bisect_right(table.cum, self._random() * table.total)
        return table.items[min(i, len(table.items) - 1)]

    def digits(self, k: int) -> str:
        return f"{self.below(10**k):0{k}d}"  # k <= 15: a double has 53 bits

    def moment(self, end: datetime) -> datetime:
        return end - timedelta(seconds=1 + self.below(_HISTORY_SECONDS - 1))


@dataclass(frozen=True)
class _Group:
    name: str
    surnames: _Table[str]
    male: _Table[str]
    female: _Table[str]
    own_first: float  # share of first names from the group's own list (the rest: Anglo names)

    def first_names(self, gender: str) -> _Table[str]:
        return self.female if gender == "F" else self.male


def _groups() -> tuple[dict[str, _Group], _Table[_Group]]:
    groups: dict[str, _Group] = {}
    weights: list[tuple[_Group, int]] = []
    for entry in _D["groups"]:
        name, weight, own = entry.split()
        surnames, male, female = (
            _ranked(_D[f"{name}.{part}"]) for part in ("surnames", "male", "female")
        )
        groups[name] = _Group(name, surnames, male, female, int(own) / 100)
        weights.append((groups[name], int(weight)))
    return groups, _Table(weights)


_GROUPS, _GROUP_TABLE = _groups()
_ANGLO = _GROUPS["anglo"]
_ASIAN_GROUPS = frozenset({"chinese", "vietnamese", "korean"})
_NICKNAMES = {name: tuple(nicks.split("/")) for name, nicks in _pairs("nicknames").items()}


def _first_by_initial() -> dict[tuple[str, str], tuple[str, ...]]:
    """First names by (gender, initial), for unrelated people who look like a learner."""
    pools: dict[tuple[str, str], dict[str, None]] = {}
    for group in _GROUPS.values():
        for gender in "MF":
            for first in group.first_names(gender).items:
                pools.setdefault((gender, first[0]), {})[first] = None
    return {key: tuple(pool) for key, pool in pools.items()}


_FIRST_BY_INITIAL = _first_by_initial()

_SUBURBS = {
    state: tuple(tuple(entry.rsplit(" ", 1)) for entry in _D[state])
    for state in _pairs("state.names")
}
_STATE_TABLE = _weighted("states")
_STATE_NAMES = _pairs("state.names")
_STATE_PHONES = {state: tuple(spec.split()) for state, spec in _pairs("state.phones").items()}
_STREET_TYPE_TABLE = _ranked(list(_pairs("street.types")))
_RETYPE = _pairs("street.types") | {abbr: full for full, abbr in _pairs("street.types").items()}
_DOMAINS, _FAMILY_DOMAINS = _weighted("domains"), _weighted("domains.family")
_GENDERS, _AGES = _weighted("genders"), _weighted("ages")
_TITLES = {gender: _weighted(f"titles.{gender}") for gender in "MFX"}
_PERSON_VARIANTS, _UNRELATED_VARIANTS = (
    _weighted("variants.person"),
    _weighted("variants.unrelated"),
)
_SUFFIXES, _MAILBOXES = _weighted("business.suffixes"), _weighted("business.mailboxes")
_KEY_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_FOLD = str.maketrans({"ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ß": "ss", "đ": "d", "ł": "l"})
_ADDRESS_LIMITS = {"AddressLine1": 500, "PostalCode": 50, "Country": 50}


@lru_cache(maxsize=4096)
def _ascii(text: str) -> str:
    """Lower-case ASCII letters and digits only, the way people spell names in e-mail addresses."""
    folded = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(c for c in folded.lower() if c.isascii() and c.isalnum())


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rstrip()


def _name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def _is_email(text: str) -> bool:
    return bool(_EMAIL.match(text))


# ---------------------------------------------------------------------------------------------
# Learners


@dataclass(slots=True)
class _Draft:
    """The parts of a learner that a household shares, still mutable while people are added."""

    group: _Group
    last: str
    email: str
    street: Address | None
    postal: Address | None
    phone_home: str
    family_id: int | None = None


def _people_count(scale: float) -> int:
    if not 0 <= scale <= _MAX_SCALE:
        raise ValueError(f"scale must be between 0 and {_MAX_SCALE:g}, got {scale!r}")
    return round(_LEARNERS_AT_SCALE_1 * scale)


def _namesakes(rng: _Rng, count: int) -> dict[int, tuple[_Group, str, str, str]]:
    """Where the deliberate namesakes go: a few per 600 learners, and a pair even in tiny sets."""
    plan: list[tuple[str, ...]] = []
    budget = max(2, count // 4) if count >= 2 else 0
    specs = [entry.split() for entry in _D["namesakes"]]
    for *who, n in specs:
        take = min(int(n), budget - len(plan))
        plan.extend([tuple(who)] * (take if take >= 2 else 0))
    for extra in range(max(0, count // _LEARNERS_AT_SCALE_1 - 1)):
        plan.extend([tuple(specs[extra % len(specs)][:4])] * 2)
    where: dict[int, tuple[_Group, str, str, str]] = {}
    for group, first, last, gender in plan:
        index = rng.below(count)
        while index in where:
            index = rng.below(count)
        where[index] = (_GROUPS[group], first, last, gender)
    return where


def _draw_name(rng: _Rng, group: _Group, gender: str) -> tuple[str, str]:
    names = group if rng.chance(group.own_first) else _ANGLO
    first = rng.weighted(names.first_names(rng.pick("MF") if gender == "X" else gender))
    last = rng.weighted(group.surnames)
    if last == "Kaur" and gender == "M":
        last = "Singh"
    if group.name in ("anglo", "european") and rng.chance(0.03):
        other = rng.weighted(_ANGLO.surnames)
        last = last if other == last or "-" in last + other else f"{last}-{other}"
    return first, last


def _birth_date(rng: _Rng, today: date) -> date:
    low, high = map(int, rng.weighted(_AGES).split("-"))
    days = (low + rng.below(high - low + 1)) * 36525 // 100 + rng.below(365)
    return date.fromordinal(today.toordinal() - days)


def _street_line(rng: _Rng) -> str:
    full = rng.weighted(_STREET_TYPE_TABLE)
    kind = full if rng.chance(0.55) else _RETYPE[full]
    return f"{1 + min(rng.below(300), rng.below(300))} {rng.pick(_D['streets'])} {kind}"


def _street_address(rng: _Rng, state: str = "") -> Address:
    state = state or rng.weighted(_STATE_TABLE)
    suburb, postcode = rng.pick(_SUBURBS[state])
    line = _street_line(rng)
    if rng.chance(0.15):
        unit = 1 + rng.below(30)
        line = rng.pick((f"{unit}/{line}", f"Unit {unit}, {line}", f"Unit {unit}/{line}"))
    return Address(line, suburb, state, postcode)


def _addresses(rng: _Rng) -> tuple[Address | None, Address | None]:
    if rng.chance(0.06):
        return None, None
    street = _street_address(rng)
    roll = rng.below(100)
    postal: Address | None = None
    if 65 <= roll < 85:
        postal = street
    elif 85 <= roll < 95:
        box = f"{rng.pick(('PO Box', 'P.O. Box', 'PO BOX'))} {1 + rng.below(4000)}"
        postal = replace(street, line1=box)
    elif roll >= 95:
        postal = _street_address(rng)
    if rng.chance(0.025):  # incomplete records: no state, no postcode, or neither
        gap = rng.below(5)
        state, postcode = ("" if gap < 3 else street.state), ("" if gap >= 2 else street.postcode)
        street = replace(street, state=state, postcode=postcode)
    return street, postal


def _mobile(rng: _Rng) -> str:
    n = "04" + rng.digits(8)
    style = rng.below(100)
    if style < 50:
        return f"{n[:4]} {n[4:7]} {n[7:]}"
    if style < 85:
        return n
    return f"+61 {n[1:4]} {n[4:7]} {n[7:]}" if style < 95 else "+61" + n[1:]


def _landline(rng: _Rng, state: str) -> str:
    area, leads = _STATE_PHONES.get(state, ("02", "9"))
    local = rng.pick(leads) + rng.digits(7)
    style = rng.below(100)
    if style < 55:
        return f"({area}) {local[:4]} {local[4:]}"
    if style < 80:
        return f"{area} {local[:4]} {local[4:]}"
    return f"{local[:4]} {local[4:]}" if style < 95 else area + local


def _unique_email(rng: _Rng, local: str, domain: str, used: set[str]) -> str:
    email = f"{local}@{domain}"
    while email in used:
        email = f"{local}{rng.digits(2)}@{domain}"
    used.add(email)
    return email


def _personal_email(rng: _Rng, first: str, last: str, born: date | None, used: set[str]) -> str:
    f, s = _ascii(first) or "x", _ascii(last) or "x"
    year = str(born.year) if born else "19" + rng.digits(2)
    forms = [f"{f}.{s}", f + s, f"{f}.{s}{rng.digits(2)}", f[0] + s, f"{f}_{s}", f + year[-2:]]
    forms += [f"{s}.{f}", f"{f}.{s}{year}", f"{f}{s[0]}{rng.digits(3)}"]
    local = forms[bisect.bisect_right((35, 45, 60, 70, 75, 83, 88, 95), rng.below(100))]
    return _unique_email(rng, local, rng.weighted(_DOMAINS), used)


def _family_email(rng: _Rng, last: str, used: set[str]) -> str:
    """A household's address, such as the.jones.family@bigpond.com or a parent's own."""
    s = _ascii(last) or "home"
    parent = _ascii(rng.weighted(_ANGLO.first_names(rng.pick("MF"))))
    local = rng.pick((f"the.{s}.family", f"{s}family{rng.digits(2)}", f"{parent}.{s}"))
    return _unique_email(rng, local, rng.weighted(_FAMILY_DOMAINS), used)


def demo_people(
    seed: int = 1, scale: float = 1.0, *, today: date = date(2026, 11, 1)
) -> list[Person]:
    """The learners of Demo Training Co: ``round(600 * scale)`` people, identical for equal args."""
    count = _people_count(scale)
    rng = _Rng(seed, "people")
    namesakes = _namesakes(rng, count)
    births: dict[tuple[str, str], set[date]] = {}
    end = datetime.combine(today, time(), tzinfo=UTC)
    used_emails: set[str] = set()
    households: dict[int, list[_Draft]] = {}
    shared_emails: dict[int, str] = {}
    drafts: list[_Draft] = []
    people: list[Person] = []
    ref_number, learner_id = 40 + rng.below(30), 10_000 + rng.below(500)
    for index in range(count):
        ref_number += 1 if rng.chance(0.88) else 2 + rng.below(15)
        learner_id += 1 + rng.below(4)
        anchor: _Draft | None = None
        if index not in namesakes and drafts and rng.chance(0.08):
            anchor = drafts[-1 - rng.below(min(len(drafts), 400))]
            if anchor.family_id and len(households[anchor.family_id]) >= 4:
                anchor = None
        born: date | None = None
        if index in namesakes:  # namesakes always differ in their date of birth
            group, first, last, gender = namesakes[index]
            seen = births.setdefault((first, last), set())
            while born is None or born in seen:
                born = _birth_date(rng, today)
            seen.add(born)
        else:
            group = anchor.group if anchor else rng.weighted(_GROUP_TABLE)
            gender = rng.weighted(_GENDERS)
            first, last = _draw_name(rng, group, gender)
            last = anchor.last if anchor and rng.chance(0.85) else last
            born = _birth_date(rng, today) if rng.chance(0.97) else None
        middle = rng.weighted(group.first_names(gender)) if rng.chance(0.3) else ""
        preferred = ""
        if first in _NICKNAMES and rng.chance(0.35):
            preferred = rng.pick(_NICKNAMES[first])
        elif group.name in _ASIAN_GROUPS and rng.chance(0.25):
            preferred = rng.pick(_D["english.F" if gender == "F" else "english.M"])
        if anchor and rng.chance(0.95):
            street, postal = anchor.street, anchor.postal
        else:
            street, postal = _addresses(rng)
        state = street.state if street and street.state else rng.weighted(_STATE_TABLE)
        mobile = _mobile(rng) if rng.chance(0.88) else ""
        phone_home = _landline(rng, state) if rng.chance(0.22) else ""
        phone_home = anchor.phone_home if anchor and anchor.phone_home else phone_home
        phone_work = ""
        if rng.chance(0.1):
            phone_work = _landline(rng, state) if rng.chance(0.7) else _mobile(rng)
        roll = rng.below(100)
        email = ""
        if roll == 6:  # typed into the SMS but not an address Xero would accept
            local = f"{_ascii(first)}.{_ascii(last)}"
            email = rng.pick((f"{local}@", "n/a", "none", f"{local}@gmail", f"{first}@gmail com"))
        elif roll > 6:
            email = _personal_email(rng, first, last, born, used_emails)
            email = email[0].upper() + email[1:] if rng.chance(0.03) else email
        draft = _Draft(group, last, email, street, postal, phone_home)
        if anchor:
            _join_household(rng, draft, anchor, households, shared_emails, used_emails)
        drafts.append(draft)
        people.append(
            Person(
                ref_internal=f"DAU{ref_number:07d}",
                learner_id=learner_id,
                first_name=first,
                last_name=last,
                preferred_name=preferred,
                middle_name="" if middle == first else middle,
                title=rng.weighted(_TITLES[gender]),
                gender=gender,
                email=email,
                mobile=mobile,
                phone_home=phone_home,
                phone_work=phone_work,
                date_of_birth=born,
                street=street,
                postal=postal,
                sync_to_xero=rng.chance(0.85),
                family_id=None,
                modified_utc=rng.moment(end),
            )
        )
    # A later household member can change an earlier one's e-mail, so households are filled last.
    for index, draft in enumerate(drafts):
        if draft.family_id is not None:
            people[index] = replace(people[index], email=draft.email, family_id=draft.family_id)
    return people


def _join_household(
    rng: _Rng,
    draft: _Draft,
    anchor: _Draft,
    households: dict[int, list[_Draft]],
    shared_emails: dict[int, str],
    used_emails: set[str],
) -> None:
    if anchor.family_id is None:
        anchor.family_id = 1 + len(households)
        households[anchor.family_id] = [anchor]
    family = draft.family_id = anchor.family_id
    households[family].append(draft)
    if family in shared_emails:
        draft.email = shared_emails[family] if rng.chance(0.7) else draft.email
    elif rng.chance(0.4):
        if _is_email(anchor.email) and rng.chance(0.5):
            shared_emails[family] = anchor.email
        else:
            shared_emails[family] = _family_email(rng, anchor.last, used_emails)
        for member in households[family]:
            member.email = shared_emails[family]


# ---------------------------------------------------------------------------------------------
# Legacy Xero contacts


@dataclass(slots=True)
class _ContactDraft:
    order: int
    updated: datetime
    kind: str
    variant: str
    person_ref: str | None
    name: str
    hints: tuple[str, ...]  # what a finance officer would add to tell namesakes apart
    status: str
    body: dict[str, Any]
    contact_number: str = ""
    wants_old_number: bool = False
    wants_account: bool = False


def _typo(rng: _Rng, word: str) -> str:
    """One slip of the finger: a letter dropped, swapped, doubled or hit next door."""
    for _ in range(10):
        i = 1 + rng.below(len(word) - 1)
        op, c = rng.below(4), word[i]
        row = next((r for r in _KEY_ROWS if c.lower() in r), "")
        if not c.isalpha():
            continue
        if op == 0:
            typo = word[:i] + word[i + 1 :]
        elif op == 1 and i + 1 < len(word) and word[i + 1].isalpha():
            typo = word[:i] + word[i + 1] + c + word[i + 2 :]
        elif op == 2:
            typo = word[:i] + c + word[i:]
        elif row:
            j = row.index(c.lower())
            typo = word[:i] + rng.pick(row[max(0, j - 1) : j] + row[j + 1 : j + 2]) + word[i + 1 :]
        else:
            continue
        if typo != word:
            return typo
    return word + word[-1]


def _abn(rng: _Rng) -> str:
    """An ABN that passes the checksum (weights 10, 1, 3, ... 19; first digit minus one)."""
    tail = [rng.below(10) for _ in range(9)]
    lead = -sum(w * d for w, d in zip(range(3, 20, 2), tail, strict=True)) % 89
    digits = f"{lead // 10 + 1}{lead % 10}" + "".join(map(str, tail))
    return f"{digits[:2]} {digits[2:5]} {digits[5:8]} {digits[8:]}"


def _xero_mobile(rng: _Rng, typed: str) -> dict[str, str]:
    digits = "".join(c for c in typed if c.isdigit())
    n = "0" + digits[2:] if digits.startswith("61") else digits
    if rng.chance(0.05):
        return {"PhoneType": "MOBILE", "PhoneAreaCode": n[:4], "PhoneNumber": f"{n[4:7]} {n[7:]}"}
    number = rng.pick((f"{n[:4]} {n[4:7]} {n[7:]}", n, f"+61 {n[1:4]} {n[4:7]} {n[7:]}"))
    return {"PhoneType": "MOBILE", "PhoneNumber": number}


def _xero_landline(rng: _Rng, typed: str, kind: str = "DEFAULT") -> dict[str, str]:
    digits = "".join(c for c in typed if c.isdigit())
    if rng.chance(0.3) or len(digits) not in (8, 10):
        return {"PhoneType": kind, "PhoneNumber": typed}
    area, local = (digits[:2], digits[2:]) if len(digits) == 10 else ("", digits)
    phone = {"PhoneType": kind, "PhoneNumber": f"{local[:4]} {local[4:]}"}
    return phone | ({"PhoneAreaCode": area} if area else {})


def _xero_address(rng: _Rng, kind: str, address: Address) -> dict[str, str]:
    head, _, last_word = address.line1.rpartition(" ")
    line1 = f"{head} {_RETYPE.get(last_word, last_word)}" if rng.chance(0.25) else address.line1
    region = address.state
    region = _STATE_NAMES[region] if region and rng.chance(0.15) else region
    roll = rng.below(100)
    country = address.country if roll < 80 else "AU" if roll < 85 else ""
    fields = {"AddressType": kind, "AddressLine1": line1, "City": address.suburb}
    fields |= {"Region": region, "PostalCode": address.postcode, "Country": country}
    return {k: _clip(v, _ADDRESS_LIMITS.get(k, 255)) for k, v in fields.items() if v}


class _LegacyBuilder:
    def __init__(self, people: Sequence[Person], seed: int, today: date) -> None:
        self.rng = _Rng(seed, "legacy")
        self.people = people
        self.end = datetime.combine(today, time(), tzinfo=UTC)
        self.used_emails = {p.email.lower() for p in people if p.email}
        self.used_domains: set[str] = set()
        self.family_emails: dict[int, str] = {}
        self.refs_used: set[str] = set()
        self.drafts: list[_ContactDraft] = []

    def add(
        self, kind: str, variant: str, ref: str | None, name: str, *hints: str
    ) -> _ContactDraft:
        moment = self.rng.moment(self.end)
        draft = _ContactDraft(
            len(self.drafts), moment, kind, variant, ref, name, hints, "ACTIVE", {}
        )
        self.drafts.append(draft)
        return draft

    def person_contact(self, p: Person) -> None:
        rng = self.rng
        variant = "family-email" if p.family_id and rng.chance(0.25) else ""
        for _ in range(6):
            if variant and self._applies(p, variant):
                break
            variant = rng.weighted(_PERSON_VARIANTS)
        else:
            variant = "exact"
        first, last = p.first_name, p.last_name
        if variant == "initial+title":
            first = rng.pick((first[0], first[0] + "."))
        elif variant == "nickname":
            first = p.preferred_name or rng.pick(_NICKNAMES[first])
        elif variant == "typo" and ((rng.chance(0.6) and len(first) >= 3) or len(last) < 3):
            first = _typo(rng, first)
        elif variant == "typo":
            last = _typo(rng, last)
        elif variant == "maiden-name":
            group = _ANGLO if rng.chance(0.7) else rng.weighted(_GROUP_TABLE)
            while last == p.last_name:
                last = rng.weighted(group.surnames)
        elif variant == "swapped":
            first, last = last, first
        elif variant == "case":
            change = str.upper if rng.chance(0.6) else str.lower
            first, last = change(first), change(last)
        name = f"{first} {last}"
        if variant == "surname-first":
            name = f"{last}, {first}"
        elif variant == "initial+title":
            title = p.title or {"M": "Mr", "F": "Ms"}.get(p.gender, "")
            name = f"{title} {name}".strip() if rng.chance(0.6) else name
        elif variant == "middle-name":
            name = f"{first} {p.middle_name} {last}"
            first = f"{first} {p.middle_name}" if rng.chance(0.5) else first
        elif variant == "ref-contact-number":
            self.refs_used.add(p.ref_internal)
            name = f"{name} {p.ref_internal}" if rng.chance(0.5) else name
        addresses = self._addresses(p, variant)
        hints = [a["City"] for a in addresses[:1] if "City" in a] + [rng.pick(_D["campuses"])]
        draft = self.add("person", variant, p.ref_internal, name, *hints)
        body = draft.body
        if rng.chance(0.4):  # FirstName and LastName left out, or sent empty
            body |= {"FirstName": "", "LastName": ""} if rng.chance(0.4) else {}
        else:
            body |= {"FirstName": first, "LastName": last}
        email = self._email(p, variant)
        body |= {"EmailAddress": email} if email else {}
        phones = self._phones(p, variant)
        body |= {"Phones": phones} if phones else {}
        body |= {"Addresses": addresses} if addresses else {}
        draft.status = "ARCHIVED" if rng.chance(0.03) else "ACTIVE"
        draft.contact_number = p.ref_internal if variant == "ref-contact-number" else ""
        draft.wants_old_number = variant == "old-contact-number"
        draft.wants_account = rng.chance(0.15)

    def _applies(self, p: Person, variant: str) -> bool:
        checks = {
            "initial+title": bool(p.first_name),
            "nickname": bool(p.preferred_name) or p.first_name in _NICKNAMES,
            "typo": len(p.first_name) >= 3 or len(p.last_name) >= 3,
            "maiden-name": p.gender != "M" and _is_email(p.email),
            "middle-name": bool(p.middle_name),
            "email-domain": _is_email(p.email),
            "ref-contact-number": p.ref_internal not in self.refs_used,
        }
        return checks.get(variant, True)

    def _email(self, p: Person, variant: str) -> str:
        rng = self.rng
        if variant == "family-email":  # a parent's or the household's address, shared by siblings
            if p.family_id is None:
                return _family_email(rng, p.last_name, self.used_emails)
            if p.family_id not in self.family_emails:
                self.family_emails[p.family_id] = _family_email(rng, p.last_name, self.used_emails)
            return self.family_emails[p.family_id]
        if not _is_email(p.email):
            return ""  # Xero refuses an invalid EmailAddress, so the finance team left it out
        local, domain = p.email.split("@", 1)
        if variant == "email-domain":
            other = rng.pick(_D["domains.retyped"])
            while other == domain.lower():
                other = rng.pick(_D["domains.retyped"])
            return f"{local}@{other}"
        if variant != "maiden-name" and rng.chance(0.14):
            return ""
        return f"{local.title()}@{domain.capitalize()}" if rng.chance(0.05) else p.email

    def _phones(self, p: Person, variant: str) -> list[dict[str, str]]:
        rng = self.rng
        if variant == "landline-only":
            state = p.street.state if p.street and p.street.state else "NSW"
            return [_xero_landline(rng, p.phone_home or p.phone_work or _landline(rng, state))]
        phones = [_xero_mobile(rng, p.mobile)] if p.mobile and rng.chance(0.8) else []
        if p.phone_home and rng.chance(0.5):
            phones.append(_xero_landline(rng, p.phone_home))
        elif p.phone_work and not phones and rng.chance(0.3):
            phones.append(_xero_landline(rng, p.phone_work, "DDI"))
        return phones

    def _addresses(self, p: Person, variant: str) -> list[dict[str, str]]:
        rng = self.rng
        if variant == "no-address":
            return []
        if variant == "old-address":  # where the learner lived before, in the same state
            state = p.street.state if p.street else ""
            old = _street_address(rng, state)
            while p.street and old.suburb == p.street.suburb:
                old = _street_address(rng, state)
            return [_xero_address(rng, "STREET", old)]
        addresses = []
        if p.street and rng.chance(0.8):
            addresses.append(_xero_address(rng, "STREET", p.street))
        if p.postal and "box" in p.postal.line1.lower() and rng.chance(0.6):
            addresses.append(_xero_address(rng, "POBOX", p.postal))
        return addresses

    def employer(self) -> None:
        rng = self.rng
        name, core = self._employer_name()
        state = rng.weighted(_STATE_TABLE)
        office = _street_address(rng, state)
        if rng.chance(0.5):
            unit = f"{rng.pick(('Unit', 'Level', 'Shop', 'Factory'))} {1 + rng.below(12)}"
            office = replace(office, line1=f"{unit}, {_street_line(rng)}")
        draft = self.add("employer", "employer", None, name, office.suburb, state)
        body = draft.body
        if rng.chance(0.3):  # the person the finance team deals with
            first, last = _draw_name(rng, rng.weighted(_GROUP_TABLE), rng.pick("MF"))
            body |= {"FirstName": first, "LastName": last}
        if rng.chance(0.85):
            body["EmailAddress"] = f"{rng.weighted(_MAILBOXES)}@{self._domain(core, state)}"
        if rng.chance(0.5):
            body["TaxNumber"] = _abn(rng)
        if rng.chance(0.1):
            phone = {"PhoneType": "DEFAULT", "PhoneNumber": f"1300 {rng.digits(3)} {rng.digits(3)}"}
        else:
            phone = _xero_landline(rng, _landline(rng, state))
        body["Phones"] = [phone] + ([_xero_mobile(rng, _mobile(rng))] if rng.chance(0.25) else [])
        body["Addresses"] = [_xero_address(rng, "STREET", office)]
        if rng.chance(0.2):
            box = replace(office, line1=f"PO Box {1 + rng.below(9000)}")
            body["Addresses"].append(_xero_address(rng, "POBOX", box))
        draft.status = "ARCHIVED" if rng.chance(0.06) else "ACTIVE"
        draft.wants_account = rng.chance(0.45)

    def _employer_name(self) -> tuple[str, str]:
        rng = self.rng
        form, industry = rng.below(100), rng.pick(_D["business.industries"])
        if form < 45:
            core = f"{rng.pick(_D['business.prefixes'])} {industry}"
        elif form < 70:
            core = f"{rng.weighted(rng.weighted(_GROUP_TABLE).surnames)} {industry}"
        elif form < 75:
            core = f"{rng.weighted(_ANGLO.surnames)} & Sons {industry}"
        elif form < 95:
            core = f"{rng.pick(_SUBURBS[rng.weighted(_STATE_TABLE)])[0]} {industry}"
        else:
            first, last = _draw_name(rng, rng.weighted(_GROUP_TABLE), "M")
            core = f"{first[0]}. {last} {industry}"
        suffix = rng.weighted(_SUFFIXES)
        return (f"{core} {suffix}" if suffix else core), core

    def _domain(self, core: str, state: str) -> str:
        words = [w for w in map(_ascii, core.split()) if w and w not in ("pty", "ltd", "co")]
        slug = "".join(words[:3]) or "business"
        tld = self.rng.pick((".com.au",) * 8 + (".net.au", ".com"))
        domain = slug + tld
        domain = f"{slug}{state.lower()}{tld}" if domain in self.used_domains else domain
        while domain in self.used_domains:
            domain = f"{slug}{self.rng.digits(2)}{tld}"
        self.used_domains.add(domain)
        return domain

    def unrelated(self) -> None:
        rng = self.rng
        variant = rng.weighted(_UNRELATED_VARIANTS)
        if not self.people and variant in ("similar-name", "namesake"):
            variant = "supplier"
        gender = rng.pick("MF")
        first, last = _draw_name(rng, rng.weighted(_GROUP_TABLE), gender)
        if variant in ("similar-name", "namesake"):  # hard negatives: close to a learner, not one
            learner = rng.pick(self.people)
            first, last = learner.first_name, learner.last_name
            gender = learner.gender if learner.gender in ("M", "F") else gender
            others = [n for n in _FIRST_BY_INITIAL.get((gender, first[:1]), ()) if n != first]
            if variant == "similar-name":
                first = rng.pick(others) if others else f"{first[:1]}."
        state = rng.weighted(_STATE_TABLE)
        role = "Trainer" if variant == "trainer" or rng.chance(0.5) else "Supplier"
        draft = self.add("unrelated", variant, None, f"{first} {last}", role, state)
        body = draft.body
        body |= {"FirstName": first, "LastName": last} if rng.chance(0.7) else {}
        if rng.chance(0.85):
            body["EmailAddress"] = _personal_email(rng, first, last, None, self.used_emails)
        body["Phones"] = [_xero_mobile(rng, _mobile(rng))]
        if rng.chance(0.6):
            body["Addresses"] = [_xero_address(rng, "STREET", _street_address(rng, state))]
        draft.status = "ARCHIVED" if rng.chance(0.1) else "ACTIVE"
        draft.wants_account = rng.chance(0.1)

    def finish(self) -> list[LegacyContact]:
        """Names made unique in the order the contacts were saved; numbers handed out likewise."""
        rng = self.rng
        active: set[str] = set()
        account, old_number = 1 + rng.below(40), 100 + rng.below(300)
        contacts: list[LegacyContact] = []
        saved = sorted(self.drafts, key=attrgetter("updated", "order"))
        for n, d in enumerate(saved, start=1):
            name = _clip(d.name, 255)
            contact: dict[str, Any] = {
                "Name": _unique_name(name, d.hints, active) if d.status == "ACTIVE" else name
            }
            if d.wants_old_number:
                old_number += 1 + rng.below(7)
                d.contact_number = f"STU-{old_number:05d}"
            contact |= {"ContactNumber": d.contact_number} if d.contact_number else {}
            if d.wants_account:
                account += 1 + rng.below(5)
                contact["AccountNumber"] = f"DEB-{account:04d}"
            contact["ContactStatus"] = d.status
            contact |= d.body
            key = f"L{n:06d}"
            contacts.append(LegacyContact(key, contact, d.person_ref, d.kind, d.variant, d.updated))
        return contacts


def _unique_name(name: str, hints: tuple[str, ...], active: set[str]) -> str:
    """Xero keeps active names unique: a finance officer adds a place, else a number."""
    places = (f" ({hint})" for hint in hints if hint)
    suffixes = itertools.chain([""], places, (f" {n}" for n in itertools.count(2)))
    candidates = (_clip(name, 255 - len(suffix)) + suffix for suffix in suffixes)
    unique = next(c for c in candidates if _name_key(c) not in active)
    active.add(_name_key(unique))
    return unique


def legacy_contacts(
    people: Sequence[Person], seed: int = 1, *, today: date = date(2026, 11, 1)
) -> list[LegacyContact]:
    """The contacts the finance team typed into Xero by hand, in the order they were last saved.

    About 55% of learners have one contact and 8% two; employers number 12% and unrelated people
    5% of the learners. ``person_ref`` is the ground truth a duplicate finder is scored against.
    """
    builder = _LegacyBuilder(people, seed, today)
    for person in people:
        roll = builder.rng.below(100)
        for _ in range(1 if roll < 55 else 2 if roll < 63 else 0):
            builder.person_contact(person)
    for _ in range(round(len(people) * 0.12)):
        builder.employer()
    for _ in range(round(len(people) * 0.05)):
        builder.unrelated()
    return builder.finish()


def seed_summary(people: Sequence[Person], contacts: Sequence[LegacyContact]) -> dict[str, int]:
    """Counts of the demo data by kind, variant and status, keys sorted (for docs and the demo)."""
    counts: Counter[str] = Counter(people=len(people), contacts=len(contacts))
    per_person = Counter(c.person_ref for c in contacts if c.person_ref)
    names = Counter((p.first_name.casefold(), p.last_name.casefold()) for p in people)
    for p in people:
        street = p.street
        counts["people.sync_to_xero"] += p.sync_to_xero
        counts["people.preferred_name"] += bool(p.preferred_name)
        counts["people.no_email"] += not p.email
        counts["people.invalid_email"] += bool(p.email) and not _is_email(p.email)
        counts["people.no_street_address"] += street is None
        counts["people.incomplete_address"] += bool(
            street and not (street.state and street.postcode)
        )
        counts["people.no_date_of_birth"] += p.date_of_birth is None
        counts["people.shares_full_name"] += (
            names[p.first_name.casefold(), p.last_name.casefold()] > 1
        )
        counts["people.in_family"] += p.family_id is not None
        counts[f"people.legacy_contacts.{min(per_person[p.ref_internal], 2)}"] += 1
    counts["people.families"] = len({p.family_id for p in people if p.family_id is not None})
    for c in contacts:
        data = c.contact
        counts[f"contacts.kind.{c.kind}"] += 1
        counts[f"contacts.variant.{c.variant}"] += 1
        counts[f"contacts.status.{data['ContactStatus']}"] += 1
        counts["contacts.contact_number"] += "ContactNumber" in data
        counts["contacts.account_number"] += "AccountNumber" in data
        if c.kind == "person":
            counts["contacts.person.archived"] += data["ContactStatus"] == "ARCHIVED"
            counts["contacts.person.no_first_last"] += not (
                data.get("FirstName") and data.get("LastName")
            )
            counts["contacts.person.no_email"] += not data.get("EmailAddress")
            counts["contacts.person.no_address"] += not data.get("Addresses")
    return dict(sorted(counts.items()))

"""Learners and contacts in normal form, as columns of interned values.

Each value a comparison needs (a name, an e-mail, a phone, an address line, a postcode) is
normalised once per record and replaced by its number in one :class:`Vocabulary`, so that the
comparisons of millions of pairs are array operations on integers (``score``) and each
distinct pair of strings is compared once. Number 0 is "no value". A field that may hold
several values (a learner's first-name forms, a contact's readings of its Name, phones,
addresses) is a fixed number of columns, the extra values of a rare record left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from learnerledger.domain.learner import Address, Learner
from learnerledger.domain.mirror import MirroredContact

from .normalize import (
    NICKNAMES,
    STREET_TYPES,
    NormalAddress,
    NormalEmail,
    NormalPhone,
    company_reason,
    contact_addresses,
    contact_phones,
    fold,
    name_groups,
    normalize_address,
    normalize_email,
    normalize_phone,
    parse_name,
    strip_name_tail,
)

__all__ = ["ContactTable", "LearnerTable", "Vocabulary", "tables"]

Ids = npt.NDArray[np.int32]
Flags = npt.NDArray[np.bool_]

FIRST_FORMS = 4  # a learner's first name and preferred name, first word and whole
READINGS = 8  # readings of a contact's Name (see normalize.parse_name)
EMAILS = 3  # the learner's own and its survivor contact's
PHONES = 3
ADDRESSES = 4


class Vocabulary:
    """Strings by number and numbers by string; 0 is the empty string."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {"": 0}
        self._strings: list[str] = [""]
        self._lengths = np.zeros(0, np.int32)
        self._initials = np.zeros(0, np.int32)

    def id(self, text: str) -> int:
        ids = self._ids
        return ids.setdefault(text, len(ids))

    @property
    def ids(self) -> Mapping[str, int]:
        """Numbers by string (to look up, never to add)."""
        return self._ids

    @property
    def strings(self) -> list[str]:
        """Every string, by its number."""
        if len(self._strings) != len(self._ids):
            self._strings = list(self._ids)
        return self._strings

    def __len__(self) -> int:
        return len(self._ids)

    def lengths(self) -> npt.NDArray[np.int32]:
        """Each string's length, by its number."""
        if len(self._lengths) != len(self._ids):
            strings = self.strings
            self._lengths = np.fromiter(map(len, strings), np.int32, len(strings))
        return self._lengths

    def initials(self) -> npt.NDArray[np.int32]:
        """Each string's first character as a number (0 for the empty string)."""
        if len(self._initials) != len(self._ids):
            strings = self.strings
            firsts = (ord(s[0]) if s else 0 for s in strings)
            self._initials = np.fromiter(firsts, np.int32, len(strings))
        return self._initials

    def group_masks(self) -> npt.NDArray[np.uint64]:
        """Each string's nickname groups as a bit set (``normalize.NICKNAMES``), one row."""
        words = (len(NICKNAMES) + 63) // 64
        masks = np.zeros((len(self.strings), words), np.uint64)
        for n, text in enumerate(self.strings):
            for group in name_groups(text):
                masks[n, group // 64] |= np.uint64(1 << (group % 64))
        return masks


@dataclass
class LearnerTable:
    """Learners (with their survivor contact's details) as columns; row ``i`` is learner ``i``."""

    refs: list[str]
    displays: list[str]
    ref: Ids  # the RefInternal, upper case
    first: Ids  # [n, FIRST_FORMS]: the first name's first word first
    last: Ids  # the surname, its words joined
    email: Ids  # [n, EMAILS] mailbox (``NormalEmail.address``)
    email_raw: Ids  # [n, EMAILS] as typed, without plus-tag
    email_local: Ids  # [n, EMAILS]
    email_domain: Ids  # [n, EMAILS]
    mobile: Ids  # [n, PHONES]
    landline: Ids  # [n, PHONES] last 8 digits
    line: Ids  # [n, ADDRESSES]
    number: Ids  # [n, ADDRESSES] the street number
    street: Ids  # [n, ADDRESSES] the street name's core (see ``street_of``)
    suburb: Ids
    postcode: Ids

    def __len__(self) -> int:
        return len(self.refs)


@dataclass
class ContactTable:
    """Contacts other than survivors and companies as columns; row ``j`` is ``contacts[j]``."""

    contacts: list[MirroredContact]
    given0: Ids  # [m, READINGS] first given name of each reading
    given: Ids  # [m, READINGS] all given names joined
    given_text: Ids  # [m, READINGS] all given names, spaced (for the evidence)
    family: Ids  # [m, READINGS]
    swapped: Flags  # [m, READINGS]
    couple: Flags  # [m, READINGS]
    email: Ids
    email_raw: Ids
    email_local: Ids
    email_domain: Ids
    email_role: Flags
    mobile: Ids  # [m, PHONES]
    landline: Ids
    line: Ids  # [m, ADDRESSES]
    number: Ids
    street: Ids
    suburb: Ids
    postcode: Ids
    refs: Ids  # [m, 2] ContactNumber and a reference ending the Name, upper case
    companies: int = 0

    def __len__(self) -> int:
        return len(self.contacts)


def _phones(phones: Iterable[NormalPhone]) -> tuple[list[str], list[str]]:
    mobiles, landlines = [], []
    for phone in phones:
        if phone.kind == "mobile":
            mobiles.append(phone.number)
        elif phone.kind == "landline":
            landlines.append(phone.tail)
    return mobiles, landlines


_TYPE_ENDINGS = sorted(set(STREET_TYPES) | set(STREET_TYPES.values()), key=len, reverse=True)


@lru_cache(maxsize=20_000)
def street_of(line: str) -> tuple[str, str]:
    """A normal address line's street number and the core of its street name, without unit,
    spaces or street type, so that typing slips in them still agree: "2/14 smith st" ->
    ("14", "smith"), "14 smithstreet" -> ("14", "smith"); no number for a line without one
    (a PO box, a street name alone)."""
    number, _, street = line.rpartition("/")[2].partition(" ")
    if not number[:1].isdigit() or not street:
        number, street = "", line
    core = street.replace(" ", "").replace(".", "")
    for ending in _TYPE_ENDINGS:
        if core.endswith(ending) and len(core) > len(ending) + 1:
            core = core[: -len(ending)]
            break
    return number, core


def _address(a: Address) -> NormalAddress:
    return normalize_address(a.line, a.suburb, a.state, a.postcode)


def _learner_firsts(learner: Learner) -> list[str]:
    firsts: list[str] = []
    for text in (learner.first_name, learner.preferred_name):
        words = fold(text).split()
        if words:
            firsts += [words[0], "".join(words)]
    return firsts


class _Columns:
    """Values collected column by column, flat: a column of width ``w`` takes exactly ``w``
    values per record (padded with 0), then becomes an array of ``w`` columns."""

    def __init__(self, vocab: Vocabulary) -> None:
        self.rows: dict[str, list[Any]] = {}
        ids = vocab._ids  # interned directly: this is the loop that meets every value
        self._setdefault = ids.setdefault
        self._ids = ids

    def column(self, name: str) -> list[Any]:
        return self.rows.setdefault(name, [])

    def intern(self, text: str) -> int:
        return self._setdefault(text, len(self._ids))

    def put(self, column: list[Any], texts: Sequence[str], width: int) -> None:
        """Intern up to ``width`` texts into ``column``, padded with 0."""
        setdefault, ids = self._setdefault, self._ids
        values = [setdefault(t, len(ids)) for t in texts[:width]]
        column.extend(values)
        if len(values) < width:
            column.extend(_ZEROS[: width - len(values)])

    def ids(self, name: str, width: int = 0) -> Ids:
        rows = self.rows.get(name, [])
        array = np.asarray(rows, np.int32)
        return array.reshape(-1, width) if width else array

    def flags(self, name: str, width: int = 0) -> Flags:
        rows = self.rows.get(name, [])
        array = np.asarray(rows, np.bool_)
        return array.reshape(-1, width) if width else array


_ZEROS = [0] * 16
_NO = [False] * 16


def _emails(cols: _Columns, emails: Sequence[NormalEmail]) -> None:
    kept: list[NormalEmail] = []
    for email in emails:
        if email and all(e.address != email.address for e in kept):
            kept.append(email)
    cols.put(cols.column("email"), [e.address for e in kept], EMAILS)
    cols.put(cols.column("email_raw"), [e.raw for e in kept], EMAILS)
    cols.put(cols.column("email_local"), [e.local for e in kept], EMAILS)
    cols.put(cols.column("email_domain"), [e.domain for e in kept], EMAILS)


def _addresses(cols: _Columns, addresses: Iterable[NormalAddress], width: int) -> None:
    kept: list[NormalAddress] = []
    for a in addresses:
        if a and a not in kept:
            kept.append(a)
    streets = [street_of(a.line) for a in kept]
    cols.put(cols.column("line"), [a.line for a in kept], width)
    cols.put(cols.column("number"), [number for number, _ in streets], width)
    cols.put(cols.column("street"), [core for _, core in streets], width)
    cols.put(cols.column("suburb"), [a.suburb for a in kept], width)
    cols.put(cols.column("postcode"), [a.postcode for a in kept], width)


def _unique(texts: Iterable[str]) -> list[str]:
    out: list[str] = []
    for t in texts:
        if t and t not in out:
            out.append(t)
    return out


def _phone_and_address_columns(cols: _Columns) -> dict[str, Any]:
    """The columns learners and contacts both have: phones and addresses."""
    out: dict[str, Any] = {name: cols.ids(name, PHONES) for name in ("mobile", "landline")}
    out.update({name: cols.ids(name, ADDRESSES) for name in _ADDRESS_COLUMNS})
    return out


def learner_table(
    learners: Sequence[Learner],
    survivors: Mapping[str, MirroredContact],
    vocab: Vocabulary,
) -> LearnerTable:
    cols = _Columns(vocab)
    refs, displays = [], []
    ref_col, first_col, last_col = cols.column("ref"), cols.column("first"), cols.column("last")
    mobile_col, landline_col = cols.column("mobile"), cols.column("landline")
    intern = cols.intern
    for learner in learners:
        survivor = survivors.get(learner.ref_internal)
        refs.append(learner.ref_internal)
        displays.append(f"{learner.first_name} {learner.last_name}".strip())
        ref_col.append(intern(learner.ref_internal.upper()))
        cols.put(first_col, _unique(_learner_firsts(learner)), FIRST_FORMS)
        last_col.append(intern(fold(learner.last_name).replace(" ", "")))
        emails = [normalize_email(learner.email)]
        phones = [
            normalize_phone(learner.mobile),
            normalize_phone(learner.phone_home),
            normalize_phone(learner.phone_work),
        ]
        addresses = [_address(learner.street), _address(learner.postal)]
        if survivor is not None:
            emails.append(normalize_email(str(survivor.data.get("EmailAddress") or "")))
            phones += contact_phones(survivor.data)
            addresses += contact_addresses(survivor.data)
        _emails(cols, emails)
        mobiles, landlines = _phones(phones)
        cols.put(mobile_col, _unique(mobiles), PHONES)
        cols.put(landline_col, _unique(landlines), PHONES)
        _addresses(cols, addresses, ADDRESSES)
    return LearnerTable(
        refs=refs,
        displays=displays,
        ref=cols.ids("ref"),
        first=cols.ids("first", FIRST_FORMS),
        last=cols.ids("last"),
        email=cols.ids("email", EMAILS),
        email_raw=cols.ids("email_raw", EMAILS),
        email_local=cols.ids("email_local", EMAILS),
        email_domain=cols.ids("email_domain", EMAILS),
        **_phone_and_address_columns(cols),
    )


def contact_references(contact: MirroredContact) -> list[str]:
    """The ContactNumber and a RefInternal-like code ending the Name, upper case."""
    data = contact.data
    refs = []
    number = (contact.contact_number or str(data.get("ContactNumber") or "")).strip()
    if number:
        refs.append(number.upper())
    _, tail_ref = strip_name_tail(str(data.get("Name") or contact.name or ""))
    if tail_ref:
        refs.append(tail_ref)
    return refs


def contact_table(contacts: Iterable[MirroredContact], vocab: Vocabulary) -> ContactTable:
    cols = _Columns(vocab)
    kept: list[MirroredContact] = []
    companies = 0
    intern = cols.intern
    given0_col, given_col = cols.column("given0"), cols.column("given")
    shown_col, family_col = cols.column("given_text"), cols.column("family")
    swapped_col, couple_col = cols.column("swapped"), cols.column("couple")
    email_cols = [cols.column(n) for n in ("email", "email_raw", "email_local", "email_domain")]
    role_col = cols.column("email_role")
    mobile_col, landline_col = cols.column("mobile"), cols.column("landline")
    refs_col = cols.column("refs")
    for contact in contacts:
        data = contact.data
        if company_reason(data):
            companies += 1
            continue
        kept.append(contact)
        name = str(data.get("Name") or contact.name or "")
        readings = parse_name(
            name, str(data.get("FirstName") or ""), str(data.get("LastName") or "")
        )[:READINGS]
        pad = READINGS - len(readings)
        cols.put(given0_col, [r.first for r in readings], READINGS)
        cols.put(given_col, ["".join(r.given) for r in readings], READINGS)
        cols.put(shown_col, [" ".join(r.given) for r in readings], READINGS)
        cols.put(family_col, [r.family for r in readings], READINGS)
        swapped_col.extend([r.swapped for r in readings] + _NO[:pad])
        couple_col.extend([r.couple for r in readings] + _NO[:pad])
        email = normalize_email(str(data.get("EmailAddress") or ""))
        for column, text in zip(
            email_cols, (email.address, email.raw, email.local, email.domain), strict=True
        ):
            column.append(intern(text))
        role_col.append(email.role)
        mobiles, landlines = _phones(contact_phones(data))
        cols.put(mobile_col, _unique(mobiles), PHONES)
        cols.put(landline_col, _unique(landlines), PHONES)
        _addresses(cols, contact_addresses(data), ADDRESSES)
        cols.put(refs_col, _unique(contact_references(contact)), 2)
    return ContactTable(
        contacts=kept,
        given0=cols.ids("given0", READINGS),
        given=cols.ids("given", READINGS),
        given_text=cols.ids("given_text", READINGS),
        family=cols.ids("family", READINGS),
        swapped=cols.flags("swapped", READINGS),
        couple=cols.flags("couple", READINGS),
        email=cols.ids("email"),
        email_raw=cols.ids("email_raw"),
        email_local=cols.ids("email_local"),
        email_domain=cols.ids("email_domain"),
        email_role=cols.flags("email_role"),
        refs=cols.ids("refs", 2),
        **_phone_and_address_columns(cols),
        companies=companies,
    )


def _width(*columns: Ids) -> int:
    """How many columns hold a value in some row (values are packed to the left)."""
    width = 1
    for column in columns:
        used = np.flatnonzero((column != 0).any(axis=0)) if len(column) else np.zeros(0, int)
        width = max(width, int(used[-1]) + 1 if len(used) else 1)
    return width


def _trim(table: Any, groups: Sequence[Sequence[str]]) -> None:
    """Drop the columns no record uses: comparing fewer columns is faster."""
    for names in groups:
        width = _width(*(getattr(table, name) for name in names))
        for name in names:
            setattr(table, name, getattr(table, name)[:, :width])


_ADDRESS_COLUMNS = ("line", "number", "street", "suburb", "postcode")


def tables(
    learners: Sequence[Learner],
    contacts: Iterable[MirroredContact],
    survivors: Mapping[str, MirroredContact],
) -> tuple[Vocabulary, LearnerTable, ContactTable]:
    """The vocabulary and both tables; survivors' contacts are the learners' and not in
    ``contacts`` (the caller leaves them out)."""
    vocab = Vocabulary()
    learner = learner_table(learners, survivors, vocab)
    contact = contact_table(contacts, vocab)
    emails = ("email", "email_raw", "email_local", "email_domain")
    _trim(learner, [("first",), emails, ("mobile",), ("landline",), _ADDRESS_COLUMNS])
    readings = ("given0", "given", "given_text", "family", "swapped", "couple")
    _trim(contact, [readings, ("mobile",), ("landline",), _ADDRESS_COLUMNS, ("refs",)])
    return vocab, learner, contact

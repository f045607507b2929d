"""A pair's score and its evidence in words: which fields agreed, how strongly, for how much.

The score is the probability that the legacy contact is the learner. It adds up, in bits of
log-odds, the prior (how likely any one contact is any one learner), each field's weight from
the fitted model (``model``), a RefInternal the contact carries, a Name read surname first,
the household cap, and what the contact's likeness to other learners takes away
(``cluster.exclusive``). Each of these is one :class:`Evidence`, so that a finance officer can
see why a pair scored as it did: the weights of the evidence and the prior sum to the score's
log-odds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from . import compare as c
from .compare import Levels
from .model import Model
from .normalize import normalize_email
from .records import ContactTable, LearnerTable, Vocabulary

__all__ = ["Evidence", "evidence", "probability"]


@dataclass(frozen=True, slots=True)
class Evidence:
    """One comparison, as a finance officer reads it: ``field`` (first_name, last_name, email,
    mobile, landline, address, reference, name, household, cluster), ``comparison`` (exact,
    nickname, initial, fuzzy, partial, shared, disagree, missing, swapped, capped, rival,
    downgraded), ``strength`` (similarity 0..1), ``weight`` (bits added to the score; negative
    counts against) and a plain ``detail``."""

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


def probability(log_odds: float) -> float:
    """Bits of evidence (prior included) as a probability in [0, 1]."""
    if log_odds > 60:
        return 1.0
    if log_odds < -60:
        return 0.0
    return 1.0 / (1.0 + math.pow(2.0, -log_odds))


def evidence(
    vocab: Vocabulary,
    learners: LearnerTable,
    contacts: ContactTable,
    model: Model,
    levels: Levels,
    weights: dict[str, Any],
    household: Any,
    k: int,
) -> tuple[list[Evidence], list[str]]:
    """The evidence of pair ``k`` in words (``weights``: bits per field of every pair), and the
    reasons it may not be acted on without a person (a contact naming two people, a pair only
    the name supports)."""
    s = vocab.strings
    i, j = int(levels.learner[k]), int(levels.contact[k])
    contact = contacts.contacts[j]
    bits = {name: float(weights[name][k]) for name in weights}
    out: list[Evidence] = []
    reasons: list[str] = []
    if levels.reference[k]:
        out.append(
            Evidence(
                "reference",
                "exact",
                1.0,
                model.w.reference,
                f"the contact carries {learners.refs[i]}",
            )
        )
    r = int(levels.reading[k])
    if r < 0:
        out.append(Evidence("name", "missing", 0.0, 0.0, "the contact has no name"))
    else:
        given = tuple(s[contacts.given_text[j, r]].split())
        first = s[learners.first[i, 0]]
        out.append(_first(int(levels.first_name[k]), levels, k, bits, given, first))
        out.append(_last(int(levels.last_name[k]), levels, k, bits, s[contacts.family[j, r]]))
        if contacts.swapped[j, r]:
            out.append(
                Evidence(
                    "name", "swapped", 0.5, model.w.swapped, "first and last name read swapped"
                )
            )
        if levels.couple[k]:
            reasons.append("the contact names two people")
    out.append(_email(int(levels.email[k]), bits["email"], contact.data, model, levels, k))
    out.append(_mobile(int(levels.mobile[k]), bits["mobile"], s, levels, k))
    out.append(_landline(int(levels.landline[k]), bits["landline"]))
    a = int(levels.address_index[k])
    line, suburb = s[contacts.line[j, a]], s[contacts.suburb[j, a]]
    out.append(_street(int(levels.street[k]), bits["street"], line))
    out.append(_area(int(levels.area[k]), bits["area"], suburb, s[contacts.postcode[j, a]]))
    others = ("email", "mobile", "landline", "street", "area")
    if not levels.reference[k] and not any(bits[f] > 0 for f in others):
        reasons.append("only the name agrees: nothing else confirms it")
    if household[k] < 0:
        out.append(
            Evidence(
                "household",
                "capped",
                0.0,
                float(household[k]),
                "the first names differ: what a household shares counts at most "
                f"{model.household_cap:.1f}",
            )
        )
    out.append(
        Evidence(
            "prior",
            "base rate",
            0.0,
            model.prior,
            f"before comparing: one contact in {2**-model.prior:,.0f} pairs is the learner",
        )
    )
    return out, reasons


def _first(
    level: int, levels: Levels, k: int, bits: dict[str, float], given: tuple[str, ...], first: str
) -> Evidence:
    weight, strength = bits["first_name"], float(levels.first_strength[k])
    g0 = given[0] if given else ""
    if level == c.MISSING:
        who = "the contact" if not g0 else "the learner"
        return Evidence("first_name", "missing", 0.0, 0.0, f"{who} has no first name")
    if level == c.F_EXACT:
        return Evidence("first_name", "exact", 1.0, weight, f"{' '.join(given)!r} agrees")
    if level == c.F_INITIAL:
        return Evidence("first_name", "initial", 0.5, weight, f"the initial {g0.upper()} agrees")
    if level == c.F_NICKNAME:
        return Evidence("first_name", "nickname", 0.9, weight, f"{g0!r} is a form of the same name")
    if level == c.F_PREFIX:
        return Evidence(
            "first_name", "nickname", 0.8, weight, f"{g0!r} is a short form of the name"
        )
    if level == c.F_FUZZY:
        return Evidence("first_name", "fuzzy", strength, weight, f"{g0!r} is spelt alike")
    if level == c.F_CLOSE:
        return Evidence("first_name", "fuzzy", strength, weight, f"{g0!r} is one letter away")
    if level == c.F_ALIKE:
        return Evidence(
            "first_name", "fuzzy", strength, weight, f"{g0!r} is somewhat like {first!r}"
        )
    if len(g0) == 1:
        return Evidence("first_name", "disagree", 0.0, weight, f"the initial {g0.upper()} differs")
    return Evidence("first_name", "disagree", strength, weight, f"{g0!r} differs from {first!r}")


def _last(level: int, levels: Levels, k: int, bits: dict[str, float], fam: str) -> Evidence:
    weight, strength = bits["last_name"], float(levels.last_strength[k])
    if level == c.MISSING:
        return Evidence("last_name", "missing", 0.0, 0.0, "no surname to compare")
    if level == c.L_EXACT:
        return Evidence("last_name", "exact", 1.0, weight, f"{fam!r} agrees")
    if level == c.L_FUZZY:
        return Evidence("last_name", "fuzzy", strength, weight, f"{fam!r} is spelt alike")
    if level == c.L_CLOSE:
        return Evidence("last_name", "fuzzy", strength, weight, f"{fam!r} is one letter away")
    if level == c.L_PARTIAL:
        return Evidence("last_name", "partial", 0.7, weight, f"{fam!r} contains the surname")
    if level == c.L_ALIKE:
        return Evidence("last_name", "fuzzy", strength, weight, f"{fam!r} is somewhat alike")
    return Evidence("last_name", "disagree", strength, weight, f"{fam!r} differs")


def _email(level: int, weight: float, data: Any, model: Model, levels: Levels, k: int) -> Evidence:
    e = normalize_email(str(data.get("EmailAddress") or ""))
    if level == c.MISSING:
        return Evidence("email", "missing", 0.0, 0.0, "no e-mail on one side")
    if level == c.E_DOTS:
        return Evidence(
            "email",
            "partial",
            0.8,
            weight,
            f"{e.raw} and the learner's address reach one mailbox at {e.domain}",
        )
    if level == c.E_NAME_ONLY:
        return Evidence(
            "email",
            "partial",
            0.3,
            weight,
            f"{e.address} is like the learner's, but the mailbox is only the name",
        )
    if level == c.E_SHARED:
        shared = int(model.counts["email"][levels.email_value[k]])
        why = f"shared by {shared} learners" if shared > 1 else "a household address"
        return Evidence("email", "shared", 1.0, weight, f"{e.address} agrees, {why}")
    if level == c.E_EXACT:
        return Evidence("email", "exact", 1.0, weight, f"{e.address} agrees")
    if level == c.E_LOCAL:
        return Evidence(
            "email", "partial", 0.7, weight, f"the mailbox {e.local} agrees at another provider"
        )
    if level == c.E_FUZZY:
        return Evidence("email", "fuzzy", 0.9, weight, f"{e.address} is one slip away")
    return Evidence("email", "disagree", 0.0, weight, f"{e.address} differs")


def _mobile(level: int, weight: float, s: list[str], levels: Levels, k: int) -> Evidence:
    if level == c.MISSING:
        return Evidence("mobile", "missing", 0.0, 0.0, "no mobile on one side")
    if level == c.M_DISAGREE:
        return Evidence("mobile", "disagree", 0.0, weight, "the mobiles differ")
    number = s[levels.mobile_value[k]]
    if level == c.M_SHARED:
        return Evidence("mobile", "shared", 1.0, weight, f"{number} agrees, shared by learners")
    return Evidence("mobile", "exact", 1.0, weight, f"{number} agrees")


def _landline(level: int, weight: float) -> Evidence:
    if level == c.MISSING:
        return Evidence("landline", "missing", 0.0, 0.0, "no landline on one side")
    if level == c.T_EXACT:
        return Evidence(
            "landline", "exact", 1.0, weight, "the landline agrees (often a household's)"
        )
    return Evidence("landline", "disagree", 0.0, weight, "the landlines differ")


def _street(level: int, weight: float, line: str) -> Evidence:
    if level == c.MISSING:
        return Evidence("street", "missing", 0.0, 0.0, "no street on one side")
    if level == c.S_EXACT:
        return Evidence("street", "exact", 1.0, weight, f"{line} agrees")
    if level == c.S_NUMBER:
        return Evidence(
            "street", "partial", 0.8, weight, f"the street of {line} agrees, not its number"
        )
    if level == c.S_NEAR:
        return Evidence("street", "fuzzy", 0.85, weight, f"{line} is spelt alike")
    if level == c.S_ALIKE:
        return Evidence("street", "fuzzy", 0.7, weight, f"{line} is somewhat alike")
    return Evidence("street", "disagree", 0.0, weight, f"{line} differs")


def _area(level: int, weight: float, suburb: str, postcode: str) -> Evidence:
    place = ", ".join(p for p in (suburb, postcode) if p)
    if level == c.MISSING:
        return Evidence("area", "missing", 0.0, 0.0, "no suburb or postcode on one side")
    if level == c.A_BOTH:
        return Evidence("area", "exact", 1.0, weight, f"{place} agrees")
    if level == c.A_POSTCODE:
        return Evidence("area", "partial", 0.8, weight, f"the postcode {postcode} agrees")
    if level == c.A_SUBURB:
        return Evidence("area", "partial", 0.7, weight, f"the suburb {suburb} agrees")
    if level == c.A_NEAR:
        return Evidence("area", "fuzzy", 0.5, weight, f"{place} is near the learner's")
    return Evidence("area", "disagree", 0.0, weight, f"{place} differs")

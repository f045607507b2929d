"""splink 4 on a benchmark data set, set up the way its tutorials set it up.

The learners and the contacts become two tables of one schema (first name, surname, e-mail,
phone, address line, suburb, postcode) with the light cleaning a tutorial does: lower case,
trimmed, a contact's Name split into first and last name where Xero's FirstName and LastName
are empty ("Last, First" read as such), the phone reduced to its last nine digits. Then a
``link_only`` model on DuckDB: blocking on surname, first name, postcode and e-mail;
``NameComparison``, ``EmailComparison``, ``ExactMatch`` and ``LevenshteinAtThresholds``; the
prior from a deterministic rule, u by random sampling, m by EM; and ``predict``.

The table building needs only the standard library; splink and pandas are imported by
``run_splink`` alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from matchdata import MatchData, Pair

__all__ = ["COLUMNS", "SplinkResult", "contact_row", "learner_row", "run_splink"]

COLUMNS = ("first_name", "surname", "email", "phone", "address_line", "suburb", "postcode")

_NON_DIGIT = re.compile(r"\D")
_BRACKETS = re.compile(r"\([^)]*\)")


def _clean(text: str | None) -> str | None:
    text = " ".join((text or "").split()).lower()
    return text or None


def _phone(text: str) -> str | None:
    digits = _NON_DIGIT.sub("", text)
    return digits[-9:] if len(digits) >= 8 else None


def learner_row(learner: Any) -> dict[str, str | None]:
    street = learner.street
    return {
        "unique_id": learner.ref_internal,
        "first_name": _clean(learner.first_name),
        "surname": _clean(learner.last_name),
        "email": _clean(learner.email),
        "phone": _phone(learner.mobile or learner.phone_home),
        "address_line": _clean(street.line),
        "suburb": _clean(street.suburb),
        "postcode": _clean(street.postcode),
    }


def _split_name(name: str) -> tuple[str, str]:
    name = _BRACKETS.sub(" ", name)
    if "," in name:
        last, _, first = name.partition(",")
        return first.strip(), last.strip()
    words = [w for w in name.split() if not any(ch.isdigit() for ch in w)]
    if len(words) < 2:
        return "", " ".join(words)
    return words[0], words[-1]


def _phones(data: Mapping[str, Any]) -> str | None:
    numbers = {
        p.get("PhoneType"): f"{p.get('PhoneAreaCode', '')}{p.get('PhoneNumber', '')}"
        for p in data.get("Phones") or ()
        if p.get("PhoneNumber")
    }
    return _phone(numbers.get("MOBILE") or numbers.get("DEFAULT") or "")


def contact_row(contact: Any) -> dict[str, str | None]:
    data = contact.data
    first, last = data.get("FirstName") or "", data.get("LastName") or ""
    if not (first and last):
        first, last = _split_name(contact.name)
    addresses = data.get("Addresses") or []
    street = next((a for a in addresses if a.get("AddressType") == "STREET"), None)
    address = street or (addresses[0] if addresses else {})
    return {
        "unique_id": contact.contact_id,
        "first_name": _clean(first),
        "surname": _clean(last),
        "email": _clean(data.get("EmailAddress")),
        "phone": _phones(data),
        "address_line": _clean(address.get("AddressLine1")),
        "suburb": _clean(address.get("City")),
        "postcode": _clean(address.get("PostalCode")),
    }


@dataclass
class SplinkResult:
    """Every pair splink predicted above the floor, with its match probability."""

    scored: list[tuple[float, Pair]]
    kept: int


def run_splink(data: MatchData, *, floor: float = 0.01) -> SplinkResult:
    """Train and predict; pairs under ``floor`` are not kept (no threshold worth tuning is
    that low)."""
    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    learners = pd.DataFrame([learner_row(x) for x in data.learners])
    contacts = pd.DataFrame([contact_row(x) for x in data.contacts])
    # A column empty on either side can be neither compared nor blocked on.
    present = [c for c in COLUMNS if learners[c].notna().any() and contacts[c].notna().any()]
    learners, contacts = learners[["unique_id", *present]], contacts[["unique_id", *present]]

    comparisons = []
    for column in present:
        if column in ("first_name", "surname"):
            comparisons.append(cl.NameComparison(column))
        elif column == "email":
            comparisons.append(cl.EmailComparison(column))
        elif column == "address_line":
            comparisons.append(cl.LevenshteinAtThresholds(column, [1, 3]))
        else:
            comparisons.append(cl.ExactMatch(column).configure(term_frequency_adjustments=True))
    blocking = [block_on(c) for c in ("surname", "first_name", "postcode", "email") if c in present]
    settings = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking,
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(
        [learners, contacts],
        settings,
        DuckDBAPI(),
        input_table_aliases=["learners", "contacts"],
    )
    names = [c for c in ("first_name", "surname") if c in present]
    linker.training.estimate_probability_two_random_records_match([block_on(*names)], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    # EM on a name block estimates everything but the names, and on another block the names.
    others = [c for c in ("email", "postcode", "suburb") if c in present]
    linker.training.estimate_parameters_using_expectation_maximisation(block_on(*names))
    if others:
        linker.training.estimate_parameters_using_expectation_maximisation(block_on(others[0]))
    predictions = linker.inference.predict(threshold_match_probability=floor).as_pandas_dataframe()
    scored: list[tuple[float, Pair]] = []
    for row in predictions[
        ["source_dataset_l", "unique_id_l", "unique_id_r", "match_probability"]
    ].itertuples(index=False):
        source_l, id_l, id_r, probability = row
        pair = (id_l, id_r) if source_l == "learners" else (id_r, id_l)
        scored.append((float(probability), (str(pair[0]), str(pair[1]))))
    return SplinkResult(scored, len(predictions))

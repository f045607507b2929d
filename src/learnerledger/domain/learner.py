"""A learner as the student management system holds it, and what Xero needs before syncing it.

Pure data and rules: nothing here reads files, the network or the store. The sources
(Wisenet API, CSV export) build ``Learner`` values; the store keeps them; the Xero sync asks
``readiness()`` (or ``ready_for_xero()``, the same reasons as text) which learners it may
send.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

__all__ = ["REASON_CODES", "Address", "Learner", "Reason", "is_valid_email"]

# Every code a readiness reason can carry (``Learner.readiness()``): stable, for filters,
# scripts and the web UI; the messages may be reworded.
REASON_CODES = (
    "not_flagged",
    "missing_first_name",
    "missing_last_name",
    "missing_email",
    "invalid_email",
    "missing_address",
    "missing_address_line",
    "missing_state",
    "missing_postcode",
)

# What Xero and Wisenet accept as an address in practice: one @, no spaces, a dotted domain
# whose last label has at least two characters, no empty labels. Deliberately not RFC 5322:
# quoted local parts and IP-literal domains are legal there but refused by Xero.
_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}$"
)
_MAX_EMAIL = 254


def is_valid_email(text: str) -> bool:
    """True for an address Xero would store as a contact's EmailAddress."""
    if not text or len(text) > _MAX_EMAIL or not _EMAIL.match(text):
        return False
    local = text.split("@", 1)[0]
    return not (local.startswith(".") or local.endswith(".") or ".." in local)


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a learner cannot be synced to Xero yet: a stable ``code`` (one of
    :data:`REASON_CODES`), the ``message`` phrased as the fix, and the learner ``field`` at
    fault as the SMS export names it (empty when no single field is)."""

    code: str
    message: str
    field: str = ""


@dataclass(frozen=True, slots=True)
class Address:
    """A postal or street address. ``state`` is the short form (NSW, VIC ...) for Australia."""

    line: str = ""
    suburb: str = ""
    state: str = ""
    postcode: str = ""
    country: str = ""

    def is_empty(self) -> bool:
        return not (self.line or self.suburb or self.state or self.postcode or self.country)

    def is_complete(self) -> bool:
        """Wisenet's rule for syncing: an address with a state and a postcode."""
        return bool((self.line or self.suburb) and self.state and self.postcode)


@dataclass(frozen=True, slots=True)
class Learner:
    """One learner. ``ref_internal`` (Wisenet's LearnerNumber) identifies it everywhere.

    Phone numbers are E.164 (``+61412345678``) when they could be read, else as typed; each
    value kept as typed has a ``warnings`` entry saying so. ``source_modified`` is when the SMS
    last changed the learner (timezone-aware), when the source says.
    """

    ref_internal: str
    first_name: str = ""
    last_name: str = ""
    preferred_name: str = ""
    email: str = ""
    mobile: str = ""
    phone_home: str = ""
    phone_work: str = ""
    date_of_birth: date | None = None
    street: Address = field(default_factory=Address)
    postal: Address = field(default_factory=Address)
    sync_to_xero: bool = True
    source: str = "csv"
    source_id: str | None = None
    source_modified: datetime | None = None
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.ref_internal or self.ref_internal != self.ref_internal.strip():
            raise ValueError(f"ref_internal must be non-empty and trimmed: {self.ref_internal!r}")
        if self.source_modified is not None and self.source_modified.utcoffset() is None:
            raise ValueError("source_modified must be timezone-aware")

    def readiness(self) -> list[Reason]:
        """Every reason this learner cannot be synced to Xero yet, each with a stable code
        (:data:`REASON_CODES`) and a message phrased as the fix.

        Empty means ready. The rules are Wisenet's own: a first and a last name, a valid
        email address, and an address with a state and a postcode; and the learner must be
        flagged for Xero (code ``not_flagged``, which a sync may treat apart: such a learner
        is left out rather than invalid).
        """
        reasons: list[Reason] = []
        if not self.sync_to_xero:
            reasons.append(
                Reason(
                    "not_flagged",
                    "Tick Sync to Xero on this learner in the SMS if it belongs in Xero.",
                    "SyncToXero",
                )
            )
        if not self.first_name.strip():
            reasons.append(
                Reason("missing_first_name", "Add a first name in the SMS.", "FirstName")
            )
        if not self.last_name.strip():
            reasons.append(Reason("missing_last_name", "Add a last name in the SMS.", "LastName"))
        if not self.email.strip():
            reasons.append(Reason("missing_email", "Add an email address in the SMS.", "Email"))
        elif not is_valid_email(self.email.strip()):
            reasons.append(
                Reason(
                    "invalid_email",
                    f"Correct the email address {self.email.strip()!r} in the SMS: "
                    "it is not a valid address.",
                    "Email",
                )
            )
        reasons.extend(self._address_reasons())
        return reasons

    def ready_for_xero(self) -> list[str]:
        """The messages of :meth:`readiness`: every reason as its fix; empty means ready."""
        return [reason.message for reason in self.readiness()]

    def _address_reasons(self) -> list[Reason]:
        if self.street.is_complete() or self.postal.is_complete():
            return []
        if self.street.is_empty() and self.postal.is_empty():
            return [
                Reason("missing_address", "Add an address with its state and postcode in the SMS.")
            ]
        which, address = (
            ("street", self.street) if not self.street.is_empty() else ("postal", self.postal)
        )
        prefix = which.capitalize()  # the CSV columns: StreetState, PostalPostcode...
        reasons = []
        if not (address.line or address.suburb):
            reasons.append(
                Reason(
                    "missing_address_line",
                    f"Add the street line or suburb to the {which} address in the SMS.",
                    f"{prefix}Address",
                )
            )
        if not address.state:
            reasons.append(
                Reason(
                    "missing_state",
                    f"Add the state to the {which} address in the SMS.",
                    f"{prefix}State",
                )
            )
        if not address.postcode:
            reasons.append(
                Reason(
                    "missing_postcode",
                    f"Add the postcode to the {which} address in the SMS.",
                    f"{prefix}Postcode",
                )
            )
        return reasons

    @property
    def ready(self) -> bool:
        return not self.ready_for_xero()

    def content(self) -> dict[str, Any]:
        """The learner's data as plain JSON values (no source bookkeeping)."""
        return {
            "ref_internal": self.ref_internal,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "preferred_name": self.preferred_name,
            "email": self.email,
            "mobile": self.mobile,
            "phone_home": self.phone_home,
            "phone_work": self.phone_work,
            "date_of_birth": self.date_of_birth.isoformat() if self.date_of_birth else None,
            "street": _address_json(self.street),
            "postal": _address_json(self.postal),
            "sync_to_xero": self.sync_to_xero,
            "warnings": list(self.warnings),
        }

    def content_hash(self) -> str:
        """A stable digest of ``content()``: equal for learners that hold the same data."""
        text = json.dumps(self.content(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _address_json(address: Address) -> list[str]:
    return [address.line, address.suburb, address.state, address.postcode, address.country]

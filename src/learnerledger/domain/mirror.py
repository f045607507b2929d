"""What the local mirror of a Xero organisation holds, as plain values: the contacts and the
ways the planners look them up. Pure: the store's repositories build these from their rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ContactIndex", "MirroredContact", "name_key"]


def name_key(name: str) -> str:
    """How Xero may compare Names: case and spacing are not relied on to tell them apart."""
    return " ".join(name.split()).casefold()


@dataclass(frozen=True)
class MirroredContact:
    """A contact as the local mirror holds it."""

    contact_id: str
    name: str
    contact_number: str | None
    status: str
    merged_to: str | None
    updated_ms: int
    data: Mapping[str, Any]

    @property
    def active(self) -> bool:
        return self.status == "ACTIVE"


@dataclass
class ContactIndex:
    """The organisation's contacts, looked up the ways the plan needs."""

    by_id: dict[str, MirroredContact] = field(default_factory=dict)
    by_number: dict[str, list[MirroredContact]] = field(default_factory=dict)
    active_by_name: dict[str, list[MirroredContact]] = field(default_factory=dict)

    @classmethod
    def of(cls, contacts: Iterable[MirroredContact]) -> ContactIndex:
        index = cls()
        for c in contacts:
            index.add(c)
        return index

    def add(self, c: MirroredContact) -> None:
        old = self.by_id.get(c.contact_id)
        if old is not None:
            self._forget(old)
        self.by_id[c.contact_id] = c
        if c.contact_number and c.contact_number.strip():
            self.by_number.setdefault(c.contact_number.strip().casefold(), []).append(c)
        if c.active:
            self.active_by_name.setdefault(name_key(c.name), []).append(c)

    def _forget(self, c: MirroredContact) -> None:
        if c.contact_number and c.contact_number.strip():
            self.by_number[c.contact_number.strip().casefold()].remove(c)
        if c.active:
            self.active_by_name[name_key(c.name)].remove(c)

    def with_number(self, number: str) -> list[MirroredContact]:
        return list(self.by_number.get(number.strip().casefold(), []))

    def holding_name(self, name: str) -> list[MirroredContact]:
        return list(self.active_by_name.get(name_key(name), []))

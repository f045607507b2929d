"""Which branding theme the organisation's invoices print with, and whether it is the invoice
template that prints the learner's first and last name instead of the contact's Name.

The contact's Name carries the learner's RefInternal (it must be unique in Xero), and Xero's
standard themes print the Name. The template this project ships (``learnerledger template
invoice``) prints ``ContactFirstName`` and ``ContactLastName`` instead. Xero's API cannot upload
a template or choose the default theme (both are done in Xero's Invoice settings), but it can
read the themes (``GET /BrandingThemes``, scope ``accounting.settings.read``): the default is the
theme with ``SortOrder`` 0. A contact may name a theme of its own (``Contact.BrandingTheme``),
which its invoices then use instead; those contacts are read from the local mirror, at no cost.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from learnerledger.domain.mirror import MirroredContact
from learnerledger.store import Store, links, mirror

__all__ = [
    "DEFAULT_TEMPLATE_THEME",
    "BrandingCheck",
    "BrandingTheme",
    "ThemeReader",
    "check_branding",
    "check_organisation",
    "parse_themes",
    "read_themes",
]

# The name the invoice-template guide asks to give the uploaded template in Xero.
DEFAULT_TEMPLATE_THEME = "Learners (first and last name)"


class ThemeReader(Protocol):
    """A Xero client that can send one GET (``XeroClient.request``) for its organisation."""

    connection: Any

    @property
    def organisation(self) -> str: ...

    def request(self, method: str, path: str) -> Any: ...


@dataclass(frozen=True)
class BrandingTheme:
    theme_id: str
    name: str
    sort_order: int

    def as_json(self) -> dict[str, Any]:
        return {"theme_id": self.theme_id, "name": self.name, "sort_order": self.sort_order}


@dataclass
class BrandingCheck:
    """The answer of ``learnerledger check xero``: ``ok`` when learners' invoices print with
    the template; otherwise ``problems`` say what is wrong and how to fix it."""

    organisation: str
    expected: str
    themes: list[BrandingTheme]
    default: BrandingTheme | None
    overriding: list[tuple[str, str, str]] = field(default_factory=list)  # id, Name, theme
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "organisation": self.organisation,
            "ok": self.ok,
            "expected_theme": self.expected,
            "default_theme": self.default.as_json() if self.default else None,
            "themes": [t.as_json() for t in self.themes],
            "contacts_with_own_theme": [
                {"contact_id": cid, "name": name, "theme": theme}
                for cid, name, theme in self.overriding
            ],
            "problems": self.problems,
        }


def parse_themes(data: Mapping[str, Any] | None) -> list[BrandingTheme]:
    """Xero's ``BrandingThemes`` answer, default first; items without an id or name are
    skipped (Xero always sends both)."""
    themes = [
        BrandingTheme(
            str(item["BrandingThemeID"]), str(item["Name"]), int(item.get("SortOrder", 0))
        )
        for item in (data or {}).get("BrandingThemes") or ()
        if isinstance(item, Mapping) and item.get("BrandingThemeID") and item.get("Name")
    ]
    return sorted(themes, key=lambda t: (t.sort_order, t.name))


def read_themes(client: ThemeReader) -> list[BrandingTheme]:
    """The organisation's branding themes: one call."""
    return parse_themes(client.request("GET", "BrandingThemes"))


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def check_branding(
    organisation: str,
    themes: list[BrandingTheme],
    learner_contacts: Iterable[MirroredContact],
    *,
    expected: str = DEFAULT_TEMPLATE_THEME,
) -> BrandingCheck:
    """Whether invoices of the learners' contacts print with the theme named ``expected``."""
    default = themes[0] if themes else None
    check = BrandingCheck(organisation, expected, themes, default)
    if not any(_same(t.name, expected) for t in themes):
        names = ", ".join(f"'{t.name}'" for t in themes) or "none"
        check.problems.append(
            f"No branding theme is named '{expected}' (the organisation has {names}), so "
            "invoices print the contact's Name, with the learner's RefInternal. Fix: upload the "
            "template (learnerledger template invoice) in Xero under Settings > Invoice "
            f"settings > New Branding Theme > Custom .docx, name it '{expected}' and make it "
            "the default (docs/invoice-template.md); or pass --theme with the name you gave it."
        )
    elif default is not None and not _same(default.name, expected):
        check.problems.append(
            f"Invoices use the default theme '{default.name}', not '{expected}'. Fix: in Xero, "
            f"Settings > Invoice settings, open the options of '{expected}' and choose "
            "'Make default' (docs/invoice-template.md)."
        )
    for contact in learner_contacts:
        own = contact.data.get("BrandingTheme")
        name = str(own.get("Name") or "") if isinstance(own, Mapping) else ""
        if name and not _same(name, expected):
            check.overriding.append((contact.contact_id, contact.name, name))
    if check.overriding:
        check.problems.append(
            f"{len(check.overriding)} learner contacts name a branding theme of their own, "
            "which their invoices use instead of the default. Fix: in Xero, open each contact "
            f"(listed with --json), Edit, and set its branding theme to '{expected}'."
        )
    return check


def check_organisation(
    store: Store, client: ThemeReader, *, expected: str = DEFAULT_TEMPLATE_THEME
) -> BrandingCheck:
    """``learnerledger check xero``: the themes (one call) and the learners' own contacts as
    the local mirror holds them (no call)."""
    themes = read_themes(client)
    with store.read() as conn:
        linked, _ = links.load_links(conn, client.connection.id)
        index = mirror.load_contact_index(conn, client.connection.id)
    contacts = [index.by_id[c] for c in linked.values() if c in index.by_id]
    return check_branding(client.organisation, themes, contacts, expected=expected)

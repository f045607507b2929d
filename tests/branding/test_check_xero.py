"""``learnerledger check xero`` over HTTP against the Xero sandbox: the default branding theme
read from ``GET /BrandingThemes``, before and after the invoice template is uploaded and made
the default (the sandbox's stand-in for Xero's Invoice settings)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from conftest import XeroSandbox, connect_custom_cli, run_cli
from learnerledger.domain.mirror import MirroredContact
from learnerledger.store import Store
from learnerledger.xero.branding import (
    DEFAULT_TEMPLATE_THEME,
    BrandingTheme,
    check_branding,
    parse_themes,
)


def _upload(sandbox: XeroSandbox, name: str, *, default: bool) -> list[dict[str, Any]]:
    (org,) = sandbox.store.organisations()
    answer = httpx.post(
        f"{sandbox.url}/sandbox/organisations/{org.tenant_id}/branding-themes",
        json={"Name": name, "Default": default},
    )
    assert answer.status_code == 200, answer.text
    themes: list[dict[str, Any]] = answer.json()
    return themes


def test_check_xero_follows_the_default_theme(
    xero_sandbox: XeroSandbox, store: Store, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    connect_custom_cli(store, home, xero_sandbox)

    first = run_cli(store, home, "check", "xero", "--json")
    assert first.exit_code == 1
    report = json.loads(first.stdout)
    assert report["default_theme"]["name"] == "Standard"
    assert report["default_theme"]["sort_order"] == 0
    assert not report["ok"]
    assert "No branding theme is named" in report["problems"][0]

    _upload(xero_sandbox, DEFAULT_TEMPLATE_THEME, default=False)
    uploaded = run_cli(store, home, "check", "xero")
    assert uploaded.exit_code == 1
    assert "invoices use the branding theme 'Standard'" in uploaded.stdout
    assert "Make default" in uploaded.stderr

    themes = _upload(xero_sandbox, DEFAULT_TEMPLATE_THEME, default=True)
    assert [t["Name"] for t in themes] == [DEFAULT_TEMPLATE_THEME, "Standard"]
    assert [t["SortOrder"] for t in themes] == [0, 1]
    done = run_cli(store, home, "check", "xero")
    assert done.exit_code == 0, done.output
    assert f"invoices use the branding theme '{DEFAULT_TEMPLATE_THEME}'" in done.stdout

    named = run_cli(store, home, "check", "xero", "--theme", "Standard", "--json")
    assert named.exit_code == 1
    assert json.loads(named.stdout)["expected_theme"] == "Standard"


def test_the_sandbox_serves_themes_as_xero_does(xero_sandbox: XeroSandbox) -> None:
    (org,) = xero_sandbox.store.organisations()
    bad = httpx.post(
        f"{xero_sandbox.url}/sandbox/organisations/{org.tenant_id}/branding-themes",
        json={"Name": "  "},
    )
    assert bad.status_code == 400
    assert "Name" in bad.json()["error"]
    missing = httpx.get(f"{xero_sandbox.url}/sandbox/organisations/nope/branding-themes")
    assert missing.status_code == 404


def _contact(contact_id: str, theme: str | None) -> MirroredContact:
    data: dict[str, Any] = {"ContactID": contact_id, "Name": f"Learner {contact_id}"}
    if theme:
        data["BrandingTheme"] = {"BrandingThemeID": "x", "Name": theme}
    return MirroredContact(contact_id, data["Name"], None, "ACTIVE", None, 0, data)


def test_a_contacts_own_theme_is_reported() -> None:
    themes = [BrandingTheme("a", DEFAULT_TEMPLATE_THEME, 0), BrandingTheme("b", "Standard", 1)]
    contacts = [
        _contact("1", None),
        _contact("2", "Standard"),
        _contact("3", DEFAULT_TEMPLATE_THEME),
    ]
    result = check_branding("Org", themes, contacts)
    assert [c[0] for c in result.overriding] == ["2"]
    assert not result.ok
    assert "1 learner contacts name a branding theme of their own" in result.problems[0]
    assert check_branding("Org", themes, contacts[:1]).ok


def test_themes_are_read_default_first_and_malformed_items_skipped() -> None:
    data = {
        "BrandingThemes": [
            {"BrandingThemeID": "b", "Name": "Second", "SortOrder": 1},
            {"Name": "no id"},
            {"BrandingThemeID": "a", "Name": "First", "SortOrder": 0},
        ]
    }
    assert [t.name for t in parse_themes(data)] == ["First", "Second"]
    assert parse_themes(None) == []
    assert not check_branding("Org", [], []).ok

"""Driving Debian's Chromium with Playwright for the web UI's browser tests and screenshots,
and the axe-core accessibility check (axe.min.js as the axe-playwright-python package ships
it: no CDN, no downloaded browser)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("LEARNERLEDGER_CHROMIUM", "/usr/bin/chromium")


def axe_source() -> str:
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text("utf-8")


def launch(playwright: Any) -> Any:
    """Headless Chromium from Debian's package (``apt-get install chromium``)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True)


def axe_violations(
    page: Any, source: str, impacts: tuple[str, ...] = ("serious", "critical")
) -> list[str]:
    """The axe-core violations of the page as it stands, of the given impacts, one line each."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(source)  # evaluated by the driver: the page's CSP does not apply
    result = page.evaluate("async () => JSON.stringify((await axe.run(document)).violations)")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(n["target"]) for n in v["nodes"][:3])
        for v in json.loads(result)
        if v.get("impact") in impacts
    ]


def sign_in(page: Any, url: str, name: str, password: str) -> None:
    if "/login" not in page.url:
        page.goto(url + "/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda address: "/login" not in address)

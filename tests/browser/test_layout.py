"""Every page at a phone's width (390 px) and a laptop's (1,366 px): nothing
wider than the window, and no serious or critical axe-core violation."""

from __future__ import annotations

import pytest

from tests.browser.conftest import axe_violations, shot
from tests.browser.test_dashboard import log_in

WIDTHS = (390, 1366)
# (screenshot name, path, who looks at it)
PAGES = [
    ("intake", "/", "budi"),
    ("case", "/kasus/ADU-7K3M-9Q2D", "budi"),
    ("case-anonim", "/kasus/ADU-8D2F-1ABC", "budi"),
    ("case-resolved", "/kasus/ADU-8D2F-1ABE", "budi"),
    ("triage", "/triase", "budi"),
    ("channels", "/kanal", "budi"),
    ("summary", "/ringkasan", "budi"),
    ("admin", "/admin", "admin"),
    ("audit", "/audit", "admin"),
    ("account", "/akun", "pupr"),
    ("agency-intake", "/", "pupr"),
    ("agency-case", "/kasus/ADU-9X4Y-2DEF", "pupr"),
    ("api-docs", "/api/docs", None),
]


def _open(page, path, who):
    if who is not None:
        log_in(page, who)
    page.goto(path)
    assert page.url.endswith(path), page.url


def _overflow(page):
    """How many pixels the page is wider than the window (0: none)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_is_wider_than_the_window(page, width):
    # before: the re-route <select> made the case page 1,544 px wide at 1,366
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/login")
    assert _overflow(page) == 0
    shot(page, "login" if width == 1366 else f"login-{width}")
    for name, path, who in PAGES:
        page.context.clear_cookies()
        _open(page, path, who)
        assert _overflow(page) == 0, f"{path} as {who} at {width} px"
        shot(page, name if width == 1366 else f"{name}-{width}")


def test_the_agency_select_stays_inside_the_actions_column(page):
    log_in(page)
    page.goto("/kasus/ADU-7K3M-9Q2D")
    aside = page.locator("aside.actions").bounding_box()
    select = page.locator("#reroute select").bounding_box()
    assert select["x"] + select["width"] <= aside["x"] + aside["width"] + 1


@pytest.mark.parametrize("width", WIDTHS)
def test_no_serious_accessibility_violation_on_any_page(axe_page, width):
    axe_page.set_viewport_size({"width": width, "height": 900})
    axe_page.goto("/login")
    found = {"/login": axe_violations(axe_page)}
    for _, path, who in PAGES:
        axe_page.context.clear_cookies()
        _open(axe_page, path, who)
        found[f"{path} ({who})"] = axe_violations(axe_page)
    assert {k: v for k, v in found.items() if v} == {}

"""The pop of a caller who spoke in the menu instead of pressing (call_spoke, issue 11): the
console says so, in Vietnamese and English, and the menu's path says how long they spoke."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from queueing.routing import wall_clock_ms
from tests.browser.conftest import Server, Shots
from tests.browser.test_console import DESK, LIVE_WAIT_MS, signed_in, user  # noqa: F401 (user: a fixture)

# signed in as test_console.py's police call-taker at desk-101
pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("user")]


def test_a_caller_who_spoke_pops_as_spoke_no_key(page: Page, shots: Shots, server: Server) -> None:
    signed_in(page, shots)
    server.routing.set_desk_state(DESK, "ready")
    now = wall_clock_ms()
    server.routing.arrive("c-spoke", "0912345679", "PJSIP/trunk-spoke", language="vi", now_ms=now - 2100)
    queued = server.routing.spoke("c-spoke", 0, 1600, now_ms=now)
    assert queued is not None and queued.queue == "general"
    claim = server.routing.claim_next(["police"], 30_000)
    assert claim is not None and (claim.call_id, claim.desk_id) == ("c-spoke", DESK)

    expect(page.locator("#pop")).to_be_visible(timeout=LIVE_WAIT_MS)
    expect(page.locator("#pop-ivr")).to_have_text("gọi nói, không bấm phím · tiếng Việt")
    expect(page.locator("#slot-number #pop-path li")).to_have_text(["nói 1.6 s, không bấm phím · 2.1 s"])
    shots.take("a caller who spoke, vi")
    page.keyboard.press("n")
    expect(page.locator("#pop-ivr")).to_have_text("spoke, no key · in Vietnamese")
    expect(page.locator("#slot-number #pop-path li")).to_have_text(["spoke 1.6 s, no key · 2.1 s"])
    shots.take("a caller who spoke, en")

"""The console's Hold / Resume key in headless chromium: G puts the caller on hold (a command for
the bridge), the panel says ON HOLD in words and a symbol while the record says held, and G again
resumes."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, Shots
from tests.browser.test_console import LIVE_WAIT_MS, signed_in, user  # noqa: F401 (user: a fixture)
from tests.browser.test_console_call import COMMANDS, answered

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("user")]


def test_g_holds_and_resumes_and_the_panel_says_on_hold(page: Page, shots: Shots, server: Server) -> None:
    signed_in(page, shots)
    answered(server, page, "c-hold")
    button = page.locator("#hold-button")
    expect(button).to_contain_text("G")

    page.keyboard.press("g")
    state = page.locator("#hold-state")
    expect(state).to_contain_text("⏸", timeout=LIVE_WAIT_MS)
    expect(state).to_contain_text("ĐANG GIỮ MÁY")
    assert server.routing.call("c-hold")["held"] == "1"
    shots.take("on hold")

    page.keyboard.press("g")
    expect(state).to_be_hidden(timeout=LIVE_WAIT_MS)
    assert server.routing.call("c-hold")["held"] == "0"
    assert [c[1]["action"] for c in server.client.xrange(COMMANDS)] == ["hold", "resume"]

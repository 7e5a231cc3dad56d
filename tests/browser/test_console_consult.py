"""A consultative transfer from the console in headless chromium: C in the transfer dialog switches
to consult, the agency's digit starts it (the caller on hold, a fire desk rings), O completes once
the fire desk answered and Q cancels: each a command for the bridge."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, Shots
from tests.browser.test_console import LIVE_WAIT_MS, signed_in, user  # noqa: F401 (user: a fixture)
from tests.browser.test_console_call import COMMANDS, answered, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("user")]


def test_c_switches_to_consult_then_o_completes_and_q_cancels(page: Page, shots: Shots, server: Server) -> None:
    server.routing.set_desk_state("desk-201", "ready")
    signed_in(page, shots)
    answered(server, page, "c-consult")

    page.keyboard.press("t")
    dialog = page.locator("#transfer-dialog")
    expect(dialog).to_be_visible()
    mode = page.locator("#transfer-mode")
    expect(mode).to_have_attribute("data-mode", "blind")
    page.keyboard.press("c")
    expect(mode).to_have_attribute("data-mode", "consult")
    shots.take("consult chosen")
    page.keyboard.press("2")  # fire's digit
    expect(dialog).to_be_hidden()
    assert wait_for(lambda: server.routing.transfer("c-consult").get("transfer_state") == "ringback")
    assert server.routing.transfer("c-consult")["target_desk"] == "desk-201"
    complete = page.locator("#consult-complete")
    expect(complete).to_be_disabled(timeout=LIVE_WAIT_MS)  # the fire desk has not answered yet
    expect(page.locator("#consult-conference")).to_be_disabled()

    server.routing.transfer_step("c-consult", "ringback", "answered")  # what the bridge does on the answer
    expect(complete).to_be_enabled(timeout=LIVE_WAIT_MS)
    shots.take("consulting")
    conference = page.locator("#consult-conference")
    expect(conference).to_be_enabled()
    page.keyboard.press("k")
    assert wait_for(lambda: [c[1]["action"] for c in server.client.xrange(COMMANDS)][-1:] == ["consult_conference"])
    page.keyboard.press("o")
    assert wait_for(lambda: [c[1]["action"] for c in server.client.xrange(COMMANDS)][-1:] == ["consult_complete"])
    page.keyboard.press("q")
    assert wait_for(lambda: [c[1]["action"] for c in server.client.xrange(COMMANDS)][-1:] == ["consult_cancel"])
    assert [c[1]["action"] for c in server.client.xrange(COMMANDS)] == [
        "consult", "consult_conference", "consult_complete", "consult_cancel"]

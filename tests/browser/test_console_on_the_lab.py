"""The console on the real lab: Asterisk 22, the bridge, a SIPp caller and a SIPp desk phone,
with the page in headless chromium on an API over the lab's Redis.

A call-taker signs in and goes Ready by key; a caller presses 1; the pop shows the number, the
agency, the menu path and the timers while the desk phone still rings; the incident typed during
the call is there again after the browser was closed and opened anew."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from hotline.lab.lab import Lab
from queueing.accounts import Accounts, check_user
from queueing.incidents import Incidents
from tests.browser.conftest import CITY, Server, Shots, serving
from tests.browser.test_console import DESK, PASSWORD, USER, wait_for
from tests.lab_fixtures import Phones, wait_call

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CALLER = "0933000001"


@pytest.fixture
def lab_server(hotline: Lab) -> Iterator[Server]:
    """The API over the lab's Redis (the bridge's, its desks registered), with the police call-taker's account."""
    with serving(hotline.started_redis_url(), register_desks=False) as server:
        Accounts(server.client).add_user(check_user(CITY, USER, "call_taker", "police", None), PASSWORD)
        yield server


@pytest.fixture
def lab_page(browser, lab_server: Server) -> Iterator[Page]:
    context = browser.new_context(base_url=lab_server.url, locale="vi-VN", viewport={"width": 1100, "height": 720})
    context.set_default_timeout(5000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    context.close()
    assert not errors, f"the page threw: {errors}"


def sign_in(page: Page, user: str = USER, desk: str = DESK) -> None:
    page.goto("/console")
    page.fill("#signin-user", user)
    page.fill("#signin-password", PASSWORD)
    page.fill("#signin-desk", desk)
    page.press("#signin-password", "Enter")
    expect(page.locator("#live")).to_have_attribute("data-live", "yes")


def test_the_pop_is_up_while_the_phone_rings_and_the_incident_outlives_the_browser(
        hotline: Lab, phones: Phones, lab_server: Server, lab_page: Page, browser, request) -> None:
    shots = Shots(lab_page, request.node.name)
    # The desk phone answers after 4 s: the pop must be whole before that.
    phones.desk(DESK, ready=False, answer_after_ms=4000, talk_ms=30_000)
    sign_in(lab_page)
    lab_page.keyboard.press("r")
    assert wait_for(lambda: hotline.routing().desk(DESK).get("state") == "ready", timeout=3)

    phones.citizen(CALLER, "1", stay_ms=60_000)
    pop = lab_page.locator("#pop")
    expect(pop).to_have_attribute("data-state", "ringing", timeout=20_000)
    expect(lab_page.locator("#pop-caller")).to_have_text(CALLER)
    expect(lab_page.locator("#pop-queue")).to_have_text("Công an · POLICE")
    expect(lab_page.locator("#pop-ivr")).to_contain_text("bấm 1")
    expect(lab_page.locator("#pop-path li").last).to_contain_text("phím 1")
    expect(lab_page.locator("#pop-ring")).to_have_text("00:01", timeout=3000)  # the ring timer counts
    assert hotline.routing().desk(DESK)["state"] == "ringing"  # all of it before the answer
    shots.take("pop while ringing")

    record = wait_call(hotline, CALLER, ("on_call",), timeout=15)
    expect(lab_page.locator("#desk-state")).to_have_attribute("data-state", "on_call")
    lab_page.fill("#incident-location", "Số 5 Lý Thường Kiệt, Hoàn Kiếm")
    lab_page.fill("#incident-note", "khói ở tầng hai")
    lab_page.press("#incident-note", "Enter")
    incidents = Incidents(lab_server.client)
    assert wait_for(lambda: (incidents.get(record["call_id"]) or {}).get("location_text")
                    == "Số 5 Lý Thường Kiệt, Hoàn Kiếm" and incidents.get(record["call_id"])["notes"], timeout=5)
    shots.take("incident typed")

    # The browser closes; a new one signs in at the desk: the call and its incident are there.
    lab_page.context.close()
    again = browser.new_context(base_url=lab_server.url, locale="vi-VN", viewport={"width": 1100, "height": 720})
    page = again.new_page()
    try:
        sign_in(page)
        expect(page.locator("#pop-caller")).to_have_text(CALLER)
        expect(page.locator("#incident-location")).to_have_value("Số 5 Lý Thường Kiệt, Hoàn Kiếm")
        expect(page.locator("#incident-notes .note-text")).to_have_text(["khói ở tầng hai"])
        Shots(page, request.node.name + "-reopened").take("after the browser was reopened")
    finally:
        again.close()


FIRE_USER, FIRE_DESK = "minh.tran", "desk-201"


def test_a_blind_transfer_by_key_reaches_a_fire_desk_whose_console_shows_the_incident(
        hotline: Lab, phones: Phones, lab_server: Server, lab_page: Page, browser, request) -> None:
    Accounts(lab_server.client).add_user(check_user(CITY, FIRE_USER, "call_taker", "fire", None), PASSWORD)
    phones.desk(DESK, ready=False, answer_after_ms=500, talk_ms=60_000)
    phones.desk(FIRE_DESK, ready=False, answer_after_ms=3000, talk_ms=60_000)
    fire_context = browser.new_context(base_url=lab_server.url, locale="vi-VN", viewport={"width": 1100, "height": 720})
    fire = fire_context.new_page()
    try:
        sign_in(fire, FIRE_USER, FIRE_DESK)
        fire.keyboard.press("r")
        sign_in(lab_page)
        lab_page.keyboard.press("r")
        assert wait_for(lambda: hotline.routing().desk(DESK).get("state") == "ready", timeout=3)

        phones.citizen(CALLER, "1", stay_ms=90_000)
        record = wait_call(hotline, CALLER, ("on_call",), timeout=20)
        call_id = record["call_id"]
        lab_page.fill("#incident-location", "Ngõ 12 Hàng Bạc: cháy bếp")
        assert wait_for(lambda: (Incidents(lab_server.client).get(call_id) or {}).get("location_text"), timeout=5)

        lab_page.keyboard.press("Escape")
        lab_page.locator("#incident-location").blur()
        lab_page.keyboard.press("t")
        lab_page.keyboard.press("2")  # fire
        expect(lab_page.locator("#desk-state")).to_have_attribute("data-state", "wrap_up", timeout=10_000)
        Shots(lab_page, request.node.name + "-police").take("police desk after the transfer")

        # The fire desk phone rings with the caller; its console pops the call with police's incident so far.
        expect(fire.locator("#pop-caller")).to_have_text(CALLER, timeout=15_000)
        expect(fire.locator("#pop-queue")).to_contain_text("Cứu hỏa")
        expect(fire.locator("#incident-location")).to_have_value("Ngõ 12 Hàng Bạc: cháy bếp")
        expect(fire.locator("#pop-transferred")).to_have_text("↪ Được chuyển từ bàn desk-101 (Công an)")
        Shots(fire, request.node.name + "-fire").take("fire desk rings with the incident")
        answered = wait_call(hotline, CALLER, ("on_call",), timeout=15)
        assert (answered["desk"], answered["transferred_from"]) == (FIRE_DESK, DESK)
        expect(fire.locator("#desk-state")).to_have_attribute("data-state", "on_call")
    finally:
        fire_context.close()

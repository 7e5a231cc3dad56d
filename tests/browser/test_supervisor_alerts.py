"""Supervisor alerts in headless chromium, on the supervisors' page (GET /supervisor, its alert bar
drawn by alerts.js): with no police desk logged in the critical alert shows, in words and a symbol,
and sounds; a supervisor acknowledges it by key and the bar says by whom and when; a viewer sees it
without an acknowledge button, and the API refuses a viewer's acknowledgement (403).

The evaluation step is called here directly (the API's loop is off in tests)."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from queueing.accounts import Accounts, check_user
from queueing.alert_store import AlertStore
from tests.browser.conftest import CITY, Requests, Server, Shots

pytestmark = pytest.mark.browser

SUPERVISOR, VIEWER, PASSWORD = "lan.tran", "wall.screen", "correct horse battery staple"
NO_POLICE_VI = "không có bàn trực Công an nào đăng nhập"


@pytest.fixture
def no_police_desk(server: Server) -> str:
    """Every agency but police has a desk logged in; the alert evaluated once. Its alert id."""
    for desk in CITY.desks:
        if desk.agency != "police":
            server.routing.set_desk_state(desk.id, "ready")
    accounts = Accounts(server.client)
    accounts.add_user(check_user(CITY, SUPERVISOR, "supervisor", None, None), PASSWORD)
    accounts.add_user(check_user(CITY, VIEWER, "viewer", None, None), PASSWORD)
    store = AlertStore(server.client)
    store.evaluate(CITY)
    (alert,) = store.active()
    assert (alert["kind"], alert["subject"], alert["level"]) == ("no_desk", "police", "critical")
    return alert["alert_id"]


def open_board(page: Page, user: str) -> None:
    signed = page.request.post("/session", data={"user": user, "password": PASSWORD, "desk": None})
    assert signed.ok, signed.text()
    page.goto("/supervisor")


def test_a_supervisor_acknowledges_the_no_police_desk_alert(page: Page, shots: Shots, server: Server,
                                                            requests_seen: Requests, no_police_desk: str) -> None:
    open_board(page, SUPERVISOR)
    line = page.locator(f'#alerts li[data-alert-id="{no_police_desk}"]')
    expect(line).to_be_visible()
    expect(line.locator(".alert-level")).to_have_text("▲ NGHIÊM TRỌNG")  # the level in words and a symbol
    expect(line.locator(".alert-text")).to_have_text(NO_POLICE_VI)
    expect(line.locator(".alert-time")).to_have_text(re.compile(r"^\d{2}:\d{2}:\d{2}$"))
    expect(line.locator("button.alert-ack")).to_be_visible()
    expect(page.locator("#alerts")).not_to_have_attribute("data-beeps", "0")  # it sounded
    shots.take("critical alert")

    page.keyboard.press("a")  # the newest unacknowledged alert
    expect(line.locator(".alert-acked-by")).to_have_text(re.compile(rf"^đã xác nhận bởi {SUPERVISOR} lúc \d{{2}}:\d{{2}}:\d{{2}}$"))
    expect(line.locator("button.alert-ack")).to_have_count(0)
    shots.take("acknowledged")
    (alert,) = AlertStore(server.client).active()
    assert alert["acked_by"] == SUPERVISOR and alert["acked_ms"]

    # in English, the same alert in the other words
    page.evaluate("document.documentElement.lang = 'en'")
    expect(line.locator(".alert-level")).to_have_text("▲ CRITICAL")
    expect(line.locator(".alert-text")).to_have_text("no Police desk logged in")
    expect(line.locator(".alert-acked-by")).to_have_text(re.compile(rf"^acknowledged by {SUPERVISOR} at \d{{2}}:\d{{2}}:\d{{2}}$"))

    # a police desk logs in: the alert is cleared from the bar, live
    server.routing.set_desk_state("desk-101", "ready")
    AlertStore(server.client).evaluate(CITY)
    expect(line).to_have_count(0)
    shots.take("cleared")
    # the bar heard it on the page's own stream: past the moment it would open its own, still one
    page.wait_for_timeout(3500)
    assert [u for u in requests_seen.urls if "/events" in u] == [f"{server.url}/events"]


def test_a_viewer_sees_the_alert_but_cannot_acknowledge_it(page: Page, shots: Shots, server: Server,
                                                            no_police_desk: str) -> None:
    open_board(page, VIEWER)
    line = page.locator(f'#alerts li[data-alert-id="{no_police_desk}"]')
    expect(line.locator(".alert-text")).to_have_text(NO_POLICE_VI)
    expect(page.locator("#alerts button")).to_have_count(0)
    page.keyboard.press("a")
    shots.take("viewer")
    session = page.request.get("/session").json()
    refused = page.request.post(f"/alerts/{quote(no_police_desk, safe='')}/ack",
                                headers={"X-CSRF-Token": session["csrf"]})
    assert refused.status == 403, refused.text()
    assert AlertStore(server.client).active()[0]["acked_by"] == ""
    expect(line.locator(".alert-acked-by")).to_have_count(0)


def test_an_unacknowledged_critical_alert_sounds_again_until_acknowledged(page: Page, no_police_desk: str) -> None:
    # The page's own clock, run forward: every repeat_critical_s the three beeps again, none after the ack.
    repeat_ms = CITY.supervision.alerts.repeat_critical_s * 1000
    page.clock.install()
    open_board(page, SUPERVISOR)
    bar = page.locator("#alerts")
    expect(bar.locator(f'li[data-alert-id="{no_police_desk}"]')).to_be_visible()
    expect(bar).to_have_attribute("data-beeps", "1")  # it sounded when it appeared

    page.clock.run_for(repeat_ms - 2000)
    expect(bar).to_have_attribute("data-beeps", "1")  # not before its time
    page.clock.run_for(2000)
    expect(bar).to_have_attribute("data-beeps", "2")
    page.clock.run_for(repeat_ms)
    expect(bar).to_have_attribute("data-beeps", "3")

    page.keyboard.press("a")
    expect(bar.locator(".alert-acked-by")).to_be_visible()
    page.clock.run_for(3 * repeat_ms)
    expect(bar).to_have_attribute("data-beeps", "3")  # acknowledged: silent


def test_asterisk_out_of_rtp_ports_is_worded_in_each_language(page: Page, server: Server) -> None:
    for desk in CITY.desks:
        server.routing.set_desk_state(desk.id, "ready")
    Accounts(server.client).add_user(check_user(CITY, SUPERVISOR, "supervisor", None, None), PASSWORD)
    tally = {"shortages": 9, "callers_refused": 7, "desks_unrung": 2, "desks": ["desk-101"],
             "line": "ERROR[1] res_rtp_asterisk.c: Oh dear... we couldn't allocate a port for RTP instance '0x1'"}
    server.routing.resource_shortage("/var/log/asterisk/warnings.log", "8:1", 0, 900, "host:4573",
                                     json.dumps({"rtp_ports": tally}))
    store = AlertStore(server.client)
    store.evaluate(CITY)
    (alert,) = store.active()
    open_board(page, SUPERVISOR)
    line = page.locator(f'#alerts li[data-alert-id="{alert["alert_id"]}"]')
    expect(line.locator(".alert-level")).to_have_text("▲ NGHIÊM TRỌNG")
    expect(line.locator(".alert-text")).to_have_text(
        "Asterisk hết cổng RTP 9 lần trong 15 phút qua: 7 người gọi bị từ chối, 2 lần không đổ chuông được bàn trực")
    page.evaluate("document.documentElement.lang = 'en'")
    expect(line.locator(".alert-text")).to_have_text(
        "Asterisk ran out of RTP ports 9 times in the last 15 min: 7 callers refused, 2 desk rings failed")

"""Supervisor alerts on the real lab: the lab's own ``hotline api`` (its alert loop on, as in
production) over the lab's Redis, with the bridge and Asterisk running. No police desk is logged in:
the loop raises the critical alert, the supervisor's page shows and sounds it, the supervisor
acknowledges it by key; a police desk phone then logs in and the loop clears it from the page."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from hotline.lab.lab import Lab
from queueing.accounts import Accounts, check_user
from tests.browser.conftest import CITY, Shots
from tests.lab_fixtures import Phones

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SUPERVISOR, PASSWORD = "minh.do", "correct horse battery staple"
LOOP_WAIT_MS = 15_000  # the loop evaluates every 2 s; slack for a loaded machine


@pytest.fixture
def lab_api(hotline: Lab) -> Iterator[str]:
    """``hotline api`` of the lab (alerts evaluated by its own loop), a supervisor's account; its URL.
    Every agency but police has a desk logged in before the loop starts."""
    routing = hotline.routing()
    for desk in CITY.desks:
        if desk.agency != "police":
            routing.set_desk_state(desk.id, "ready")
    Accounts(routing.redis).add_user(check_user(CITY, SUPERVISOR, "supervisor", None, None), PASSWORD)
    url = hotline.start_api()
    try:
        yield url
    finally:
        hotline.stop_api()


@pytest.fixture
def board(browser, lab_api: str) -> Iterator[Page]:
    context = browser.new_context(base_url=lab_api, locale="vi-VN", viewport={"width": 1100, "height": 720})
    context.set_default_timeout(5000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    context.close()
    assert not errors, f"the page threw: {errors}"


def test_the_labs_api_raises_acknowledges_and_clears_the_no_police_desk_alert(
        hotline: Lab, phones: Phones, lab_api: str, board: Page, request) -> None:
    shots = Shots(board, request.node.name)
    routing = hotline.routing()
    signed = board.request.post("/session", data={"user": SUPERVISOR, "password": PASSWORD, "desk": None})
    assert signed.ok, signed.text()
    board.goto("/supervisor")

    line = board.locator('#alerts li[data-level="critical"]')
    expect(line).to_have_count(1, timeout=LOOP_WAIT_MS)
    expect(line.locator(".alert-level")).to_have_text("▲ NGHIÊM TRỌNG")
    expect(line.locator(".alert-text")).to_have_text("không có bàn trực Công an nào đăng nhập")
    expect(board.locator("#alerts")).not_to_have_attribute("data-beeps", "0")
    shots.take("raised by the API's loop")

    board.keyboard.press("a")
    expect(line.locator(".alert-acked-by")).to_have_text(re.compile(rf"^đã xác nhận bởi {SUPERVISOR} lúc \d{{2}}:\d{{2}}:\d{{2}}$"))
    shots.take("acknowledged")
    types = [e["type"] for e in routing.events(1000) if e["type"].startswith("alert")]
    assert types == ["alert_raised", "alert_ack"]

    phones.desk("desk-101", ready=True)  # a police desk phone registers and logs in
    expect(board.locator("#alerts li")).to_have_count(0, timeout=LOOP_WAIT_MS)
    shots.take("cleared")
    cleared = [e for e in routing.events(1000) if e["type"] == "alert_cleared"]
    assert [(e["kind"], e["subject"], e["acked_by"]) for e in cleared] == [("no_desk", "police", SUPERVISOR)]

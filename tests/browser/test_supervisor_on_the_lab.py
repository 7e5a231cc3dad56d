"""The wallboard on the real lab: Asterisk 22, the bridge, SIPp callers and SIPp desk phones, with
the page in headless chromium on an API over the lab's Redis.

Two callers press 1 while no police desk is ready: the page's police column counts them waiting
and runs the longest wait; two desks go ready and answer: the count falls to 0 and the desks
show ON CALL with the callers' numbers. The health line hears the lab's bridge (its heartbeat,
AMI up)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from hotline.lab.lab import Lab
from queueing.accounts import Accounts, check_user
from tests.browser.conftest import CITY, Server, Shots, serving
from tests.browser.test_console_on_the_lab import lab_page  # noqa: F401  (a fixture, over this module's lab_server)
from tests.browser.test_supervisor_board import PASSWORD
from tests.lab_fixtures import Phones, wait_call

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SUPERVISOR = "lan.pham"
CALLERS = ("0933000021", "0933000022")
DESKS = ("desk-101", "desk-102")


@pytest.fixture
def lab_server(hotline: Lab) -> Iterator[Server]:
    """The API over the lab's Redis (the bridge's, its desks registered), with a supervisor's account."""
    with serving(hotline.started_redis_url(), register_desks=False) as server:
        Accounts(server.client).add_user(check_user(CITY, SUPERVISOR, "supervisor", None, None), PASSWORD)
        yield server


def test_the_waiting_count_rises_as_callers_queue_and_falls_as_desks_answer(
        hotline: Lab, phones: Phones, lab_server: Server, lab_page: Page, request) -> None:  # noqa: F811 (the fixture)
    shots = Shots(lab_page, request.node.name)
    for desk in DESKS:
        phones.desk(desk, ready=False, answer_after_ms=500, talk_ms=60_000)
    lab_page.goto("/supervisor")
    lab_page.fill("#signin-user", SUPERVISOR)
    lab_page.fill("#signin-password", PASSWORD)
    lab_page.press("#signin-password", "Enter")
    expect(lab_page.locator("#live")).to_have_attribute("data-live", "yes")
    police = lab_page.locator('.queue[data-queue="police"]')
    waiting = police.locator('[data-field="waiting"]')
    expect(waiting).to_have_text("0")
    expect(lab_page.locator("#health-ami")).to_have_attribute("data-ok", "yes", timeout=10_000)
    expect(lab_page.locator("#health-bridges")).to_have_attribute("data-ok", "yes")

    for caller in CALLERS:
        phones.citizen(caller, "1", stay_ms=90_000)
        wait_call(hotline, caller, ("queued",), timeout=20)
    expect(waiting).to_have_text("2", timeout=10_000)
    expect(police.locator('[data-field="longest"]')).not_to_have_text("—")
    shots.take("two callers waiting")

    routing = hotline.routing()
    for desk in DESKS:
        routing.set_desk_state(desk, "ready")
    for caller in CALLERS:
        wait_call(hotline, caller, ("on_call",), timeout=20)
    expect(waiting).to_have_text("0", timeout=10_000)
    expect(police.locator('[data-field="longest"]')).to_have_text("—")
    for desk in DESKS:
        row = lab_page.locator(f'#desks tr[data-desk="{desk}"]')
        expect(row).to_have_attribute("data-state", "on_call", timeout=10_000)
    callers = {lab_page.locator(f'#desks tr[data-desk="{d}"] [data-field="caller"]').inner_text() for d in DESKS}
    assert callers == set(CALLERS)
    shots.take("desks answered")

"""The supervisors' wallboard (GET /supervisor) in a real browser, over a seeded test Redis: the
line of tests/api/test_board.py (a police caller answered in 10 s, one hung up in the queue after
4 s, one waiting for 60 s, one in the menu, one in the fallback queue, desk-102 paused for a meal),
seeded around the wall clock."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from queueing.accounts import Accounts, check_user
from queueing.routing import wall_clock_ms
from tests.api.test_board import seed as seed_line
from tests.browser.conftest import CITY, Server, Shots

pytestmark = pytest.mark.browser

PASSWORD = "wallboard-pass-1"


def seed(server: Server) -> None:
    seed_line(server.routing, wall_clock_ms())


def user(server: Server, name: str, role: str, agency: str | None = None) -> str:
    Accounts(server.client).add_user(check_user(CITY, name, role, agency, None), PASSWORD)
    return name


def sign_in(page: Page, shots: Shots, name: str) -> None:
    page.goto("/supervisor")
    expect(page.locator("#signin")).to_be_visible()
    page.fill("#signin-user", name)
    page.fill("#signin-password", PASSWORD)
    shots.take(f"sign-in-{name}")
    page.press("#signin-password", "Enter")


def column(page: Page, queue: str):
    return page.locator(f'.queue[data-queue="{queue}"]')


def seconds(text: str) -> int:
    m, s = (int(x) for x in re.fullmatch(r"(\d+):(\d\d)", text).groups())
    return m * 60 + s


def test_the_board_draws_the_seeded_figures(page: Page, shots: Shots, server: Server) -> None:
    seed(server)
    sign_in(page, shots, user(server, "sup-1", "supervisor"))
    police = column(page, "police")
    expect(police.locator('[data-field="waiting"]')).to_have_text("1")
    expect(police.locator('[data-field="sl_15"]')).to_have_text("100 %")
    expect(police.locator('[data-field="sl_20"]')).to_have_text("100 %")
    expect(police.locator('.level[data-within="15"]')).to_have_attribute("data-met", "yes")
    expect(police.locator('.level[data-within="15"]')).to_contain_text("mục tiêu 90 %")
    # c1, c2, c3 arrived in the last hour; c2 hung up in the queue after 4 s: a short abandon
    expect(police.locator('[data-field="abandoned"]')).to_have_text("33.3 % (1)")
    expect(police.locator('[data-field="abandoned_detail"]')).to_have_text("menu 0 · hàng chờ 1 · đổ chuông 0 · ngắn < 5 giây: 1")
    expect(police.locator('[data-field="ringing"]')).to_have_text("0")
    expect(column(page, "general").locator('[data-field="in_ivr"]')).to_have_text("1")
    expect(column(page, "fire").locator('[data-field="longest"]')).to_have_text("—")
    # health: a caller in the fallback queue is said in words, in red
    expect(page.locator("#health-fallback")).to_have_text(re.compile(r"⚠ 1 người gọi ở hàng chờ dự phòng"))
    expect(page.locator("#health-fallback")).to_have_attribute("data-ok", "no")
    expect(page.locator("#health-ami")).to_have_attribute("data-ok", "yes")
    expect(page.locator("#health-bridges")).to_contain_text("1/1 bridge")
    expect(page.locator("#health-redis")).to_contain_text("Redis master")
    # desks: state in words and symbol, the pause's reason, time in state
    paused = page.locator('#desks tr[data-desk="desk-102"]')
    expect(paused.locator('[data-field="state"]')).to_contain_text("‖")
    expect(paused.locator('[data-field="state"]')).to_contain_text("TẠM NGHỈ")
    expect(paused.locator('[data-field="reason"]')).to_have_text("meal")
    assert 500 <= seconds(paused.locator('[data-field="time"]').inner_text()) <= 510
    expect(page.locator('#desks tr[data-desk="desk-101"] [data-field="state"]')).to_contain_text("HOÀN TẤT CUỘC GỌI")
    # the whole centre, first on the wall: every queue together
    centre = column(page, "centre")
    expect(page.locator(".queue").first).to_have_attribute("data-queue", "centre")
    expect(centre.locator('[data-field="name"]')).to_have_text("Toàn trung tâm")
    expect(centre.locator('[data-field="waiting"]')).to_have_text("1")
    expect(centre.locator('[data-field="in_ivr"]')).to_have_text("1")
    expect(centre.locator('[data-field="sl_15"]')).to_have_text("100 %")
    expect(centre.locator(".queue-actions")).to_have_count(0)
    shots.take("board")


def test_the_longest_wait_clock_runs(page: Page, shots: Shots, server: Server) -> None:
    seed(server)
    sign_in(page, shots, user(server, "sup-1", "supervisor"))
    longest = column(page, "police").locator('[data-field="longest"]')
    expect(longest).to_have_text(re.compile(r"01:\d\d"))
    first, first_at = seconds(longest.inner_text()), time.monotonic()
    page.wait_for_timeout(3000)
    second, second_at = seconds(longest.inner_text()), time.monotonic()
    elapsed = second_at - first_at
    assert 60 <= first < 120
    # whole seconds, redrawn every 250 ms: each reading is up to 1.25 s behind the true wait
    assert abs((second - first) - elapsed) <= 1.5, (first, second, elapsed)
    assert second > first


def test_a_new_caller_moves_the_waiting_count_at_once(page: Page, shots: Shots, server: Server) -> None:
    seed(server)
    sign_in(page, shots, user(server, "sup-1", "supervisor"))
    waiting = column(page, "police").locator('[data-field="waiting"]')
    expect(waiting).to_have_text("1")
    expect(page.locator("#live")).to_have_attribute("data-live", "yes")
    centre = column(page, "centre").locator('[data-field="waiting"]')
    expect(centre).to_have_text("1")
    server.routing.arrive("c6", "0906", "PJSIP/citizens-6")
    server.routing.enqueue("c6", "police", 1)
    server.routing.arrive("c7", "0907", "PJSIP/citizens-7")
    server.routing.enqueue("c7", "fire", 1)
    expect(waiting).to_have_text("2")
    expect(centre).to_have_text("3")  # the centre's count moves with every queue's
    server.routing.set_desk_state("desk-102", "ready")
    expect(page.locator('#desks tr[data-desk="desk-102"]')).to_have_attribute("data-state", "ready")


def test_a_viewer_sees_the_board_and_no_action_control(page: Page, shots: Shots, server: Server) -> None:
    seed(server)
    sign_in(page, shots, user(server, "view-1", "viewer"))
    expect(column(page, "police").locator('[data-field="waiting"]')).to_have_text("1")
    expect(page.locator("body")).to_have_attribute("data-role", "viewer")
    expect(page.locator("#who-role")).to_contain_text("chỉ xem")
    assert page.locator("#board button, #board [data-action], #board input, #board select").count() == 0
    assert page.locator('#desks tr[data-desk="desk-101"] .desk-actions').inner_text() == ""
    shots.take("viewer")


def test_a_call_taker_is_told_it_is_the_wrong_page(page: Page, shots: Shots, server: Server) -> None:
    seed(server)
    sign_in(page, shots, user(server, "ct-1", "call_taker", "police"))
    expect(page.locator("#wrong-page")).to_be_visible()
    expect(page.locator("#wrong-page-text")).to_have_text(
        "ct-1 là điện thoại viên: bảng giám sát chỉ dành cho giám sát viên và người xem.")
    expect(page.locator("#board")).to_be_hidden()
    expect(page.locator('#wrong-page a[href="/console"]')).to_be_visible()
    shots.take("wrong-page")


def test_a_board_read_before_an_event_does_not_draw_the_past_back(page: Page, shots: Shots, server: Server) -> None:
    seed(server)
    sign_in(page, shots, user(server, "sup-1", "supervisor"))
    row = page.locator('#desks tr[data-desk="desk-102"]')
    waiting = column(page, "police").locator('[data-field="waiting"]')
    expect(row).to_have_attribute("data-state", "paused")
    expect(page.locator("#live")).to_have_attribute("data-live", "yes")
    # Every later /board answers what the server computed before the changes below (as a
    # board cached up to a second earlier does).
    before = page.request.get("/board").text()
    page.route("**/board", lambda route: route.fulfill(status=200, content_type="application/json", body=before))
    server.routing.set_desk_state("desk-102", "ready")
    server.routing.arrive("c7", "0907", "PJSIP/citizens-7")
    server.routing.enqueue("c7", "police", 1)
    expect(row).to_have_attribute("data-state", "ready")
    expect(waiting).to_have_text("2")
    with page.expect_response("**/board"):  # an event asks for the board again: the old one comes
        server.routing.set_desk_state("desk-101", "ready")
    page.wait_for_timeout(300)  # that board drawn
    expect(row).to_have_attribute("data-state", "ready")
    expect(waiting).to_have_text("2")
    shots.take("stale board ignored")

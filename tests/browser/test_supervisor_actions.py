"""A supervisor's actions on the wallboard (api/static/supervisor_actions.js) in a real browser, over
the seeded line of tests/browser/test_supervisor_board.py (c3 waits in the police queue, desk-102 is
paused for a meal) with desk-201 on a call: each action by keys, checked in Redis and on the audit
trail. No bridge runs here: a spy session is the API's and Redis' side (its phone never rings)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from queueing.numbers import Numbers
from queueing.routing import wall_clock_ms
from tests.browser.conftest import Server, Shots
from tests.browser.test_supervisor_board import column, seed, sign_in, user

pytestmark = pytest.mark.browser


def seed_with_a_call(server: Server) -> None:
    """The board's line, and desk-201 (fire) talking with caller 0907 (c7)."""
    seed(server)
    routing = server.routing
    routing.set_desk_state("desk-201", "ready")
    routing.arrive("c7", "0907", "PJSIP/citizens-7")
    routing.enqueue("c7", "fire", 1)
    assert routing.claim_next(["fire"], 20_000).desk_id == "desk-201"
    routing.offer_answered("c7", "desk-201")


def last_event(server: Server, kind: str) -> dict[str, str]:
    return next(e for e in reversed(server.routing.events(200)) if e["type"] == kind)


def desk_row(page: Page, desk: str):
    return page.locator(f'#desks tr[data-desk="{desk}"]')


def open_board(page: Page, shots: Shots, server: Server, name: str = "sup-1", role: str = "supervisor") -> None:
    sign_in(page, shots, user(server, name, role))
    expect(page.locator("#board")).to_be_visible()
    expect(desk_row(page, "desk-201")).to_have_attribute("data-state", "on_call")


def test_a_supervisor_forces_a_desk_paused_with_a_reason(page: Page, shots: Shots, server: Server) -> None:
    seed_with_a_call(server)
    server.routing.set_desk_state("desk-102", "ready")
    open_board(page, shots, server)
    row = desk_row(page, "desk-102")
    row.locator('[data-action="force"]').focus()
    page.keyboard.press("f")
    dialog = page.locator("#sact-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("desk-102")
    page.select_option("#sact-force-state", "paused")
    page.keyboard.press("Enter")  # no reason yet: said, nothing sent
    expect(dialog.locator(".error")).to_have_text("Hãy ghi lý do.")
    assert server.routing.desk("desk-102")["state"] == "ready"
    page.fill("#sact-force-reason", "tai nghe hỏng")
    shots.take("force-dialog")
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(row).to_have_attribute("data-state", "paused")
    expect(row.locator('[data-field="reason"]')).to_have_text("tai nghe hỏng")
    expect(page.locator("#sact-message")).to_contain_text("desk-102")
    desk = server.routing.desk("desk-102")
    assert (desk["state"], desk["reason"], desk["state_set_by"]) == ("paused", "tai nghe hỏng", "sup-1")
    event = last_event(server, "desk_state")
    assert (event["desk_id"], event["state"], event["reason"], event["set_by"]) == ("desk-102", "paused", "tai nghe hỏng", "sup-1")
    shots.take("forced")


def test_a_refused_force_shows_the_servers_words_and_keeps_the_dialog(page: Page, shots: Shots, server: Server) -> None:
    seed_with_a_call(server)
    open_board(page, shots, server)
    desk_row(page, "desk-201").locator('[data-action="force"]').click()
    page.select_option("#sact-force-state", "paused")
    page.fill("#sact-force-reason", "họp")
    page.keyboard.press("Enter")
    error = page.locator("#sact-dialog .error")
    expect(error).to_contain_text("Không thực hiện được:")
    expect(error).to_contain_text("desk-201")
    expect(page.locator("#sact-force-reason")).to_have_value("họp")  # nothing lost
    assert server.routing.desk("desk-201")["state"] == "on_call"
    shots.take("refused")


def test_listen_then_whisper_then_stop_from_the_chosen_desk_phone(page: Page, shots: Shots, server: Server) -> None:
    seed_with_a_call(server)
    open_board(page, shots, server)
    row = desk_row(page, "desk-201")
    expect(row).to_have_attribute("data-state", "on_call")
    listen = row.locator('[data-action="listen"]')
    listen.focus()
    page.keyboard.press("l")  # no desk phone chosen yet: said, nothing started
    expect(page.locator("#sact-message")).to_have_text("Chọn máy bàn của bạn trước (phím D).")
    assert server.routing.spy("desk-201") == {}
    page.select_option("#sact-my-desk", "desk-401")
    listen.focus()
    page.keyboard.press("l")
    expect(row.locator(".sact-spy")).to_have_text("NGHE từ desk-401 · máy của giám sát đang đổ chuông")
    expect(page.locator("#sact-spy-status")).to_have_text(
        "Bạn ở desk-201: NGHE từ desk-401 (máy của giám sát đang đổ chuông).")
    expect(row.locator('[data-action="listen"]')).to_have_attribute("aria-pressed", "true")
    spy = server.routing.spy("desk-201")
    assert (spy["mode"], spy["supervisor_desk"], spy["call_id"], spy["by"]) == ("listen", "desk-401", "c7", "sup-1")
    assert last_event(server, "spy_started")["mode"] == "listen"
    shots.take("listening")

    # the bridge would say the supervisor answered: the page follows the event
    server.routing.spy_step("desk-201", spy["spy_id"], "answered")
    expect(row.locator(".sact-spy")).to_have_text("NGHE từ desk-401 · đang kết nối")

    row.locator('[data-action="whisper"]').focus()
    page.keyboard.press("w")
    expect(page.locator("#sact-spy-status")).to_have_text("Bạn ở desk-201: NHẮC từ desk-401 (đang kết nối).")
    expect(row.locator('[data-action="whisper"]')).to_have_attribute("aria-pressed", "true")
    expect(row.locator('[data-action="listen"]')).to_have_attribute("aria-pressed", "false")
    assert server.routing.spy("desk-201")["mode"] == "whisper"
    assert last_event(server, "spy_mode")["mode"] == "whisper"
    shots.take("whispering")
    page.click('#langs button[lang="en"]')  # the same, in English
    expect(page.locator("#sact-spy-status")).to_have_text("You on desk-201: WHISPERING from desk-401 (connected).")
    expect(row.locator('[data-action="stop"]')).to_have_text("S Stop")
    row.locator('[data-action="stop"]').focus()

    page.keyboard.press("s")
    expect(page.locator("#sact-spy-status")).to_have_text("Not listening to any desk.")
    expect(row.locator(".sact-spy")).to_have_count(0)
    assert server.routing.spy("desk-201") == {}
    event = last_event(server, "spy_stopped")
    assert (event["desk_id"], event["supervisor_desk"]) == ("desk-201", "desk-401")
    # the choice of desk phone stays in this browser
    page.reload()
    expect(page.locator("#sact-my-desk")).to_have_value("desk-401")


def test_a_spy_refused_says_why(page: Page, shots: Shots, server: Server) -> None:
    seed_with_a_call(server)
    server.routing.set_desk_state("desk-301", "ready")
    page.add_init_script("localStorage.setItem('hotline.supervisor.desk', 'desk-301')")
    open_board(page, shots, server)
    desk_row(page, "desk-201").locator('[data-action="barge"]').click()
    expect(page.locator("#sact-message")).to_contain_text("desk-301 is ready")
    expect(page.locator("#sact-message")).to_have_attribute("data-kind", "error")
    assert server.routing.spy("desk-201") == {}


def test_move_a_waiting_caller_then_pick_it_for_a_named_desk(page: Page, shots: Shots, server: Server) -> None:
    seed_with_a_call(server)
    routing = server.routing
    routing.arrive("c8", "0908", "PJSIP/citizens-8", now_ms=wall_clock_ms() - 20_000)
    routing.enqueue("c8", "police", 2)
    open_board(page, shots, server)
    police = column(page, "police")
    c3 = police.locator('[data-call="c3"]')
    expect(c3).to_contain_text("0903")
    expect(c3).to_contain_text("ưu tiên 1")
    expect(police.locator('[data-call="c8"]')).to_contain_text("ưu tiên 2")
    expect(police.locator(".sact-callers > li")).to_have_count(2)
    shots.take("waiting-callers")
    arrived = int(routing.call("c3")["arrived_ms"])

    # move c3 to the fire queue: it keeps its arrival
    c3.locator('[data-action="move"]').focus()
    page.keyboard.press("m")
    page.select_option("#sact-move-queue", "fire")
    page.fill("#sact-move-queue-note", "cháy nhà")
    page.keyboard.press("Enter")
    fire_c3 = column(page, "fire").locator('[data-call="c3"]')
    expect(fire_c3).to_contain_text("0903")
    expect(police.locator('[data-call="c3"]')).to_have_count(0)
    call = routing.call("c3")
    assert (call["queue"], call["state"], int(call["arrived_ms"])) == ("fire", "queued", arrived)
    assert routing.queue("fire") == ["c3"]
    event = last_event(server, "call_moved")
    assert (event["call_id"], event["queue"], event["previous_queue"], event["moved_by"], event["note"]) == (
        "c3", "fire", "police", "sup-1", "cháy nhà")
    shots.take("moved")

    # priority of c8: 0
    police.locator('[data-call="c8"] [data-action="priority"]').focus()
    page.keyboard.press("p")
    page.fill("#sact-priority-value", "0")
    page.keyboard.press("Enter")
    expect(police.locator('[data-call="c8"]')).to_contain_text("ưu tiên 0")
    assert routing.call("c8")["priority"] == "0"

    # pick c8 for desk-102 (paused: refused, said; ready: picked)
    police.locator('[data-call="c8"] [data-action="pick"]').focus()
    page.keyboard.press("k")
    expect(page.locator("#sact-pick-desk option")).not_to_contain_text(["desk-102"])
    page.keyboard.press("Escape")
    routing.set_desk_state("desk-102", "ready")
    expect(desk_row(page, "desk-102")).to_have_attribute("data-state", "ready")
    police.locator('[data-call="c8"] [data-action="pick"]').focus()
    page.keyboard.press("k")
    page.select_option("#sact-pick-desk", "desk-102")
    page.keyboard.press("Enter")
    expect(police.locator('[data-call="c8"]')).to_contain_text("→ desk-102")
    call = routing.call("c8")
    assert (call["picked_desk"], call["picked_by"]) == ("desk-102", "sup-1")
    assert routing.desk("desk-102")["picked_call"] == "c8"
    assert last_event(server, "call_picked")["picked_by"] == "sup-1"
    shots.take("picked")


def test_a_supervisor_sets_a_number_policy(page: Page, shots: Shots, server: Server) -> None:
    seed_with_a_call(server)
    open_board(page, shots, server)
    page.keyboard.press("n")
    expect(page.locator("#sact-number")).to_be_focused()
    page.keyboard.type("0909123456")
    page.select_option("#sact-policy", "general_only")
    page.fill("#sact-policy-note", "gọi quấy rối")
    page.press("#sact-policy-note", "Enter")
    expect(page.locator("#sact-message")).to_have_text("Số 0909123456: chỉ hàng chờ chung.")
    record = Numbers(server.client).policy("0909123456")
    assert (record["policy"], record["set_by"], record["note"]) == ("general_only", "sup-1", "gọi quấy rối")
    # not a number: the server's 400 in its own words, the form as typed
    page.fill("#sact-number", "abc")
    page.press("#sact-number", "Enter")
    expect(page.locator("#sact-message")).to_contain_text("Không thực hiện được:")
    expect(page.locator("#sact-number")).to_have_value("abc")
    shots.take("number-policy")


def test_a_viewer_has_no_action_and_the_api_refuses_one(page: Page, shots: Shots, server: Server) -> None:
    seed_with_a_call(server)
    open_board(page, shots, server, "view-1", "viewer")
    expect(page.locator("body")).to_have_attribute("data-role", "viewer")
    expect(desk_row(page, "desk-201")).to_have_attribute("data-state", "on_call")
    assert page.locator("#sact-bar, #sact-numbers, #sact-dialog, .desk-actions button, .queue-actions *").count() == 0
    csrf = page.evaluate("fetch('/session').then((r) => r.json()).then((s) => s.csrf)")
    for method, path, body in [
        ("PUT", "/desks/desk-101/state", {"state": "paused", "reason": "x"}),
        ("POST", "/desks/desk-201/spy", {"mode": "listen", "supervisor_desk": "desk-401"}),
        ("POST", "/calls/c3/move", {"queue": "fire"}),
        ("POST", "/calls/c3/pick", {"desk_id": "desk-102"}),
        ("PUT", "/numbers/0909123456/policy", {"policy": "general_only", "set_by": "view-1"}),
    ]:
        response = page.request.fetch(path, method=method, data=body, headers={"X-CSRF-Token": csrf})
        assert response.status == 403, (method, path, response.status, response.text())
    assert server.routing.spy("desk-201") == {}
    assert server.routing.call("c3")["queue"] == "police"
    shots.take("viewer")

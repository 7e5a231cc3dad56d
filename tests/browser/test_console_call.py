"""The console's call panels in headless chromium: the pop's detail (IVR path, history with
dispositions, nuisance, location put into the incident by a key, the pop on the audit trail),
the incident saved as it is typed (kept in the browser while the server cannot be reached,
merged when someone else changed it), dispatching by key, transfer by key, hang-up only after
a confirmation, and the wrap-up clock with End / Extend once."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from queueing.incidents import Incidents
from queueing.locations import Locations
from queueing.routing import wall_clock_ms
from tests.browser.conftest import CITY, Server, Shots
from tests.browser.test_console import DESK, LIVE_WAIT_MS, signed_in, user, wait_for  # noqa: F401 (user: a fixture)

# signed in as test_console.py's police call-taker at desk-101
pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("user")]

NUMBER = "0912345678"


# The menu's steps as the IVR records them: no key the first time, then 1.
IVR_PATH = json.dumps([{"key": "", "result": "no_input", "at_ms": 5200, "language": "vi"},
                       {"key": "1", "result": "chosen", "at_ms": 8100, "language": "vi"}])
COMMANDS = "hotline:call_commands"


def ring(server: Server, call_id: str, *, caller: str = NUMBER) -> None:
    """A caller who pressed 1 (police) waits, and the desk (ready) is offered the call."""
    server.routing.set_desk_state(DESK, "ready")
    server.routing.arrive(call_id, caller, f"PJSIP/trunk-{call_id}", language="vi")
    server.routing.enqueue(call_id, "police", 1, choice="1", route_reason="chosen", language="vi", ivr_path=IVR_PATH)
    claim = server.routing.claim_next(["police"], 30_000)
    assert claim is not None and (claim.call_id, claim.desk_id) == (call_id, DESK)


def answered(server: Server, page: Page, call_id: str) -> None:
    ring(server, call_id)
    server.routing.offer_answered(call_id, DESK)
    expect(page.locator("#desk-state")).to_have_attribute("data-state", "on_call", timeout=LIVE_WAIT_MS)


def test_the_pop_shows_the_path_history_nuisance_and_location_and_reaches_the_audit_trail(
        page: Page, shots: Shots, server: Server) -> None:
    # Earlier today the same number called and the call-taker marked it a false call.
    now = wall_clock_ms()
    server.routing.arrive("c-before", NUMBER, "PJSIP/trunk-before", now_ms=now - 3_600_000)
    server.routing.enqueue("c-before", "police", 1, choice="1", now_ms=now - 3_590_000)
    server.routing.hangup("c-before", 10_000, now_ms=now - 3_580_000)
    Incidents(server.client).set_disposition("c-before", "false_call", by="minh", expected_version=0)
    Locations(server.client).add(NUMBER, 21.028511, 105.854167, 25, source="aml", method="GNSS", at_ms=now - 5_000)

    signed_in(page, shots)
    ring(server, "c-pop")
    detail = page.locator("#slot-number")
    expect(detail.locator("#pop-path li")).to_have_text(["không bấm phím · 5.2 s · VI", "phím 1 · 8.1 s · VI"],
                                                        timeout=LIVE_WAIT_MS)
    expect(detail.locator("#pop-history")).to_contain_text("báo sai")
    expect(detail.locator("#pop-history")).to_contain_text("c-before")
    expect(detail.locator("#pop-nuisance")).to_contain_text("1 báo sai")
    expect(detail.locator("#pop-locations")).to_contain_text("21.028511, 105.854167 (±25 m)")
    expect(detail.locator("#pop-locations")).to_contain_text("aml GNSS")
    shots.take("pop detail")

    # The pop reached the browser: on the audit trail with the desk, once.
    assert wait_for(lambda: server.routing.call("c-pop").get("pop_seen_ms"))
    seen = [e for e in server.routing.events(200) if e["type"] == "pop_seen" and e["call_id"] == "c-pop"]
    assert len(seen) == 1 and seen[0]["desk_id"] == DESK

    # Answered; the location goes into the incident only when asked (Ctrl+U).
    server.routing.offer_answered("c-pop", DESK)
    location = page.locator("#incident-location")
    expect(location).to_have_value("", timeout=LIVE_WAIT_MS)
    page.keyboard.press("Control+u")
    expect(location).to_have_value("21.028511, 105.854167 (±25 m)")
    assert wait_for(lambda: (Incidents(server.client).get("c-pop") or {}).get("location_text") ==
                    "21.028511, 105.854167 (±25 m)")
    shots.take("location used in the incident")


def test_the_incident_is_saved_as_typed_kept_while_offline_and_merged_with_changes_made_elsewhere(
        page: Page, shots: Shots, server: Server) -> None:
    signed_in(page, shots)
    answered(server, page, "c-inc")
    incidents = Incidents(server.client)

    expect(page.locator("#incident-form")).to_be_visible()
    page.select_option("#incident-nature", "robbery")
    page.fill("#incident-location", "12 Hàng Bài, Hoàn Kiếm")
    page.check("input[data-agency='police']")
    page.check("input[data-agency='medical']")
    page.select_option("#incident-priority", "1")
    assert wait_for(lambda: (incidents.get("c-inc") or {}).get("location_text") == "12 Hàng Bài, Hoàn Kiếm"
                    and (incidents.get("c-inc") or {}).get("priority") == "1", timeout=4)
    saved = incidents.get("c-inc")
    assert (saved["nature"], saved["agencies"]) == ("robbery", ["police", "medical"])
    expect(page.locator("#incident-status")).to_contain_text("Đã lưu")

    # A note kept with Enter, shown with its time and who wrote it.
    page.fill("#incident-note", "hai người, có dao <b>gấp</b>")
    page.press("#incident-note", "Enter")
    expect(page.locator("#incident-notes li")).to_have_count(1)
    expect(page.locator("#incident-notes .note-text")).to_have_text("hai người, có dao <b>gấp</b>")
    assert [n["text"] for n in incidents.get("c-inc")["notes"]] == ["hai người, có dao <b>gấp</b>"]
    shots.take("incident saved as typed")

    # The server cannot be reached: what is typed stays in the browser and says so.
    page.context.set_offline(True)
    page.fill("#incident-location", "14 Hàng Bài")
    expect(page.locator("#incident-status")).to_have_attribute("data-kind", "error", timeout=4000)
    draft = json.loads(page.evaluate("localStorage.getItem('hotline.console.incident.c-inc')"))
    assert draft["dirty"] == {"location_text": "14 Hàng Bài"}
    shots.take("not saved while offline")
    page.context.set_offline(False)

    # Meanwhile a supervisor changed the nature: Ctrl+S merges and saves ours on top.
    version = incidents.get("c-inc")["version"]
    incidents.save("c-inc", {"nature": "assault"}, by="supervisor-1", expected_version=version)
    page.keyboard.press("Control+s")
    assert wait_for(lambda: incidents.get("c-inc")["location_text"] == "14 Hàng Bài", timeout=5)
    assert incidents.get("c-inc")["nature"] == "assault"
    expect(page.locator("#incident-nature")).to_have_value("assault", timeout=LIVE_WAIT_MS)
    assert page.evaluate("localStorage.getItem('hotline.console.incident.c-inc')") is None

    # Ctrl+D dispatches (the e2e city has no CAD webhook: the page says to tell them by phone).
    page.keyboard.press("Control+d")
    assert wait_for(lambda: incidents.get("c-inc")["disposition"] == "dispatched", timeout=4)
    assert server.routing.call("c-inc")["disposition"] == "dispatched"
    expect(page.locator("#incident-cad")).to_contain_text("điện thoại")
    shots.take("dispatched")


def test_transfer_by_key_then_wrap_up_extended_once_and_ended(page: Page, shots: Shots, server: Server) -> None:
    server.routing.set_desk_state("desk-201", "login")  # a fire desk is logged in (paused)
    signed_in(page, shots)
    answered(server, page, "c-move")

    page.keyboard.press("t")
    dialog = page.locator("#transfer-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("button[data-agency]")).to_have_count(3)  # not to police itself
    shots.take("transfer dialog")
    page.keyboard.press("2")  # fire's digit
    expect(dialog).to_be_hidden()
    assert wait_for(lambda: server.routing.transfer("c-move").get("transfer_state") == "moving")
    assert server.routing.transfer("c-move")["target_agency"] == "fire"
    commands = server.client.xrange(COMMANDS)
    assert [c[1]["action"] for c in commands] == ["move_to_wait"]
    expect(page.locator("#transfer-state")).to_contain_text("Cứu hỏa", timeout=LIVE_WAIT_MS)

    # What a bridge does when its Redirect landed: the caller waits at the head of fire's queue.
    server.routing.transfer_step("c-move", "moving", "requeued", requeue_queue="fire",
                                 wrap_up_ms=CITY.queueing.wrap_up_s * 1000)
    assert server.routing.call("c-move")["queue"] == "fire"

    # The desk wraps up: its clock counts down; extended once, then ended.
    expect(page.locator("#desk-state")).to_have_attribute("data-state", "wrap_up", timeout=LIVE_WAIT_MS)
    expect(page.locator("#wrap-up-left")).to_contain_text("còn")
    shots.take("wrap-up")
    before = int(server.routing.desk(DESK)["wrap_up_until_ms"])
    page.keyboard.press("x")
    assert wait_for(lambda: int(server.routing.desk(DESK)["wrap_up_until_ms"]) > before)
    expect(page.locator("#wrap-up-extend")).to_be_disabled(timeout=LIVE_WAIT_MS)
    page.keyboard.press("x")  # a second extension is not offered
    page.keyboard.press("e")
    expect(page.locator("#desk-state")).to_have_attribute("data-state", "ready", timeout=LIVE_WAIT_MS)
    assert server.routing.desk(DESK)["state"] == "ready"
    shots.take("ready after wrap-up")


def test_hang_up_asks_first_and_escape_keeps_the_caller(page: Page, shots: Shots, server: Server) -> None:
    signed_in(page, shots)
    answered(server, page, "c-end")

    page.keyboard.press("h")
    dialog = page.locator("#hangup-dialog")
    expect(dialog).to_be_visible()
    shots.take("hang-up asks first")
    page.keyboard.press("Enter")  # the focused button is Cancel: Enter alone never hangs up
    expect(dialog).to_be_hidden()
    page.keyboard.press("h")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert server.client.xlen(COMMANDS) == 0

    page.keyboard.press("h")
    page.keyboard.press("y")
    expect(page.locator("#slot-actions")).to_contain_text("Đã gửi lệnh", timeout=LIVE_WAIT_MS)
    (command,) = server.client.xrange(COMMANDS)
    assert (command[1]["action"], command[1]["call_id"]) == ("hangup", "c-end")


def test_bad_input_is_refused_plainly_and_nothing_is_lost(page: Page, shots: Shots, server: Server) -> None:
    signed_in(page, shots)
    answered(server, page, "c-bad")
    incidents = Incidents(server.client)

    # Script in a note is kept and shown as text, never run; Enter pressed twice keeps it once.
    page.evaluate("window.__ran = false")
    page.fill("#incident-note", "<img src=x onerror=\"window.__ran = true\"><script>window.__ran = true</script>")
    page.press("#incident-note", "Enter")
    page.press("#incident-note", "Enter")
    expect(page.locator("#incident-notes li")).to_have_count(1)
    page.wait_for_timeout(500)
    assert [n["text"] for n in incidents.get("c-bad")["notes"]] == [
        "<img src=x onerror=\"window.__ran = true\"><script>window.__ran = true</script>"]
    assert page.evaluate("window.__ran") is False
    assert page.locator("#incident-notes img, #incident-notes script").count() == 0

    # A note longer than the server keeps is cut at the limit as it is typed (the server would say 422).
    page.fill("#incident-note", "x" * 2500)
    assert len(page.input_value("#incident-note")) == 2000

    # A transfer the server refuses (no fire desk logged in) says why; the caller stays on the call.
    page.keyboard.press("Escape")
    page.locator("#incident-note").blur()
    page.keyboard.press("t")
    page.keyboard.press("2")
    expect(page.locator("#slot-actions .error")).to_contain_text("no fire desk is logged in")
    assert server.routing.call("c-bad")["state"] == "on_call" and not server.routing.transfer("c-bad")
    shots.take("refusals said plainly")


def test_the_pop_draws_from_the_offer_itself_before_the_record_is_read(page: Page, shots: Shots, server: Server) -> None:
    # The call's record is held back (a slow link, a busy server): the pop must not wait for it.
    held = []
    page.route("**/calls/c-early", lambda route: held.append(route))
    signed_in(page, shots)
    ring(server, "c-early")
    expect(page.locator("#pop-call-id")).to_have_text("c-early", timeout=LIVE_WAIT_MS)
    expect(page.locator("#pop-caller")).to_have_text(NUMBER)
    expect(page.locator("#pop-queue")).to_contain_text("POLICE")
    expect(page.locator("#pop-priority")).to_have_text("1")
    expect(page.locator("#pop-ring")).not_to_have_text("—")
    expect(page.locator("#pop-ivr")).to_have_text("bấm 1 · tiếng Việt")
    assert wait_for(lambda: held), "the console asks for the record all the same"
    shots.take("pop before the record")
    # The record arrives: the number's detail (read with it) fills in.
    for route in held:
        route.continue_()
    expect(page.locator("#slot-number #pop-path li")).to_have_text(
        ["không bấm phím · 5.2 s · VI", "phím 1 · 8.1 s · VI"], timeout=LIVE_WAIT_MS)

"""The call-taker's console in headless chromium: served whole by the API (no outside host),
sign-in, Ready / Pause by key, changes made elsewhere shown live, the screen pop of a ringing
call, the "not live" indicator, and values shown as text, never as HTML."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from playwright.sync_api import Page, expect

from queueing.accounts import Accounts, check_user
from tests.browser.conftest import CITY, Requests, Server, Shots

pytestmark = pytest.mark.browser

DESK = "desk-101"
USER, PASSWORD = "lan.nguyen", "correct horse battery staple"
REASONS = CITY.console.pause_reasons
LIVE_WAIT_MS = 2000  # a change made elsewhere shows within this (the brief's "within a second", with slack for CI)


@pytest.fixture
def user(server: Server) -> str:
    Accounts(server.client).add_user(check_user(CITY, USER, "call_taker", "police", None), PASSWORD)
    return USER


def sign_in(page: Page, shots: Shots, *, password: str = PASSWORD, desk: str = DESK) -> None:
    page.goto("/console")
    expect(page.locator("#signin")).to_be_visible()
    page.fill("#signin-user", USER)
    page.fill("#signin-password", password)
    page.fill("#signin-desk", desk)
    shots.take("sign-in form")
    page.press("#signin-password", "Enter")


def signed_in(page: Page, shots: Shots) -> None:
    sign_in(page, shots)
    expect(page.locator("#console")).to_be_visible()
    expect(page.locator("#desk-id")).to_have_text(DESK)
    expect(page.locator("#live")).to_have_attribute("data-live", "yes")


def desk_state(server: Server) -> tuple[str, str]:
    record = server.routing.desk(DESK)
    return record.get("state", ""), record.get("reason", "")


def wait_for(condition, timeout: float = 2.0):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_the_page_comes_whole_from_the_server(page: Page, shots: Shots, server: Server, requests_seen: Requests) -> None:
    page.goto("/console")
    expect(page.locator("#signin")).to_be_visible()
    # The city's first language first: Vietnamese.
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.locator("#signin-title")).to_have_text("Đăng nhập bàn trực")
    page.wait_for_load_state("networkidle")
    shots.take("sign-in, vi")
    assert any(u.endswith("/console/assets/console.js") for u in requests_seen.urls)
    assert any(u.endswith("/console/assets/strings.js") for u in requests_seen.urls)
    assert any(u.endswith("/console/assets/console.css") for u in requests_seen.urls)
    assert requests_seen.urls and requests_seen.outside() == [], requests_seen.urls

    # N switches the language, outside a text field; the switch says which one is on in text.
    page.locator("#signin-user").blur()  # the sign-in puts the cursor in the user field
    page.keyboard.press("n")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#signin-title")).to_have_text("Sign in to a desk")
    expect(page.locator("#langs [aria-pressed=true]")).to_have_text("[EN]")
    shots.take("sign-in, en")

    # F1 lists the shortcuts; Esc closes the list.
    page.keyboard.press("F1")
    expect(page.locator("#help-dialog")).to_be_visible()
    for key in ("R", "P", "L", "N", "F1", "Esc"):
        expect(page.locator("#help-dialog kbd", has_text=re.compile(f"^{key}$"))).to_have_count(1)
    shots.take("shortcuts")
    page.keyboard.press("Escape")
    expect(page.locator("#help-dialog")).to_be_hidden()

    # The page itself: served with a policy that allows this server only, and no outside font.
    response = httpx.get(f"{server.url}/console")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    for asset in ("console.css", "console.js", "strings.js"):
        text = httpx.get(f"{server.url}/console/assets/{asset}").text
        assert not re.search(r"https?://|@import|@font-face|url\(", text), asset


def test_a_wrong_password_is_refused_plainly(page: Page, shots: Shots, server: Server, user: str) -> None:
    sign_in(page, shots, password="not the password")
    error = page.locator("#signin-error")
    expect(error).to_be_visible()
    # The server's own words, as the API gives them.
    refusal = httpx.post(f"{server.url}/session", json={"user": USER, "password": "not the password", "desk": DESK})
    assert refusal.status_code == 401
    expect(error).to_have_text(f"Không đăng nhập được: {refusal.json()['detail']}")
    expect(page.locator("#live")).to_be_hidden()  # nothing to follow before signing in
    expect(page.locator("#console")).to_be_hidden()
    shots.take("refused")
    assert desk_state(server)[0] == "offline"


def test_sign_in_then_ready_and_pause_by_key(page: Page, shots: Shots, server: Server, user: str) -> None:
    signed_in(page, shots)
    agency = CITY.agencies[0]
    assert agency.id == "police"
    expect(page.locator("#desk-agency")).to_have_text(agency.name["vi"])
    expect(page.locator("#who-user")).to_have_text(USER)
    for button, key in (("#ready-button", "R"), ("#pause-button", "P"), ("#logout-button", "L"), ("#help-button", "F1")):
        expect(page.locator(f"{button} kbd")).to_have_text(key)  # every action shows its key
    # Signed in at an offline desk: logged in, paused "logged in", not yet ready.
    expect(page.locator("#desk-state")).to_have_attribute("data-state", "paused")
    expect(page.locator("#live")).to_contain_text("trực tuyến")
    expect(page.locator("#live .live-symbol")).to_have_text("●")
    shots.take("signed in")

    page.keyboard.press("r")
    expect(page.locator("#desk-state")).to_have_attribute("data-state", "ready")
    expect(page.locator("#desk-state .state-words")).to_have_text("SẴN SÀNG")
    expect(page.locator("#desk-state .state-symbol")).to_have_text("▶")
    assert wait_for(lambda: desk_state(server) == ("ready", "")), desk_state(server)
    # Time in state counts live.
    expect(page.locator("#desk-state .state-time")).to_have_text(re.compile(r"^00:0[1-9]$"), timeout=3000)
    shots.take("ready")

    page.keyboard.press("p")
    dialog = page.locator("#pause-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("button.reason")).to_have_count(len(REASONS))
    expect(dialog.locator("button.reason").nth(1)).to_contain_text(REASONS[1])
    shots.take("pause reasons")
    page.keyboard.press("2")
    expect(dialog).to_be_hidden()
    expect(page.locator("#desk-state")).to_have_attribute("data-state", "paused")
    expect(page.locator("#desk-state .state-words")).to_have_text("TẠM NGHỈ")
    expect(page.locator("#desk-state .state-reason")).to_have_text(f"({REASONS[1]})")
    assert wait_for(lambda: desk_state(server) == ("paused", REASONS[1])), desk_state(server)
    shots.take("paused")

    # Reloading keeps the session: GET /session decides, no second sign-in.
    page.reload()
    expect(page.locator("#console")).to_be_visible()
    expect(page.locator("#desk-state")).to_have_attribute("data-state", "paused")

    # L logs out: the desk goes offline and the sign-in comes back; the session is gone.
    page.keyboard.press("l")
    expect(page.locator("#signin")).to_be_visible()
    assert wait_for(lambda: desk_state(server)[0] == "offline"), desk_state(server)
    shots.take("logged out")
    page.reload()
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#console")).to_be_hidden()


def test_changes_made_elsewhere_show_at_once_and_a_ringing_call_pops(page: Page, shots: Shots, server: Server,
                                                                       user: str) -> None:
    signed_in(page, shots)
    state = page.locator("#desk-state")

    # The desk phone's feature code (or a supervisor) pauses the desk: the page follows.
    server.routing.set_desk_state(DESK, "paused", reason="training")
    expect(state).to_have_attribute("data-state", "paused", timeout=LIVE_WAIT_MS)
    expect(state.locator(".state-reason")).to_have_text("(training)")
    shots.take("paused elsewhere")

    server.routing.set_desk_state(DESK, "ready")
    expect(state).to_have_attribute("data-state", "ready", timeout=LIVE_WAIT_MS)
    expect(page.locator("#pop")).to_be_hidden()

    # A caller chose 1 (police) in Vietnamese and waits; the desk is offered the call.
    server.routing.arrive("c-pop-1", "0912345678", "PJSIP/trunk-0001", language="vi")
    server.routing.enqueue("c-pop-1", "police", 1, choice="1", route_reason="chosen", language="vi")
    time.sleep(1.1)  # a second of waiting, so the timers have something to show
    claim = server.routing.claim_next(["police"], 30_000)
    assert claim is not None and claim.desk_id == DESK

    pop = page.locator("#pop")
    expect(pop).to_be_visible(timeout=LIVE_WAIT_MS)
    expect(state.locator(".state-words")).to_have_text("ĐANG ĐỔ CHUÔNG")
    expect(state.locator(".state-symbol")).to_have_text("☎")
    expect(page.locator("#pop-state")).to_have_text("ĐANG ĐỔ CHUÔNG")
    expect(page.locator("#pop-caller")).to_have_text("0912345678")
    expect(page.locator("#pop-queue")).to_have_text("Công an · POLICE")
    expect(page.locator("#pop-ivr")).to_have_text("bấm 1 · tiếng Việt")
    expect(page.locator("#pop-call-id")).to_have_text("c-pop-1")
    arrived_ms = int(server.routing.call("c-pop-1")["arrived_ms"])
    expect(page.locator("#pop-arrived")).to_have_text(time.strftime("%H:%M:%S", time.localtime(arrived_ms / 1000)))
    expect(page.locator("#pop-waited")).to_have_text(re.compile(r"^00:0[1-2]$"))
    # The timers count: arrival and ringing go on while the desk rings.
    first = page.locator("#pop-ring").inner_text()
    expect(page.locator("#pop-ring")).not_to_have_text(first, timeout=2500)
    expect(page.locator("#pop-since-arrival")).to_have_text(re.compile(r"^00:0[2-9]$"))
    shots.take("ringing pop")

    # The same pop in English, switched by key while it rings.
    page.keyboard.press("n")
    expect(state.locator(".state-words")).to_have_text("RINGING")
    expect(page.locator("#pop-state")).to_have_text("RINGING")
    expect(page.locator("#pop-queue")).to_have_text("Police · POLICE")
    expect(page.locator("#pop-ivr")).to_have_text("pressed 1 · in Vietnamese")
    shots.take("ringing pop, en")

    # Answered at the desk phone: the pop stays, now on the call.
    server.routing.offer_answered("c-pop-1", DESK)
    expect(page.locator("#pop-state")).to_have_text("ON CALL", timeout=LIVE_WAIT_MS)
    expect(state.locator(".state-words")).to_have_text("ON CALL")
    ring = page.locator("#pop-ring").inner_text()
    page.wait_for_timeout(1200)
    expect(page.locator("#pop-ring")).to_have_text(ring)  # ringing is over: its time stands still
    shots.take("on call")

    # Logging out on a call is refused, and the page says why in the server's words.
    page.keyboard.press("l")
    message = page.locator("#console-message")
    expect(message).to_be_visible()
    expect(message).to_contain_text("on_call")
    expect(page.locator("#console")).to_be_visible()
    assert desk_state(server)[0] == "on_call"
    shots.take("log out refused on a call")


def test_the_page_says_when_it_is_not_live(page: Page, shots: Shots, server: Server, user: str) -> None:
    signed_in(page, shots)
    live = page.locator("#live")
    expect(live).to_have_text(re.compile(r"●\s*trực tuyến"))
    server.stop()  # the events stream is cut
    expect(live).to_have_attribute("data-live", "no", timeout=3000)
    expect(live).to_have_text(re.compile(r"○\s*mất kết nối trực tiếp"))
    shots.take("not live")
    page.keyboard.press("n")
    expect(live).to_have_text(re.compile(r"○\s*not live"))

    # Changed while the page could not hear it; then the server is back on the same address.
    server.routing.set_desk_state(DESK, "paused", reason="meeting")
    again = Server(server.redis_url, port=server.port).start()
    try:
        expect(live).to_have_text(re.compile(r"●\s*live"), timeout=8000)  # the browser reconnects by itself
        expect(page.locator("#desk-state .state-reason")).to_have_text("(meeting)", timeout=LIVE_WAIT_MS)
        server.routing.set_desk_state(DESK, "ready")  # and follows again
        expect(page.locator("#desk-state")).to_have_attribute("data-state", "ready", timeout=LIVE_WAIT_MS)
        shots.take("live again")
    finally:
        again.stop()
        again.client.close()


def test_values_are_shown_as_text_never_as_html(page: Page, shots: Shots, server: Server, user: str) -> None:
    signed_in(page, shots)
    markup = '<img src=x id=injected onerror="window.injected=1">'
    server.routing.set_desk_state(DESK, "paused", reason="<b id=bold>break</b>")
    expect(page.locator("#desk-state .state-reason")).to_have_text("(<b id=bold>break</b>)", timeout=LIVE_WAIT_MS)

    server.routing.set_desk_state(DESK, "ready")
    server.routing.arrive("c-html-1", markup, "PJSIP/trunk-0002", language="en")
    server.routing.enqueue("c-html-1", "police", 1, choice="1", route_reason="chosen", language="en")
    assert server.routing.claim_next(["police"], 30_000) is not None
    expect(page.locator("#pop-caller")).to_have_text(markup, timeout=LIVE_WAIT_MS)
    shots.take("markup shown as text")
    assert page.locator("#injected, #bold").count() == 0
    assert page.evaluate("window.injected") is None


def test_a_session_that_ran_out_brings_back_the_sign_in(page: Page, shots: Shots, server: Server, user: str) -> None:
    signed_in(page, shots)
    holder = Accounts(server.client).desk_holder(DESK)
    assert holder["user"] == USER
    server.client.delete(server.routing.keys.session(holder["session_id"]))  # as its idle time running out does
    page.keyboard.press("r")
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#signin-error")).to_have_text("Phiên làm việc đã hết. Hãy đăng nhập lại.")
    expect(page.locator("#signin-desk")).to_have_value(DESK)  # the desk is remembered
    shots.take("session over")
    assert desk_state(server)[0] != "ready"


# (range so far, Date header, sent, received) → (lo, hi, offset used): all in ms. The header is
# whole seconds and up to a second old (uvicorn renews it once a second): the server's time
# was in [date, date + 2000) between sending and receiving.
SKEW_CASES = [
    ("one quick answer, clocks agree", (None, None), 10_000, 10_200, 10_250, (-250, 1800, 0)),
    ("one answer 2.5 s late: not a skew", (None, None), 10_000, 10_000, 12_500, (-2500, 2000, 0)),
    ("late, then quick: still none", (-2500, 2000), 13_000, 13_100, 13_150, (-150, 1900, 0)),
    ("the server 5 s ahead, quick answers", (None, None), 15_000, 10_000, 10_050, (4950, 7000, 4950)),
    ("narrowed by a second answer", (4950, 7000), 16_000, 10_600, 10_650, (5350, 7000, 5350)),
    ("the server 5 s behind", (None, None), 5_000, 10_000, 10_100, (-5100, -3000, -3000)),
    ("the server's clock set meanwhile: start again", (4950, 7000), 10_000, 10_000, 10_100, (-100, 2000, 0)),
]


@pytest.mark.parametrize(("why", "before", "date", "sent", "received", "expected"), SKEW_CASES,
                         ids=[c[0] for c in SKEW_CASES])
def test_the_server_clock_offset_is_narrowed_from_the_date_headers(page: Page, server: Server, why, before, date,
                                                                    sent, received, expected) -> None:
    page.goto("/console")
    lo, hi = before
    got = page.evaluate(
        """async ([lo, hi, date, sent, received]) => {
             const kit = await import('/console/assets/kit.js');
             const r = kit.narrowSkew({lo: lo ?? -Infinity, hi: hi ?? Infinity}, date, sent, received);
             return [r.lo, r.hi, r.offset];
           }""", [lo, hi, date, sent, received])
    assert tuple(got) == expected, why

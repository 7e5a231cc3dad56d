"""The console's callback list and the call's recording in headless chromium: the abandoned
callers of the call-taker's agency and the general queue (not another agency's) with a live
age, dialled by key (the e2e city's dialer is off: the server's 409 in its words, and the row
says to call from the desk phone), an outcome recorded by key and the row gone, a new task
shown live; and the instant replay of the last 30 s of the call on the desk by key, the
server's refusal as text while there is no file, the whole recording after the call."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Page, expect

from config.settings import RuntimeSettings
from queueing.callbacks import Callbacks
from queueing.recording_files import CallRecording, host_folder
from queueing.recordings import Recordings
from queueing.routing import Routing, wall_clock_ms
from queueing.states import RecordingStatus
from tests.browser.conftest import CITY, Server, Shots, serving
from tests.browser.test_console import DESK, LIVE_WAIT_MS, signed_in, user, wait_for  # noqa: F401 (user: a fixture)
from tests.browser.test_console_call import answered
from tests.queueing.test_recordings import sox_wav
from tests.replay import E2E_CITY

# signed in as test_console.py's police call-taker at desk-101
pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("user")]

POLICE_NUMBER, GENERAL_NUMBER, FIRE_NUMBER, LATER_NUMBER = "0911000001", "0922000002", "0933000003", "0944000004"


@pytest.fixture
def server(redis_client: redis.Redis, redis_url: str, tmp_path: Path) -> Iterator[Server]:
    """conftest's server, reading recordings under tmp_path (the [recording] dir below it)."""
    with serving(redis_url, asterisk_root=tmp_path) as srv:
        yield srv


def abandoned(routing: Routing, call_id: str, number: str, queue: str, *, ago_ms: int = 120_000) -> None:
    """A caller who hung up while waiting in ``queue`` ("" : in the menu, the general queue), and its callback task."""
    now = wall_clock_ms()
    routing.arrive(call_id, number, f"PJSIP/citizens-{call_id}", now_ms=now - ago_ms)
    if queue:
        routing.enqueue(call_id, queue, 1, now_ms=now - ago_ms + 1_000)
    routing.hangup(call_id, 10_000, now_ms=now - ago_ms + 30_000)
    task = Callbacks(routing.redis).create(call_id)
    assert task.status == "pending", task


def test_callbacks_listed_dialled_by_key_refused_plainly_and_an_outcome_recorded(
        page: Page, shots: Shots, server: Server) -> None:
    abandoned(server.routing, "cb-police", POLICE_NUMBER, "police")
    abandoned(server.routing, "cb-general", GENERAL_NUMBER, "", ago_ms=60_000)
    abandoned(server.routing, "cb-fire", FIRE_NUMBER, "fire")

    signed_in(page, shots)
    panel = page.locator("#slot-callbacks")
    rows = panel.locator("tr.callbacks-row")
    # Police's own and the general queue's; never fire's.
    expect(rows).to_have_count(2)
    expect(panel).not_to_contain_text(FIRE_NUMBER)
    police = panel.locator('tr.callbacks-row[data-call-id="cb-police"]')
    expect(police.locator(".callbacks-number")).to_contain_text(POLICE_NUMBER)
    expect(police.locator(".callbacks-attempts")).to_have_text("0")
    expect(police.locator(".callbacks-status")).to_contain_text("chờ gọi lại")
    expect(police.locator(".callbacks-call")).to_have_text("cb-police")
    # The caller hung up 90 s ago; the age counts on.
    expect(police.locator(".callbacks-age")).to_have_text(re.compile(r"^01:3\d trước$"))
    first = police.locator(".callbacks-age").text_content() or ""
    expect(police.locator(".callbacks-age")).not_to_have_text(first, timeout=2500)
    general = panel.locator('tr.callbacks-row[data-call-id="cb-general"]')
    expect(general.locator(".callbacks-number")).to_contain_text(GENERAL_NUMBER)
    expect(general.locator(".callbacks-queue")).to_have_text("Chung (không bấm phím)")
    shots.take("callback list")

    # B puts the cursor on the list; the arrows move it to the police caller.
    page.keyboard.press("b")
    focused = page.locator("tr.callbacks-row:focus")
    expect(focused).to_have_count(1)
    order = [rows.nth(i).get_attribute("data-call-id") for i in range(rows.count())]
    for _ in range(order.index("cb-police")):
        page.keyboard.press("ArrowDown")
    expect(police).to_be_focused()

    # D dials: the e2e city's dialer is off, the server says so (409), and the row says what to do.
    page.keyboard.press("d")
    message = panel.locator("#callbacks-message")
    expect(message).to_contain_text("Không gọi được: the dialer is off in the city file")
    expect(message).to_contain_text(f"call {POLICE_NUMBER} from the desk phone")
    expect(message).to_have_attribute("data-kind", "error")
    hint = panel.locator('tr.callbacks-hint[data-call-id="cb-police"]')
    expect(hint).to_have_text(f"☎ Gọi {POLICE_NUMBER} từ điện thoại bàn, rồi ghi kết quả (O).")
    expect(page.locator("dialog[open]")).to_have_count(0)  # D stayed on the list: no other panel's dialog opened
    assert server.routing.desk(DESK)["state"] == "paused"  # nothing was booked
    expect(police).to_be_focused()
    shots.take("dialer off")
    page.keyboard.press("Enter")  # Enter dials too: the same answer
    expect(message).to_contain_text("the dialer is off")

    # O: the outcome, chosen by its digit, with a note; Enter saves it and the row leaves.
    page.keyboard.press("o")
    dialog = page.locator("#callbacks-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#callbacks-dialog-title")).to_contain_text(POLICE_NUMBER)
    expect(dialog.locator(".callbacks-choice")).to_have_count(5)
    expect(dialog.locator(".callbacks-choice").first).to_be_focused()
    dialog.locator("#callbacks-save").click()  # nothing chosen yet: said, not sent
    expect(dialog.locator("#callbacks-dialog-error")).to_have_text("Hãy chọn một kết quả (1–5).")
    page.keyboard.press("1")
    expect(dialog.locator('.callbacks-choice[data-outcome="reached"]')).to_have_attribute("aria-pressed", "true")
    expect(dialog.locator("#callbacks-note")).to_be_focused()
    page.keyboard.type("<b>called</b> from the desk phone, all fine")
    shots.take("outcome dialog")
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(police).to_have_count(0)
    expect(hint).to_have_count(0)
    expect(rows).to_have_count(1)
    expect(message).to_have_text(f"Đã ghi kết quả cho {POLICE_NUMBER}: đã liên lạc được.")
    task = Callbacks(server.client).task("cb-police")
    assert task is not None and task.status == "reached" and task.attempts == 1
    assert task.reason == "<b>called</b> from the desk phone, all fine" and task.desk == DESK
    expect(general).to_be_focused()  # the cursor stays on the list
    shots.take("outcome recorded")

    # No answer: the row stays, one attempt counted, retried later (the time shown, in words).
    page.keyboard.press("o")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(general.locator(".callbacks-attempts")).to_have_text("1")
    expect(general.locator(".callbacks-status")).to_contain_text(re.compile(r"↻ gọi lại lúc \d\d:\d\d:\d\d"))
    expect(general.locator(".callbacks-status")).to_contain_text("lần trước: không nghe máy")
    general_task = Callbacks(server.client).task("cb-general")
    assert general_task is not None and general_task.status == "retry_at" and general_task.attempts == 1
    shots.take("retry later")

    # A caller who hangs up now shows without a reload (the stream's callback_created).
    abandoned(server.routing, "cb-later", LATER_NUMBER, "police", ago_ms=40_000)
    expect(panel.locator('tr.callbacks-row[data-call-id="cb-later"]')).to_contain_text(LATER_NUMBER, timeout=LIVE_WAIT_MS)
    expect(rows).to_have_count(2)

    # In English, with the keys listed in the help.
    page.keyboard.press("Escape")
    page.keyboard.press("n")
    expect(panel.locator("h3")).to_contain_text("Call back abandoned callers")
    expect(general.locator(".callbacks-age")).to_have_text(re.compile(r"^00:[3-5]\d ago$"))
    page.keyboard.press("F1")
    help_dialog = page.locator("#help-dialog")
    expect(help_dialog).to_contain_text("Go to the callback list")
    expect(help_dialog).to_contain_text("In the callback list: Enter/D dial, O record outcome")
    shots.take("help, en")
    page.keyboard.press("Escape")


def test_instant_replay_of_the_call_on_the_desk_then_the_whole_recording(
        page: Page, shots: Shots, server: Server, tmp_path: Path) -> None:
    runtime = RuntimeSettings(city_file=E2E_CITY, asterisk_root=tmp_path)
    folder = host_folder(CITY, runtime)
    folder.mkdir(parents=True)
    rec = CallRecording(folder, "c-rec")

    signed_in(page, shots)
    slot = page.locator("#slot-recording")
    expect(slot).to_be_empty()  # no call yet: nothing to play
    answered(server, page, "c-rec")
    play = slot.locator("#recording-play")
    expect(play).to_contain_text("Nghe lại 30 giây vừa qua")
    expect(play.locator("kbd")).to_have_text("Y")
    expect(slot.locator("#recording-audio")).to_be_hidden()

    # No file yet: the server's 404 in its words, as text.
    page.keyboard.press("y")
    status = slot.locator("#recording-status")
    expect(status).to_contain_text("Không nghe được: call c-rec has no recording to play")
    expect(status).to_have_class(re.compile(r"\berror\b"))
    expect(slot.locator("#recording-audio")).to_be_hidden()
    shots.take("no recording yet")

    # MixMonitor has written 4 s: Y plays them (fewer than 30 s there).
    sox_wav(rec.mix, 4.0, 440)
    page.keyboard.press("y")
    audio = slot.locator("#recording-audio")
    expect(audio).to_be_visible()
    expect(audio).to_have_attribute("src", re.compile(r"^/calls/c-rec/recording/recent\?seconds=30&at=\d+$"))
    expect(status).to_have_text("30 giây cuối của cuộc gọi c-rec.")
    page.wait_for_function("() => { const a = document.getElementById('recording-audio');"
                           " return a.readyState >= 1 && a.duration > 0; }")
    duration = audio.evaluate("a => a.duration")
    assert duration == pytest.approx(4.0, abs=0.05)
    shots.take("instant replay")

    # After the call (wrap-up ended): Y plays the whole recording of the call the desk had.
    server.routing.hangup("c-rec", CITY.queueing.wrap_up_s * 1000)
    expect(page.locator("#desk-state")).to_have_attribute("data-state", "wrap_up", timeout=LIVE_WAIT_MS)
    page.keyboard.press("e")
    expect(page.locator("#desk-state")).to_have_attribute("data-state", "ready", timeout=LIVE_WAIT_MS)
    expect(play).to_contain_text("Nghe toàn bộ ghi âm")
    expect(slot.locator("#recording-call")).to_have_text("Cuộc gọi trước: c-rec.")
    sox_wav(rec.mix, 6.0, 440)  # the finished file
    page.keyboard.press("y")
    expect(audio).to_have_attribute("src", "/calls/c-rec/recording")
    page.wait_for_function("() => { const a = document.getElementById('recording-audio');"
                           " return a.getAttribute('src') === '/calls/c-rec/recording' && a.readyState >= 1 && a.duration > 5; }")
    assert audio.evaluate("a => a.duration") == pytest.approx(6.0, abs=0.05)
    expect(status).to_have_text("Toàn bộ ghi âm cuộc gọi c-rec.")
    shots.take("whole recording")
    assert wait_for(lambda: server.routing.desk(DESK)["state"] == "ready")

    # The check after the call: a silent desk side is BROKEN, said in words and a symbol.
    Recordings(server.client).checked("c-rec", RecordingStatus.BROKEN, "the desk's side is silent (RMS 0.0000)")
    check = slot.locator("#recording-check")
    expect(check).to_have_text("✖ Ghi âm HỎNG: the desk's side is silent (RMS 0.0000) — giám sát viên đã được báo",
                               timeout=LIVE_WAIT_MS)
    expect(check).to_have_attribute("data-status", "broken")
    shots.take("recording broken")

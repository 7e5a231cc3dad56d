"""Announcements to waiting callers on the real lab: place in line in the caller's
language, and cut off at once when a desk is found."""

from __future__ import annotations

import re
import time

import pytest

from tests.lab_fixtures import wait_call, wait_until

pytestmark = pytest.mark.e2e


def _announced(lab, call_id: str) -> list[str]:
    return [line for line in lab.bridge_log(0).read_text().splitlines()
            if f"announcement to call {call_id} " in line]


def test_waiting_callers_hear_their_place_in_their_language(hotline, phones):
    phones.citizen("0991000001", "1", stay_ms=40000, first_digit_after_ms=300)   # presses during the vi menu
    first = wait_call(hotline, "0991000001", ("queued",), timeout=15)
    phones.citizen("0991000002", "1", stay_ms=40000, first_digit_after_ms=2500)  # during the en menu
    second = wait_call(hotline, "0991000002", ("queued",), timeout=15)
    assert (first["language"], second["language"]) == ("vi", "en")
    interval = hotline.city.queueing.announce_interval_s
    wait_until(lambda: _announced(hotline, second["call_id"]), interval + 8, "an announcement to the second caller")
    assert "(en): stay_on_line, position_2" in _announced(hotline, second["call_id"])[0]
    assert "(vi): stay_on_line, position_1" in _announced(hotline, first["call_id"])[0]
    wait_until(lambda: re.search(r"Playing 'hotline/en/position_2\.(wav|slin)'", hotline.asterisk.log_file.read_text()),
               10, "Asterisk playing hotline/en/position_2")


def test_an_announcement_is_cut_off_when_a_desk_is_found(hotline, phones):
    phones.desk("desk-101", ready=False, talk_ms=1000)
    phones.citizen("0991000003", "1", stay_ms=40000)
    rec = wait_call(hotline, "0991000003", ("queued",), timeout=15)
    wait_until(lambda: _announced(hotline, rec["call_id"]), hotline.city.queueing.announce_interval_s + 8,
               "the announcement to start")
    time.sleep(0.5)  # well inside the ~5 s announcement
    ready_at = time.time()
    hotline.routing().set_desk_state("desk-101", "ready")
    rec = wait_call(hotline, "0991000003", ("on_call", "ended"), timeout=15)
    # Rung and answered (0.5 s) without waiting for the announcement to finish.
    assert int(rec["answered_ms"]) / 1000 - ready_at < 2.5

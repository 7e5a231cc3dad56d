"""[ivr] mode = "human_first" on the real lab: with a desk idle and nobody waiting, a caller
skips the menu and that desk rings at once; with every desk busy the menu plays as usual.
(menu_first, the e2e city's mode, is today's behaviour: tests/e2e/test_call_path.py.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hotline.lab.lab import Lab
from tests.lab_fixtures import CITY, wait_call

pytestmark = pytest.mark.e2e


@pytest.fixture
def human_first(hotline: Lab, tmp_path) -> Iterator[Lab]:
    """The lab's bridge on the e2e city with mode = human_first; the usual bridge afterwards."""
    city = tmp_path / "city-human-first.toml"
    text = CITY.read_text(encoding="utf-8")
    assert "\n[ivr]\n" in text and "mode =" not in text
    city.write_text(text.replace("\n[ivr]\n", '\n[ivr]\nmode = "human_first"\n', 1), encoding="utf-8")
    hotline.kill_bridge(0)
    hotline.start_bridge(env={"HOTLINE_CITY_FILE": str(city)})
    try:
        yield hotline
    finally:
        hotline.kill_bridge(0)
        hotline.start_bridge()


def test_an_idle_desk_rings_within_2_s_of_arrival_without_the_menu(human_first, phones):
    desk = phones.desk("desk-301", answer_after_ms=500, talk_ms=1000)  # any agency's desk serves general
    phones.citizen("0933000001", "", stay_ms=8000)

    rec = wait_call(human_first, "0933000001", ("ended",), timeout=20)
    assert (rec["queue"], rec["route_reason"], rec["choice"], rec["priority_reason"]) == (
        "general", "desk_free", "", "no_choice")
    assert rec["priority"] == str(human_first.city.ivr.general_priority)
    assert (rec["desk"], rec["outcome"]) == ("desk-301", "answered")
    # The clock starts at arrival: the desk rang within 2 s of it, the menu never played.
    assert int(rec["offered_ms"]) - int(rec["arrived_ms"]) <= 2000, rec
    assert rec["ivr_path"] == ""
    assert desk.wait_for(r'RINGING from=\s*"EMERGENCY" <sip:0933000001@', 1)


def test_with_no_desk_idle_the_caller_hears_the_menu_and_keeps_the_choice(human_first, phones):
    phones.citizen("0933000002", "2", stay_ms=20000)  # every desk offline: the menu plays, the caller presses 2
    rec = wait_call(human_first, "0933000002", ("queued",), timeout=15)
    assert (rec["queue"], rec["route_reason"], rec["choice"]) == ("fire", "chosen", "2")

    phones.desk("desk-201", talk_ms=1000)
    rec = wait_call(human_first, "0933000002", ("ended",), timeout=20)
    assert (rec["desk"], rec["outcome"]) == ("desk-201", "answered")

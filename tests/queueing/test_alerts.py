"""Which supervisor alerts should be on (queueing.alerts.evaluate, a pure function): every kind at
both levels, and below its thresholds nothing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from config.settings import AlertAbove, AlertSettings
from queueing.alerts import WINDOW_MS, Alert, DeskFact, Facts, ShortageFact, evaluate
from queueing.states import AlertKind, AlertLevel, DeskState

NOW = 1_700_000_000_000
S = 1000
AGENCIES = ("police", "fire")
SETTINGS = AlertSettings()  # longest wait 20/60 s, service level 90/80 % (5 calls), no desk critical, abandons 5/10,
#                            fallback critical 1, broken recordings 1/3, paused 900/1800 s
CALM = Facts(
    now_ms=NOW, agencies=AGENCIES, waits={"general": [], "police": [], "fire": []},
    desks=[DeskFact("desk-101", "police", DeskState.READY, NOW - 60 * S),
           DeskFact("desk-201", "fire", DeskState.ON_CALL, NOW - 60 * S)],
)
W, C = AlertLevel.WARNING, AlertLevel.CRITICAL


def answered(i: int, queue: str, answer_s: float) -> dict[str, str]:
    arrived = NOW - 60 * S - i * S
    return {"call_id": f"c-{queue}-{i}", "queue": queue, "arrived_ms": str(arrived), "queued_ms": str(arrived + 2 * S),
            "first_answered_ms": str(arrived + int(answer_s * S)), "outcome": "answered", "state": "ended"}


def abandoned(i: int, queue: str = "police") -> dict[str, str]:
    arrived = NOW - 60 * S - i * S
    return {"call_id": f"a-{i}", "queue": queue, "arrived_ms": str(arrived), "queued_ms": str(arrived + 2 * S),
            "ended_ms": str(arrived + 30 * S), "outcome": "abandoned", "abandon_stage": "queued", "state": "abandoned"}


def calls(queue: str, fast: int, slow: int) -> list[dict[str, str]]:
    """``fast`` calls answered within 15 s, ``slow`` after 30 s."""
    return [answered(i, queue, 5) for i in range(fast)] + [answered(100 + i, queue, 30) for i in range(slow)]


def paused(seconds: int) -> list[DeskFact]:
    return [DeskFact("desk-101", "police", DeskState.PAUSED, NOW - seconds * S, "meal"), CALM.desks[1]]


def found(facts: Facts, settings: AlertSettings = SETTINGS) -> set[tuple[str, str, str]]:
    return {(a.kind, a.level, a.subject) for a in evaluate(facts, settings, 15)}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # calm: nothing
        ({}, set()),
        # longest wait, per queue: below 20 s nothing, at 20 s warning, at 60 s critical
        ({"waits": {"general": [], "police": [NOW - 19 * S], "fire": []}}, set()),
        ({"waits": {"general": [], "police": [NOW - 5 * S, NOW - 20 * S], "fire": []}},
         {(AlertKind.LONGEST_WAIT, W, "police")}),
        ({"waits": {"general": [NOW - 61 * S], "police": [], "fire": []}}, {(AlertKind.LONGEST_WAIT, C, "general")}),
        # service level over the last 15 min: 9 of 10 within 15 s is 90 %, no alert; 8 of 10 warning; 7 of 10 critical
        ({"recent_calls": calls("police", 9, 1)}, set()),
        ({"recent_calls": calls("police", 8, 2)}, {(AlertKind.SERVICE_LEVEL, W, "police")}),
        ({"recent_calls": calls("fire", 7, 3)}, {(AlertKind.SERVICE_LEVEL, C, "fire")}),
        # ...but not from fewer calls than service_level_min_calls (5): one slow call of two is no trend
        ({"recent_calls": calls("police", 1, 3)}, set()),
        # ...nor from calls older than the window
        ({"recent_calls": [{**c, "arrived_ms": str(NOW - WINDOW_MS - 60 * S)} for c in calls("police", 0, 10)]}, set()),
        # an agency with no desk logged in (offline or never registered): the city's level
        ({"desks": [DeskFact("desk-101", "police", DeskState.OFFLINE, NOW), CALM.desks[1]]},
         {(AlertKind.NO_DESK, C, "police")}),
        ({"desks": []}, {(AlertKind.NO_DESK, C, "police"), (AlertKind.NO_DESK, C, "fire")}),
        # a paused desk is logged in
        ({"desks": paused(60)}, set()),
        # abandons in the last 15 min, every queue: 4 nothing, 5 warning, 10 critical
        ({"recent_calls": [abandoned(i) for i in range(4)]}, set()),
        ({"recent_calls": [abandoned(i, ("police", "fire")[i % 2]) for i in range(5)]},
         {(AlertKind.ABANDON_SPIKE, W, "")}),
        ({"recent_calls": [abandoned(i) for i in range(10)]}, {(AlertKind.ABANDON_SPIKE, C, "")}),
        # callers in the fallback queue: any one is critical
        ({"fallback_callers": 1}, {(AlertKind.FALLBACK_CALLERS, C, "")}),
        # recordings checked broken lately: 1 warning, 3 critical
        ({"broken_recordings": ["c-1"]}, {(AlertKind.BROKEN_RECORDING, W, "")}),
        ({"broken_recordings": ["c-1", "c-2", "c-3"]}, {(AlertKind.BROKEN_RECORDING, C, "")}),
        # a desk paused too long: 15 min warning, 30 min critical
        ({"desks": paused(899)}, set()),
        ({"desks": paused(900)}, {(AlertKind.DESK_PAUSED, W, "desk-101")}),
        ({"desks": paused(1800)}, {(AlertKind.DESK_PAUSED, C, "desk-101")}),
        # Asterisk ran out of something in the window: any one shortage is critical, per resource
        ({"shortages": {"rtp_ports": ShortageFact(0, 0, 0)}}, set()),
        ({"shortages": {"rtp_ports": ShortageFact(1, 1, 0)}}, {(AlertKind.RESOURCE_SHORTAGE, C, "rtp_ports")}),
        ({"shortages": {"rtp_ports": ShortageFact(40, 30, 10), "file_descriptors": ShortageFact(2, 1, 0)}},
         {(AlertKind.RESOURCE_SHORTAGE, C, "rtp_ports"), (AlertKind.RESOURCE_SHORTAGE, C, "file_descriptors")}),
    ],
)
def test_each_kind_at_each_level(change, expected):
    assert found(replace(CALM, **change)) == expected


def test_a_level_left_out_is_off():
    settings = AlertSettings(longest_wait_s=AlertAbove(critical=60), no_desk_level="off")
    facts = replace(CALM, waits={"general": [], "police": [NOW - 30 * S], "fire": []}, desks=[])
    assert found(facts, settings) == set()
    assert found(replace(facts, waits={"police": [NOW - 60 * S]}), settings) == {(AlertKind.LONGEST_WAIT, C, "police")}
    assert found(replace(CALM, desks=[]), AlertSettings(no_desk_level="warning")) == {
        (AlertKind.NO_DESK, W, "police"), (AlertKind.NO_DESK, W, "fire")}


def test_an_alert_says_what_and_how_much():
    facts = replace(CALM, waits={"general": [], "police": [NOW - 75 * S, NOW - 3 * S], "fire": []},
                    desks=[DeskFact("desk-201", "fire", DeskState.READY, NOW)])
    alerts = evaluate(facts, SETTINGS, 15)
    assert alerts == [
        Alert(AlertKind.LONGEST_WAIT, C, "police", 75, 60, "police: a caller has waited 01:15 (alert at 60 s)",
              {"queue": "police", "seconds": 75, "waiting": 2}),
        Alert(AlertKind.NO_DESK, C, "police", 0, 0, "no police desk logged in", {"agency": "police"}),
    ]
    assert [a.key for a in alerts] == ["longest_wait:police", "no_desk:police"]


def test_critical_alerts_come_first():
    facts = replace(CALM, broken_recordings=["c-9"], fallback_callers=2)
    alerts = evaluate(facts, SETTINGS, 15)
    assert [(a.kind, a.level) for a in alerts] == [(AlertKind.FALLBACK_CALLERS, C), (AlertKind.BROKEN_RECORDING, W)]
    assert alerts[1].key == "broken_recording"
    assert alerts[1].params == {"count": 1, "hours": 24, "call_id": "c-9"}


def test_the_service_level_names_its_target():
    (alert,) = evaluate(replace(CALM, recent_calls=calls("police", 7, 3)), SETTINGS, 15)
    assert (alert.value, alert.threshold) == (70, 80)
    assert alert.params == {"queue": "police", "percent": 70, "within_s": 15, "answered": 10}
    assert alert.detail == ("police: 70 % of 10 calls answered within 15 s in the last 15 min (alert below 80 %)")


def test_a_shortage_says_what_ran_out_and_whom_it_refused():
    settings = AlertSettings(resource_shortages=AlertAbove(warning=1, critical=5), resource_shortage_window_min=10)
    [alert] = evaluate(replace(CALM, shortages={"channels": ShortageFact(3, 2, 1)}), settings, 15)
    assert (alert.level, alert.subject, alert.value, alert.threshold) == (W, "channels", 3, 1)
    assert alert.params == {"resource": "channels", "count": 3, "minutes": 10, "callers": 2, "desks": 1}
    assert alert.detail == ("Asterisk ran out of channels 3 times in the last 10 min: 2 callers refused, "
                            "1 desks not rung")

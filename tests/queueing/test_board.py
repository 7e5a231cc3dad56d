"""The wallboard's figures (queueing/board.py) from hand-built inputs, with known answers.

NOW is 10:00:00 on a day whose shift began at 07:00. The call records (seconds after arrival):

* police  p1  09:58  answered at 10 s                 (last 15 min)
* police  p2  09:55  answered at 18 s                 (last 15 min: within 20 s, not 15)
* police  p3  09:50  abandoned in the queue at 3 s    (last 15 min: a short abandon)
* police  p4  09:40  answered at 30 s                 (the 15 min before: neither target)
* police  p5  09:20  answered at 5 s                  (the last hour only)
* police  p6  07:01  abandoned while ringing at 40 s  (the shift only)
* general g1  09:59  hung up in the menu at 2 s       (no queue: the general column; short)
* general g2  09:57  answered at 12 s
* police  p0  06:59  answered at 5 s                  (before the shift: nowhere)
"""

from __future__ import annotations

from datetime import datetime

import pytest

from queueing.board import (
    WINDOW_15M,
    WINDOW_HOUR,
    WINDOW_PREVIOUS,
    WINDOW_SHIFT,
    BoardInputs,
    BridgeBeat,
    DeskNow,
    DiskNow,
    RedisNow,
    build_board,
    records_since,
    shift_start,
    trend,
)

T0 = 1_767_225_600_000  # a midnight (UTC; the board never reads a clock or a time zone)
NOW = T0 + 10 * 3_600_000
SHIFT = T0 + 7 * 3_600_000


def at(hm: str) -> int:
    h, m = (int(x) for x in hm.split(":"))
    return T0 + (h * 60 + m) * 60_000


def answered(call_id: str, queue: str, arrived: int, after_s: float) -> dict[str, str]:
    return {"call_id": call_id, "queue": queue, "arrived_ms": str(arrived), "state": "ended", "outcome": "answered",
            "first_answered_ms": str(arrived + int(after_s * 1000)), "ended_ms": str(arrived + 90_000)}


def abandoned(call_id: str, queue: str, arrived: int, after_s: float, stage: str) -> dict[str, str]:
    return {"call_id": call_id, "queue": queue, "arrived_ms": str(arrived), "state": "abandoned",
            "outcome": "abandoned", "abandon_stage": stage, "ended_ms": str(arrived + int(after_s * 1000))}


RECORDS = [
    answered("p0", "police", at("06:59"), 5),
    abandoned("p6", "police", at("07:01"), 40, "ringing"),
    answered("p5", "police", at("09:20"), 5),
    answered("p4", "police", at("09:40"), 30),
    abandoned("p3", "police", at("09:50"), 3, "queued"),
    answered("p2", "police", at("09:55"), 18),
    answered("g2", "general", at("09:57"), 12),
    answered("p1", "police", at("09:58"), 10),
    abandoned("g1", "", at("09:59"), 2, "ivr"),
]
ACTIVE = [
    {"call_id": "a1", "state": "ivr", "queue": "", "arrived_ms": str(NOW - 4_000)},
    {"call_id": "a2", "state": "ivr", "queue": "", "arrived_ms": str(NOW - 2_000)},
    {"call_id": "a3", "state": "fallback", "queue": "", "arrived_ms": str(NOW - 90_000)},
    {"call_id": "a4", "state": "ringing", "queue": "police", "arrived_ms": str(NOW - 30_000)},
    {"call_id": "a5", "state": "queued", "queue": "police", "arrived_ms": str(NOW - 50_000)},
    {"call_id": "p1", "state": "on_call", "queue": "police", "arrived_ms": str(at("09:58"))},
]
DESKS = [
    DeskNow("desk-101", "police", "on_call", "", NOW - 60_000, "p1", "0901"),
    DeskNow("desk-102", "police", "paused", "meal", NOW - 600_000),
    DeskNow("desk-201", "fire", "ready", "", NOW - 5_000),
    DeskNow("desk-301", "medical"),
]


def inputs(**changes) -> BoardInputs:
    base = dict(
        now_ms=NOW, shift_start_ms=SHIFT, queues=["general", "police", "fire", "medical"],
        waiting={"police": [NOW - 50_000, NOW - 20_000], "general": []},
        active_calls=ACTIVE, records=RECORDS, desks=DESKS,
        callbacks={"police": [NOW - 300_000, NOW - 100_000]},
        bridges=[BridgeBeat("b1", NOW - 500, True, NOW - 3_600_000, 3), BridgeBeat("b2", NOW - 10_000, False, NOW - 20_000, 0)],
        bridge_stale_ms=5_000, redis=RedisNow("master"), disk=DiskNow("/rec", 25, 100),
    )
    return BoardInputs(**(base | changes))


def columns(board):
    return {q.queue: q for q in board.queues}


def levels(window):
    return [(s.within_s, s.answered_within, s.percent, s.met, s.trend) for s in window.service_levels]


@pytest.mark.parametrize(("now", "starts", "began"), [
    ("2026-01-01 10:00", ["07:00", "19:00"], "2026-01-01 07:00"),
    ("2026-01-01 07:00", ["07:00", "19:00"], "2026-01-01 07:00"),
    ("2026-01-01 06:59", ["07:00", "19:00"], "2025-12-31 19:00"),
    ("2026-01-01 23:30", ["19:00", "07:00"], "2026-01-01 19:00"),
    ("2026-01-01 00:10", ["00:00"], "2026-01-01 00:00"),
    ("2026-01-01 13:59", ["06:00", "14:00", "22:00"], "2026-01-01 06:00"),
])
def test_the_shift_began_at_the_latest_start_passed(now, starts, began):
    parse = lambda text: datetime.strptime(text, "%Y-%m-%d %H:%M")  # noqa: E731
    assert shift_start(parse(now), starts) == parse(began)


def test_records_are_read_from_the_shift_or_the_last_hour_whichever_is_earlier():
    assert records_since(NOW, SHIFT) == SHIFT
    assert records_since(NOW, NOW - 600_000) == NOW - 3_600_000


@pytest.mark.parametrize(("now", "before", "expected"), [
    (82.0, 90.0, "worse"), (95.0, 90.0, "better"), (90.2, 90.0, "same"), (None, 90.0, None), (80.0, None, None),
])
def test_the_trend_arrow(now, before, expected):
    assert trend(now, before) == expected


def test_police_windows():
    police = columns(build_board(inputs()))["police"]
    last, previous, hour, shift = (police.windows[w] for w in (WINDOW_15M, WINDOW_PREVIOUS, WINDOW_HOUR, WINDOW_SHIFT))
    assert (last.calls, last.answered, last.abandoned, last.abandon_rate_percent, last.short_abandoned) == (3, 2, 1, 33.33, 1)
    assert last.abandoned_by_stage == {"ivr": 0, "queued": 1, "ringing": 0}
    assert last.short_abandoned_by_stage == {"ivr": 0, "queued": 1, "ringing": 0}
    # 15 s: p1 of p1, p2; 20 s: both. The 15 min before: p4 at 30 s, neither: both better.
    assert levels(last) == [(15, 1, 50.0, False, "better"), (20, 2, 100.0, True, "better")]
    assert levels(previous) == [(15, 0, 0.0, False, None), (20, 0, 0.0, False, None)]
    assert (hour.calls, hour.answered, hour.abandoned) == (5, 4, 1)
    assert levels(hour) == [(15, 2, 50.0, False, None), (20, 3, 75.0, False, None)]
    assert (shift.calls, shift.answered, shift.abandoned, shift.short_abandoned, shift.from_ms) == (6, 4, 2, 1, SHIFT)
    assert shift.abandoned_by_stage == {"ivr": 0, "queued": 1, "ringing": 1}
    assert shift.abandon_rate_percent == 33.33


def test_queue_now():
    board = build_board(inputs())
    general, police, fire = (columns(board)[q] for q in ("general", "police", "fire"))
    assert (police.waiting, police.oldest_waiting_arrived_ms, police.ringing, police.in_ivr) == (2, NOW - 50_000, 1, None)
    assert (police.callbacks_pending, police.oldest_callback_abandoned_ms) == (2, NOW - 300_000)
    assert (fire.waiting, fire.oldest_waiting_arrived_ms, fire.callbacks_pending, fire.oldest_callback_abandoned_ms) == (
        0, None, 0, None)
    assert (general.in_ivr, general.waiting, general.ringing) == (2, 0, 0)
    assert police.desks == {"offline": 0, "ready": 0, "ringing": 0, "on_call": 1, "wrap_up": 0, "paused": 1}
    assert general.desks == {"offline": 1, "ready": 1, "ringing": 0, "on_call": 1, "wrap_up": 0, "paused": 1}


def test_the_whole_centre_is_every_queue_together():
    board = build_board(inputs(waiting={"police": [NOW - 50_000, NOW - 20_000], "general": [NOW - 70_000],
                                        "fire": [NOW - 1_000]}))
    centre = board.centre
    assert centre.queue == "centre" and centre.queue not in columns(board)
    assert (centre.waiting, centre.oldest_waiting_arrived_ms, centre.ringing, centre.in_ivr) == (4, NOW - 70_000, 1, 2)
    assert (centre.callbacks_pending, centre.oldest_callback_abandoned_ms) == (2, NOW - 300_000)
    assert centre.desks == {"offline": 1, "ready": 1, "ringing": 0, "on_call": 1, "wrap_up": 0, "paused": 1}
    # Last 15 min: police p1, p2, p3 and general g1, g2: 5 calls, each counted once.
    last, shift = centre.windows[WINDOW_15M], centre.windows[WINDOW_SHIFT]
    assert (last.calls, last.answered, last.abandoned, last.short_abandoned) == (5, 3, 2, 2)
    assert last.abandoned_by_stage == {"ivr": 1, "queued": 1, "ringing": 0}
    # 15 s: p1 (10 s) and g2 (12 s) of p1, p2, g2; 20 s: all three. The 15 min before: p4 only, at 30 s.
    assert levels(last) == [(15, 2, 66.67, False, "better"), (20, 3, 100.0, True, "better")]
    assert (shift.calls, shift.answered, shift.abandoned) == (8, 5, 3)
    per_queue = columns(board)
    assert shift.calls == sum(q.windows[WINDOW_SHIFT].calls for q in per_queue.values())


def test_the_general_column_counts_the_menu_abandons():
    general = columns(build_board(inputs()))["general"]
    last = general.windows[WINDOW_15M]
    assert (last.calls, last.answered, last.abandoned, last.short_abandoned) == (2, 1, 1, 1)
    assert last.abandoned_by_stage == {"ivr": 1, "queued": 0, "ringing": 0}
    assert levels(last) == [(15, 1, 100.0, True, None), (20, 1, 100.0, True, None)]


def test_the_city_files_targets_and_short_abandons():
    board = build_board(inputs(service_levels=[(10, 90.0)], short_abandon_s=0))
    police = columns(board)["police"]
    assert board.service_level_targets == [(10, 90.0)]
    assert levels(police.windows[WINDOW_15M]) == [(10, 1, 50.0, False, "better")]
    assert police.windows[WINDOW_SHIFT].short_abandoned == 0  # nothing is shorter than 0 s


def test_desks_as_they_are():
    board = build_board(inputs())
    assert [(d.desk_id, d.state, d.reason, d.since_ms, d.caller) for d in board.desks] == [
        ("desk-101", "on_call", "", NOW - 60_000, "0901"),
        ("desk-102", "paused", "meal", NOW - 600_000, ""),
        ("desk-201", "ready", "", NOW - 5_000, ""),
        ("desk-301", "offline", "", None, ""),
    ]


def test_health():
    h = build_board(inputs()).health
    assert [(b.bridge_id, b.heartbeat_age_ms, b.alive, b.ami_up) for b in h.bridges] == [
        ("b1", 500, True, True), ("b2", 10_000, False, False)]
    assert (h.ami_up, h.bridges_alive, h.newest_heartbeat_age_ms) == (True, 1, 500)
    assert (h.fallback_callers, h.fallback_oldest_arrived_ms) == (1, NOW - 90_000)
    assert (h.redis_role, h.recording_free_bytes, h.recording_total_bytes, h.recording_free_percent) == ("master", 25, 100, 25.0)


def test_health_when_nothing_is_heard():
    only_stale = [BridgeBeat("b2", NOW - 10_000, True, NOW - 20_000, 0)]
    h = build_board(inputs(bridges=only_stale, disk=None, active_calls=[],
                           redis=RedisNow("master", "hotline", "10.0.0.1:6379", 3))).health
    assert (h.ami_up, h.bridges_alive, h.fallback_callers, h.fallback_oldest_arrived_ms) == (False, 0, 0, None)
    assert (h.recording_dir, h.recording_free_bytes, h.recording_free_percent) == ("", None, None)
    assert (h.redis_sentinel_master, h.redis_sentinel_primary, h.redis_sentinels) == ("hotline", "10.0.0.1:6379", 3)
    assert build_board(inputs(bridges=[])).health.newest_heartbeat_age_ms is None

"""The KPI report (queueing/kpis.py) over a hand-built day of calls, every figure worked out by hand.

The day: ``[T0, T0 + 24 h)``. Times below are seconds after the call's arrival unless said.

==== ====== ======== ====== ===================================================================
id   queue  arrived  caller what happened
==== ====== ======== ====== ===================================================================
P1   police 08:00:00 0901   queued 8, rang 10, answered 12 (answer 12 s, queue→answer 4), dispatched
P2   police 08:10:00 0902   queued 6, rang 7, answered 9 (9 s, 3), false_call
P3   police 08:30:00 0903   queued 5, rang 20, answered 25 (25 s, 20), prank
P4   police 09:05:00 0901   queued 7, hung up in the queue at 30: abandon (queued)
P5   police 09:20:00 0905   queued 4, rang 5, answered 6 (6 s, 2) by desk-101, transferred to fire
                            (requeued 60), fire answered 75: queue is fire now, own_queue police
F1   fire   10:00:00 0911   queued 10, rang 12, answered 16 (16 s, 6); an old record: answered_ms only
F2   fire   10:30:00 0912   queued 9, rang 10, hung up ringing at 14: abandon (ringing)
F3   fire   11:00:00 0913   queued 3, rang 44, answered 45 (45 s, 42), false_call
F4   fire   11:15:00 0901   queued 2, hung up at 3: SHORT abandon (queued)
G1   general 12:00:00 (none) queued 12, rang 18, answered 20 (20 s, 8)
G2   general 12:05:00 0921  queued 11, Asterisk's fallback queue took it (outcome fallback)
I1   -      13:00:00 0931   hung up in the IVR at 4: SHORT abandon (ivr)
I2   -      13:30:00 0921   hung up in the IVR at 8: abandon (ivr)
A1   police 23:59:50 0941   queued 5, still waiting (in progress)
X1   police T0 - 1 s        answered: before the range, left out
X2   police T0 + 24 h       abandoned: at the range's end (excluded), its callback task too
==== ====== ======== ====== ===================================================================

Overall: 14 calls; answered 7 (P1 P2 P3 P5 F1 F3 G1), answer times sorted 6 9 12 16 20 25 45 s;
abandoned 5 (P4 F2 F4 I1 I2), short 2 (F4 I1); fallback 1 (G2); in progress 1 (A1).
"""

from __future__ import annotations

from dataclasses import asdict

import pytest

from queueing.kpis import SERVICE_LEVEL_TARGETS, kpi_report, percentile

T0 = 1_767_225_600_000  # a midnight
DAY = 86_400_000
FIELDS = ("call_id", "caller", "state", "arrived_ms", "queue", "queued_ms", "desk", "offered_ms", "answered_ms",
          "ended_ms", "outcome", "abandon_stage", "wait_ms", "disposition", "previous_call_id", "repeat_count")


def at(hms: str) -> int:
    h, m, s = (int(x) for x in hms.split(":"))
    return T0 + ((h * 60 + m) * 60 + s) * 1000


def call(call_id: str, queue: str, arrived: int, caller: str, **after_s: float | str) -> dict[str, str]:
    """A record as Redis holds it: every field a string; ``*_ms`` given in seconds after arrival."""
    record = dict.fromkeys(FIELDS, "") | {"call_id": call_id, "caller": caller, "arrived_ms": str(arrived),
                                           "queue": queue}
    for name, value in after_s.items():
        record[name] = str(arrived + int(float(value) * 1000)) if name.endswith("_ms") else str(value)
    return record


def answered(call_id: str, queue: str, arrived: int, caller: str, queued: float, rang: float, answer: float,
             disposition: str = "", **more: float | str) -> dict[str, str]:
    return call(call_id, queue, arrived, caller, queued_ms=queued, offered_ms=rang, answered_ms=answer,
                first_answered_ms=answer, ended_ms=answer + 90, state="ended", outcome="answered", desk="desk-1",
                disposition=disposition, **more)


def abandoned(call_id: str, queue: str, arrived: int, caller: str, stage: str, hung_up: float,
              **more: float | str) -> dict[str, str]:
    return call(call_id, queue, arrived, caller, ended_ms=hung_up, state="abandoned", outcome="abandoned",
                abandon_stage=stage, **more)


P5 = answered("P5", "police", at("09:20:00"), "0905", 4, 5, 6, "dispatched")
P5 |= {"queue": "fire", "answered_ms": str(at("09:20:00") + 75_000), "transferred_from": "desk-101",
       "transferred_ms": str(at("09:20:00") + 60_000), "ended_ms": str(at("09:20:00") + 200_000)}
F1 = answered("F1", "fire", at("10:00:00"), "0911", 10, 12, 16, "advice_given")
F1["first_answered_ms"] = ""  # written before first_answered_ms existed

CALLS = [
    answered("P1", "police", at("08:00:00"), "0901", 8, 10, 12, "dispatched"),
    answered("P2", "police", at("08:10:00"), "0902", 6, 7, 9, "false_call"),
    answered("P3", "police", at("08:30:00"), "0903", 5, 20, 25, "prank"),
    abandoned("P4", "police", at("09:05:00"), "0901", "queued", 30, queued_ms=7),
    P5,
    F1,
    abandoned("F2", "fire", at("10:30:00"), "0912", "ringing", 14, queued_ms=9, offered_ms=10),
    answered("F3", "fire", at("11:00:00"), "0913", 3, 44, 45, "false_call"),
    abandoned("F4", "fire", at("11:15:00"), "0901", "queued", 3, queued_ms=2),
    answered("G1", "general", at("12:00:00"), "", 12, 18, 20),
    call("G2", "general", at("12:05:00"), "0921", queued_ms=11, ended_ms=40, state="ended", outcome="fallback"),
    abandoned("I1", "", at("13:00:00"), "0931", "ivr", 4),
    abandoned("I2", "", at("13:30:00"), "0921", "ivr", 8),
    call("A1", "police", at("23:59:50"), "0941", queued_ms=5, state="queued"),
    answered("X1", "police", T0 - 1000, "0901", 1, 2, 3),
    abandoned("X2", "police", T0 + DAY, "0901", "queued", 10, queued_ms=2),
]
TRANSFERS = {"P5": {"call_id": "P5", "own_queue": "police", "from_desk": "desk-101", "target_agency": "fire"}}


def task(call_id: str, status: str, last_outcome: str = "", first_attempt_after_s: int | None = None,
         reached_after_s: int | None = None) -> dict[str, str]:
    record = next(c for c in CALLS if c["call_id"] == call_id)
    abandoned_ms = int(record["ended_ms"])
    first = "" if first_attempt_after_s is None else str(abandoned_ms + first_attempt_after_s * 1000)
    closed = "" if reached_after_s is None else str(abandoned_ms + reached_after_s * 1000)
    return {"call_id": call_id, "number": record["caller"], "status": status, "last_outcome": last_outcome,
            "abandoned_ms": str(abandoned_ms), "first_attempt_ms": first, "closed_ms": closed}


CALLBACKS = [
    task("P4", "reached", "reached", first_attempt_after_s=60, reached_after_s=120),
    task("F2", "given_up", "no_answer", first_attempt_after_s=30),
    task("F4", "not_needed"),  # closed without an attempt
    task("I1", "pending"),
    task("I2", "reached", "reached", first_attempt_after_s=90, reached_after_s=300),
    task("X2", "reached", "reached", first_attempt_after_s=10, reached_after_s=60),  # its call is outside the range
]


@pytest.fixture(scope="module")
def report():
    return kpi_report(CALLS, from_ms=T0, to_ms=T0 + DAY, callbacks=CALLBACKS, transfers=TRANSFERS)


def hours(**counts: int) -> list[int]:
    out = [0] * 24
    for hour, n in counts.items():
        out[int(hour[1:])] = n
    return out


def test_the_range_and_its_agencies(report):
    assert (report.from_ms, report.to_ms, report.hours, report.short_abandon_s) == (T0, T0 + DAY, 24, 5)
    # P5 counts for police (answered there first, own_queue), though its record's queue is fire now
    assert list(report.agencies) == ["fire", "general", "none", "police"]
    assert {a: f.calls for a, f in report.agencies.items()} == {"police": 6, "fire": 4, "general": 2, "none": 2}
    assert "NENA-STA-020" in report.notes[0]


def test_overall(report):
    o = report.overall
    # 7 answered + 5 abandoned + 1 fallback + 1 in progress = 14
    assert (o.calls, o.answered, o.abandoned, o.fallback, o.in_progress) == (14, 7, 5, 1, 1)
    # 6 9 | 12 | 16 20 | 25 | 45  (upper bounds inclusive: 20 s is in 15-20)
    assert o.answer_histogram == {"0-5": 0, "5-10": 2, "10-15": 1, "15-20": 2, "20-40": 1, ">40": 1}
    # nearest rank of 7: p50 → 4th (16 s), p90 → ceil(6.3) = 7th, p95 → ceil(6.65) = 7th
    assert o.answer_ms == {"p50": 16_000, "p90": 45_000, "p95": 45_000}
    assert o.average_answer_ms == 19_000.0  # 133 s / 7
    # queue→answer 4 3 20 2 6 42 8 s: 85 s / 7 = 12142.857…; p90 = 7th of 2 3 4 6 8 20 42
    assert asdict(o.queue_to_answer) == {"count": 7, "average_ms": 12_142.9, "p90_ms": 42_000}
    assert o.abandoned_by_stage == {"ivr": 2, "queued": 2, "ringing": 1}
    assert (o.short_abandoned, o.short_abandoned_by_stage) == (2, {"ivr": 1, "queued": 1, "ringing": 0})
    assert o.abandon_rate_percent == 35.71  # 5 / 14
    assert o.abandon_rate_by_stage_percent == {"ivr": 14.29, "queued": 14.29, "ringing": 7.14}
    assert o.abandon_rate_without_short_percent == 21.43  # 3 / 14
    # among the 7 answered: P2 and F3 false calls, P3 a prank
    assert (o.false_calls, o.pranks, o.false_call_percent, o.prank_percent) == (2, 1, 28.57, 14.29)
    # within 15 s: 6 9 12 → 3/7; within 20 s: 6 9 12 16 20 → 5/7
    assert [asdict(s) for s in o.service_levels] == [
        {"within_s": 15, "target_percent": 90.0, "answered_within": 3, "percent": 42.86, "met": False},
        {"within_s": 20, "target_percent": 95.0, "answered_within": 5, "percent": 71.43, "met": False}]
    # within 10 s: 6 9 → 2/7; slowest 10 % of 7 = ceil(0.7) = 1 call: 45 s; false calls + pranks 3/7
    assert asdict(o.eu112) == {"average_answer_ms": 19_000.0, "answered_within_10s_percent": 28.57,
                               "slowest_10_percent_average_ms": 45_000.0, "abandon_rate_percent": 35.71,
                               "false_call_percent": 42.86}
    assert o.calls_per_hour == hours(h8=3, h9=2, h10=2, h11=2, h12=2, h13=2, h23=1)


def test_police(report):
    p = report.agencies["police"]
    # P1 P2 P3 P5 answered (12 9 25 6 s), P4 abandoned, A1 waiting
    assert (p.calls, p.answered, p.abandoned, p.fallback, p.in_progress) == (6, 4, 1, 0, 1)
    assert p.answer_histogram == {"0-5": 0, "5-10": 2, "10-15": 1, "15-20": 0, "20-40": 1, ">40": 0}
    # sorted 6 9 12 25: p50 → 2nd, p90 → ceil(3.6) = 4th, p95 → 4th
    assert p.answer_ms == {"p50": 9_000, "p90": 25_000, "p95": 25_000}
    assert p.average_answer_ms == 13_000.0  # 52 / 4
    # queue→answer 4 3 20 2 (P5 to its FIRST answer)
    assert asdict(p.queue_to_answer) == {"count": 4, "average_ms": 7_250.0, "p90_ms": 20_000}
    assert (p.abandoned_by_stage, p.short_abandoned) == ({"ivr": 0, "queued": 1, "ringing": 0}, 0)
    assert (p.abandon_rate_percent, p.abandon_rate_without_short_percent) == (16.67, 16.67)  # 1 / 6
    assert p.abandon_rate_by_stage_percent == {"ivr": 0.0, "queued": 16.67, "ringing": 0.0}
    assert (p.false_calls, p.pranks, p.false_call_percent, p.prank_percent) == (1, 1, 25.0, 25.0)
    assert [(s.answered_within, s.percent, s.met) for s in p.service_levels] == [(3, 75.0, False), (3, 75.0, False)]
    assert asdict(p.eu112) == {"average_answer_ms": 13_000.0, "answered_within_10s_percent": 50.0,
                               "slowest_10_percent_average_ms": 25_000.0, "abandon_rate_percent": 16.67,
                               "false_call_percent": 50.0}
    assert p.calls_per_hour == hours(h8=3, h9=2, h23=1)


def test_fire(report):
    f = report.agencies["fire"]
    # F1 (16 s, from answered_ms alone) and F3 (45 s) answered; F2 ringing, F4 short queued abandons
    assert (f.calls, f.answered, f.abandoned, f.fallback, f.in_progress) == (4, 2, 2, 0, 0)
    assert f.answer_histogram == {"0-5": 0, "5-10": 0, "10-15": 0, "15-20": 1, "20-40": 0, ">40": 1}
    assert f.answer_ms == {"p50": 16_000, "p90": 45_000, "p95": 45_000}
    assert f.average_answer_ms == 30_500.0
    assert asdict(f.queue_to_answer) == {"count": 2, "average_ms": 24_000.0, "p90_ms": 42_000}  # 6 and 42 s
    assert f.abandoned_by_stage == {"ivr": 0, "queued": 1, "ringing": 1}
    assert (f.short_abandoned, f.short_abandoned_by_stage) == (1, {"ivr": 0, "queued": 1, "ringing": 0})
    assert (f.abandon_rate_percent, f.abandon_rate_without_short_percent) == (50.0, 25.0)
    assert (f.false_calls, f.pranks, f.false_call_percent, f.prank_percent) == (1, 0, 50.0, 0.0)
    assert [(s.answered_within, s.percent, s.met) for s in f.service_levels] == [(0, 0.0, False), (1, 50.0, False)]
    assert (f.eu112.answered_within_10s_percent, f.eu112.slowest_10_percent_average_ms) == (0.0, 45_000.0)
    assert f.calls_per_hour == hours(h10=2, h11=2)


def test_general_and_no_queue(report):
    g = report.agencies["general"]
    assert (g.calls, g.answered, g.abandoned, g.fallback, g.in_progress) == (2, 1, 0, 1, 0)
    assert (g.answer_ms, g.average_answer_ms) == ({"p50": 20_000, "p90": 20_000, "p95": 20_000}, 20_000.0)
    assert asdict(g.queue_to_answer) == {"count": 1, "average_ms": 8_000.0, "p90_ms": 8_000}
    assert g.abandon_rate_percent == 0.0
    # 20 s is not within 15 s, and is within 20 s: that target is met
    assert [(s.answered_within, s.percent, s.met) for s in g.service_levels] == [(0, 0.0, False), (1, 100.0, True)]
    n = report.agencies["none"]
    assert (n.calls, n.answered, n.abandoned, n.short_abandoned) == (2, 0, 2, 1)
    assert n.abandoned_by_stage == {"ivr": 2, "queued": 0, "ringing": 0}
    assert (n.abandon_rate_percent, n.abandon_rate_without_short_percent) == (100.0, 50.0)
    # nothing answered: no answer figures, not zeros
    assert (n.answer_ms, n.average_answer_ms, n.false_call_percent) == ({"p50": None, "p90": None, "p95": None}, None,
                                                                        None)
    assert asdict(n.queue_to_answer) == {"count": 0, "average_ms": None, "p90_ms": None}
    assert [(s.percent, s.met) for s in n.service_levels] == [(None, None), (None, None)]


def test_repeats_callbacks_transfers(report):
    # 0901: P1 P4 F4 (X1 and X2 are outside the range); 0921: G2 I2; the withheld G1 is nobody's
    assert asdict(report.repeats) == {"numbers": 2, "calls": 5, "top": [{"number": "0901", "calls": 3},
                                                                         {"number": "0921", "calls": 2}]}
    # X2's task is left out with its call; first attempts after 60, 30 and 90 s (p90: 3rd of 30 60 90);
    # reached after 120 and 300 s
    assert asdict(report.callbacks) == {
        "tasks": 5, "by_status": {"given_up": 1, "not_needed": 1, "pending": 1, "reached": 2},
        "by_last_outcome": {"no_answer": 1, "none": 2, "reached": 2},
        "abandon_to_first_attempt": {"count": 3, "average_ms": 60_000.0, "p90_ms": 90_000},
        "abandon_to_reached": {"count": 2, "average_ms": 210_000.0, "p90_ms": 300_000}}
    # P5: first answer at 6 s, fire's at 75 s (69 s), requeued at 60 s (15 s)
    assert asdict(report.transfers) == {
        "transferred": 1, "answered_at_target": 1,
        "first_answer_to_target_answer": {"count": 1, "average_ms": 69_000.0, "p90_ms": 69_000},
        "requeue_to_target_answer": {"count": 1, "average_ms": 15_000.0, "p90_ms": 15_000}}


def test_short_abandons_are_configurable():
    # at 10 s I2 (8 s) is short too, and F2 (14 s) still is not
    o = kpi_report(CALLS, from_ms=T0, to_ms=T0 + DAY, short_abandon_s=10).overall
    assert (o.abandoned, o.short_abandoned, o.short_abandoned_by_stage) == (5, 3, {"ivr": 2, "queued": 1, "ringing": 0})


def test_a_part_day_range_and_own_targets():
    # 08:00 to 10:00: P1 P2 P3 P4 P5 only, two hours
    r = kpi_report(CALLS, from_ms=at("08:00:00"), to_ms=at("10:00:00"), service_levels=((10, 80.0),),
                   transfers=TRANSFERS)
    assert (r.hours, r.overall.calls, r.overall.calls_per_hour, list(r.agencies)) == (2, 5, [3, 2], ["police"])
    assert [asdict(s) for s in r.overall.service_levels] == [
        {"within_s": 10, "target_percent": 80.0, "answered_within": 2, "percent": 50.0, "met": False}]
    assert r.notes == ["service-level targets: the city file's (80 % within 10 s)"]
    # without the transfer records P5 counts for its queue now, fire
    assert list(kpi_report(CALLS, from_ms=at("08:00:00"), to_ms=at("10:00:00")).agencies) == ["fire", "police"]


def test_an_empty_range_and_a_backwards_one():
    r = kpi_report([], from_ms=T0, to_ms=T0 + 1)
    assert (r.hours, r.overall.calls, r.overall.abandon_rate_percent, r.overall.eu112.average_answer_ms) == (1, 0, None,
                                                                                                          None)
    with pytest.raises(ValueError, match="must be after"):
        kpi_report([], from_ms=T0, to_ms=T0)


def test_percentile_is_nearest_rank():
    assert [percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], p) for p in (10, 50, 90, 95, 100)] == [1, 5, 9, 10, 10]
    assert percentile([], 50) is None
    assert SERVICE_LEVEL_TARGETS == ((15, 90.0), (20, 95.0))


def test_a_transferred_caller_who_hangs_up_in_the_target_queue_was_answered():
    """call_hangup says abandoned (queued), but a desk answered first: answered, not abandoned."""
    gone = answered("T1", "police", at("09:00:00"), "0951", 2, 3, 4) | {
        "queue": "fire", "transferred_from": "desk-101", "transferred_ms": str(at("09:00:30")),
        "outcome": "abandoned", "abandon_stage": "queued", "state": "abandoned"}
    r = kpi_report([gone], from_ms=T0, to_ms=T0 + DAY, transfers={"T1": {"own_queue": "police"}})
    assert (r.overall.answered, r.overall.abandoned, r.overall.answer_ms["p50"], list(r.agencies)) == (1, 0, 4_000,
                                                                                                      ["police"])
    assert (r.transfers.transferred, r.transfers.answered_at_target) == (1, 0)

"""The KPI reports over the API: ``GET /reports/kpis`` and ``GET /reports/calls.csv`` (supervisors and
viewers; tests/api/test_auth.py has every holder), on calls seeded through the routing scripts.

The day from T0 (seconds after T0):

* c1  police  0901  arrives 0, queued 5, rings desk-101 at 6, answered 8 (answer 8 s, queue→answer 3),
                    closed as a false call, hung up 60
* c2  police  0902  arrives 100, queued 106, hangs up in the queue at 110 (abandon, 10 s): a callback task
* c3  -       0901  arrives 200, hangs up in the IVR at 202: a short abandon; 0901's second call
* c4  police  0904  arrives 300, queued 303, rings desk-102 at 304, answered 305 (5 s, 2), transferred
                    blind to fire: requeued at 320, rings desk-201 at 322, fire answers at 325
* c0 (a day before) and c9 (at T0 + 24 h) are outside the range
"""

from __future__ import annotations

import csv
import io

import pytest

from api.services.reports import CSV_COLUMNS, MAX_RANGE_DAYS, local_midnight_ms
from config.settings import load_settings
from queueing.callbacks import Callbacks, Outcome, RetryRules
from queueing.incidents import Incidents
from queueing.routing import Routing
from tests.api_client import api_client
from tests.api_tokens import SUPERVISOR, bearer
from tests.replay import E2E_CITY

CITY = load_settings(E2E_CITY)
T0 = 1_767_225_600_000
DAY = 86_400_000
NOON = T0 + DAY // 2


def s(seconds: float) -> int:
    return T0 + int(seconds * 1000)


def seed(routing: Routing) -> None:
    for d in CITY.desks:
        routing.register_desk(d.id, d.agency, cross_trained=d.cross_trained, now_ms=T0 - 3_600_000)
    routing.set_desk_state("desk-101", "ready", now_ms=T0 - 3_000_000)

    routing.arrive("c1", "0901", "PJSIP/citizens-1", now_ms=s(0))
    routing.enqueue("c1", "police", 1, choice="1", route_reason="chosen", now_ms=s(5))
    assert routing.claim_next(["police"], 20_000, now_ms=s(6)).desk_id == "desk-101"
    routing.offer_answered("c1", "desk-101", now_ms=s(8))
    Incidents(routing.redis).set_disposition("c1", "false_call", by="desk-101", expected_version=0, now_ms=s(30))
    routing.hangup("c1", 10_000, now_ms=s(60))

    routing.arrive("c2", "0902", "PJSIP/citizens-2", now_ms=s(100))
    routing.enqueue("c2", "police", 1, now_ms=s(106))
    routing.hangup("c2", 10_000, now_ms=s(110))
    Callbacks(routing.redis).create("c2", now_ms=s(111))

    routing.arrive("c3", "0901", "PJSIP/citizens-3", now_ms=s(200))
    routing.hangup("c3", 10_000, now_ms=s(202))

    routing.set_desk_state("desk-102", "ready", now_ms=s(250))
    routing.set_desk_state("desk-201", "ready", now_ms=s(251))
    routing.arrive("c4", "0904", "PJSIP/citizens-4", now_ms=s(300))
    routing.enqueue("c4", "police", 1, now_ms=s(303))
    assert routing.claim_next(["police"], 20_000, now_ms=s(304)).desk_id == "desk-102"
    routing.offer_answered("c4", "desk-102", now_ms=s(305))
    routing.transfer_start("c4", "desk-102", "fire", "blind", now_ms=s(310))
    routing.transfer_step("c4", "moving", "requeued", requeue_queue="fire", wrap_up_ms=10_000, now_ms=s(320))
    assert routing.claim_next(["fire"], 20_000, now_ms=s(322)).desk_id == "desk-201"
    routing.offer_answered("c4", "desk-201", now_ms=s(325))

    routing.arrive("c0", "0901", "PJSIP/citizens-0", now_ms=T0 - DAY)
    routing.hangup("c0", 10_000, now_ms=T0 - DAY + 1_000)
    routing.arrive("c9", "0901", "PJSIP/citizens-9", now_ms=T0 + DAY)


@pytest.fixture
def routing(redis_client):
    routing = Routing(redis_client, clock=lambda: NOON)
    seed(routing)
    return routing


@pytest.fixture
def client(routing):
    with api_client(routing) as c:
        yield c


def kpis(client, **query: int) -> dict:
    reply = client.get("/reports/kpis", params=query, headers=SUPERVISOR)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_the_kpis_of_a_day(client):
    report = kpis(client, from_ms=T0, to_ms=T0 + DAY)
    assert (report["from_ms"], report["to_ms"], report["hours"], report["short_abandon_s"]) == (T0, T0 + DAY, 24, 5)
    o = report["overall"]
    # c1 and c4 answered (8 s and 5 s: c4's first answer, not fire's), c2 and c3 abandoned
    assert (o["calls"], o["answered"], o["abandoned"], o["fallback"], o["in_progress"]) == (4, 2, 2, 0, 0)
    assert o["answer_histogram"] == {"0-5": 1, "5-10": 1, "10-15": 0, "15-20": 0, "20-40": 0, ">40": 0}
    assert o["answer_ms"] == {"p50": 5_000, "p90": 8_000, "p95": 8_000}
    assert o["average_answer_ms"] == 6_500.0
    assert o["queue_to_answer"] == {"count": 2, "average_ms": 2_500.0, "p90_ms": 3_000}  # 3 s and 2 s
    assert (o["abandoned_by_stage"], o["short_abandoned_by_stage"]) == ({"ivr": 1, "queued": 1, "ringing": 0},
                                                                       {"ivr": 1, "queued": 0, "ringing": 0})
    assert (o["abandon_rate_percent"], o["abandon_rate_without_short_percent"]) == (50.0, 25.0)
    assert (o["false_calls"], o["pranks"], o["false_call_percent"]) == (1, 0, 50.0)
    assert [(sl["within_s"], sl["percent"], sl["met"]) for sl in o["service_levels"]] == [(15, 100.0, True),
                                                                                          (20, 100.0, True)]
    assert o["eu112"] == {"average_answer_ms": 6_500.0, "answered_within_10s_percent": 100.0,
                          "slowest_10_percent_average_ms": 8_000.0, "abandon_rate_percent": 50.0,
                          "false_call_percent": 50.0}
    assert o["calls_per_hour"] == [4] + [0] * 23
    # c4 is police's (answered there first), though its queue is fire now; c3 never reached a queue
    assert {a: f["calls"] for a, f in report["agencies"].items()} == {"none": 1, "police": 3}
    assert report["agencies"]["police"]["abandoned_by_stage"] == {"ivr": 0, "queued": 1, "ringing": 0}
    assert report["repeats"] == {"numbers": 1, "calls": 2, "top": [{"number": "0901", "calls": 2}]}
    assert report["callbacks"] == {"tasks": 1, "by_status": {"pending": 1}, "by_last_outcome": {"none": 1},
                                   "abandon_to_first_attempt": {"count": 0, "average_ms": None, "p90_ms": None},
                                   "abandon_to_reached": {"count": 0, "average_ms": None, "p90_ms": None}}
    # first answer 305 s, fire's 325 s; requeued at 320 s
    assert report["transfers"] == {
        "transferred": 1, "answered_at_target": 1,
        "first_answer_to_target_answer": {"count": 1, "average_ms": 20_000.0, "p90_ms": 20_000},
        "requeue_to_target_answer": {"count": 1, "average_ms": 5_000.0, "p90_ms": 5_000}}


RULES = RetryRules()


def test_the_time_to_the_first_callback_attempt_by_the_dialer(client, routing):
    """callback_claim keeps its first attempt's start (first_attempt_ms); later attempts do not move it."""
    routing.release_wrapups(now_ms=s(400))
    callbacks = Callbacks(routing.redis)
    assert callbacks.claim("c2", ["police"], now_ms=s(410)).result == "claimed"
    callbacks.record("c2", Outcome.NO_ANSWER, RULES, expected="dialing", now_ms=s(440))
    routing.release_wrapups(now_ms=s(1_000))
    assert callbacks.claim("c2", ["police"], now_ms=s(1_000)).result == "claimed"
    callbacks.record("c2", Outcome.REACHED, RULES, expected="dialing", now_ms=s(1_030))
    report = kpis(client, from_ms=T0, to_ms=T0 + DAY)["callbacks"]
    # abandoned at 110 s: first attempt at 410 s, reached at 1030 s
    assert (report["by_status"], report["by_last_outcome"]) == ({"reached": 1}, {"reached": 1})
    assert report["abandon_to_first_attempt"] == {"count": 1, "average_ms": 300_000.0, "p90_ms": 300_000}
    assert report["abandon_to_reached"] == {"count": 1, "average_ms": 920_000.0, "p90_ms": 920_000}


def test_the_time_to_the_first_callback_attempt_by_hand(client, routing):
    """A call-taker's attempt is never claimed: its outcome's time is the first attempt; closing the task
    without a call is no attempt."""
    callbacks = Callbacks(routing.redis)
    callbacks.record("c2", Outcome.BUSY, RULES, desk_id="desk-101", now_ms=s(150))
    callbacks.record("c2", Outcome.NOT_NEEDED, RULES, desk_id="desk-101", now_ms=s(200))
    report = kpis(client, from_ms=T0, to_ms=T0 + DAY)["callbacks"]
    assert report["by_status"] == {"not_needed": 1}
    assert report["abandon_to_first_attempt"] == {"count": 1, "average_ms": 40_000.0, "p90_ms": 40_000}
    routing.arrive("c5", "0905", "PJSIP/citizens-5", now_ms=s(500))
    routing.hangup("c5", 10_000, now_ms=s(510))
    callbacks.create("c5", now_ms=s(511))
    callbacks.record("c5", Outcome.NOT_NEEDED, RULES, desk_id="desk-101", now_ms=s(520))
    assert callbacks.task("c5").record.get("first_attempt_ms", "") == ""


def test_a_viewer_reads_it_too_and_a_part_of_the_day(client):
    reply = client.get("/reports/kpis", params={"from_ms": s(100), "to_ms": s(250)}, headers=bearer("viewer"))
    assert reply.status_code == 200
    o = reply.json()["overall"]
    assert (o["calls"], o["answered"], o["abandoned"], o["answer_ms"]["p50"], reply.json()["hours"]) == (2, 0, 2, None, 1)


def test_the_default_range_is_today_from_local_midnight(client):
    report = kpis(client)
    assert (report["from_ms"], report["to_ms"]) == (local_midnight_ms(NOON), local_midnight_ms(NOON, 1))
    assert kpis(client, from_ms=T0)["to_ms"] == T0 + DAY
    assert kpis(client, to_ms=T0 + DAY)["from_ms"] == T0


@pytest.mark.parametrize(("query", "message"), [
    ({"from_ms": T0, "to_ms": T0}, f"to_ms ({T0}) must be after from_ms ({T0})"),
    ({"from_ms": T0 + 1, "to_ms": T0}, "must be after from_ms"),
    ({"from_ms": T0, "to_ms": T0 + (MAX_RANGE_DAYS + 1) * DAY}, f"is 93.0 days: at most {MAX_RANGE_DAYS} days"),
])
def test_a_bad_range_is_a_clear_422(client, query, message):
    for path in ("/reports/kpis", "/reports/calls.csv"):
        reply = client.get(path, params=query, headers=SUPERVISOR)
        assert reply.status_code == 422
        assert message in reply.json()["detail"]
    assert client.get("/reports/kpis", params={"from_ms": "yesterday"}, headers=SUPERVISOR).status_code == 422
    # the longest range is fine
    assert client.get("/reports/kpis", params={"from_ms": T0, "to_ms": T0 + MAX_RANGE_DAYS * DAY},
                      headers=SUPERVISOR).status_code == 200


def test_the_calls_as_csv(client):
    reply = client.get("/reports/calls.csv", params={"from_ms": T0, "to_ms": T0 + DAY}, headers=bearer("viewer"))
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/csv")
    assert reply.headers["content-disposition"] == f'attachment; filename="calls-{T0}-{T0 + DAY}.csv"'
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["call_id"] for r in rows] == ["c1", "c2", "c3", "c4"]  # by arrival; c0 and c9 outside
    c1, c2, c3, c4 = rows
    assert {k: c1[k] for k in ("caller", "arrived_ms", "queued_ms", "offered_ms", "first_answered_ms", "answered_ms",
                               "ended_ms", "queue", "desk", "outcome", "disposition")} == {
        "caller": "0901", "arrived_ms": str(s(0)), "queued_ms": str(s(5)), "offered_ms": str(s(6)),
        "first_answered_ms": str(s(8)), "answered_ms": str(s(8)), "ended_ms": str(s(60)), "queue": "police",
        "desk": "desk-101", "outcome": "answered", "disposition": "false_call"}
    assert (c2["outcome"], c2["abandon_stage"], c2["ended_ms"], c2["answered_ms"]) == ("abandoned", "queued", str(s(110)), "")
    assert (c3["queue"], c3["abandon_stage"], c3["repeat_count"]) == ("", "ivr", "1")
    assert (c4["first_answered_ms"], c4["answered_ms"], c4["queue"], c4["desk"], c4["transferred_from"],
            c4["transferred_ms"]) == (str(s(305)), str(s(325)), "fire", "desk-201", "desk-102", str(s(320)))


def test_an_empty_range_is_a_header_only_csv_and_an_empty_report(client):
    reply = client.get("/reports/calls.csv", params={"from_ms": T0 + 2 * DAY, "to_ms": T0 + 3 * DAY},
                       headers=SUPERVISOR)
    assert reply.text == ",".join(CSV_COLUMNS) + "\r\n"
    report = kpis(client, from_ms=T0 + 2 * DAY, to_ms=T0 + 3 * DAY)
    assert (report["overall"]["calls"], report["agencies"], report["overall"]["abandon_rate_percent"]) == (0, {}, None)


def test_a_call_taker_gets_403(client):
    for path in ("/reports/kpis", "/reports/calls.csv"):
        reply = client.get(path, headers=bearer("police"))
        assert reply.status_code == 403
        assert "it needs a supervisor or viewer token" in reply.json()["detail"]

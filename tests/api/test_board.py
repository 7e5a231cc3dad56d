"""``GET /board`` (supervisors and viewers; tests/api/test_auth.py has every holder) on a line
seeded through the routing scripts, at a fixed clock, with known answers; queueing/board.py's
own table tests are tests/queueing/test_board.py.

Seconds before NOW:

* c1  police  arrives 300, queued 295, rings desk-101 294, answered 290 (10 s), hung up 200:
      desk-101 in wrap-up since 200
* c2  police  arrives 120, queued 118, hangs up in the queue at 116: a short abandon (4 s) and a callback task
* c3  police  arrives 60, queued 58: waiting
* c4  -       arrives 30: in the menu
* c5  -       arrives 45, taken by Asterisk's fallback queue at 40
* desk-102 paused (meal) since 500; bridge b1 beat 1 s ago, AMI up
"""

from __future__ import annotations

from datetime import datetime

import pytest

from api.services.board import BoardService
from config.settings import RuntimeSettings, load_settings
from queueing.board import shift_start
from queueing.callbacks import Callbacks
from queueing.routing import Routing
from tests.api_client import api_client
from tests.api_tokens import SUPERVISOR, bearer
from tests.replay import E2E_CITY

CITY = load_settings(E2E_CITY)
NOW = 1_767_225_600_000 + 12 * 3_600_000  # noon, 1 January 2026 (UTC)


def seed(routing: Routing, now: int = NOW) -> None:
    """The line of the module's docstring, seconds before ``now`` (tests/browser/test_supervisor_board.py too)."""

    def ago(seconds: float) -> int:
        return now - int(seconds * 1000)

    for d in CITY.desks:
        routing.register_desk(d.id, d.agency, cross_trained=d.cross_trained, now_ms=ago(3600))
    routing.set_desk_state("desk-101", "ready", now_ms=ago(1000))
    routing.set_desk_state("desk-102", "ready", now_ms=ago(1000))
    routing.set_desk_state("desk-102", "paused", reason="meal", now_ms=ago(500))
    routing.arrive("c1", "0901", "PJSIP/citizens-1", now_ms=ago(300))
    routing.enqueue("c1", "police", 1, now_ms=ago(295))
    assert routing.claim_next(["police"], 20_000, now_ms=ago(294)).desk_id == "desk-101"
    routing.offer_answered("c1", "desk-101", now_ms=ago(290))
    routing.hangup("c1", 600_000, now_ms=ago(200))
    routing.arrive("c2", "0902", "PJSIP/citizens-2", now_ms=ago(120))
    routing.enqueue("c2", "police", 1, now_ms=ago(118))
    routing.hangup("c2", 10_000, now_ms=ago(116))
    Callbacks(routing.redis).create("c2", now_ms=ago(115))
    routing.arrive("c3", "0903", "PJSIP/citizens-3", now_ms=ago(60))
    routing.enqueue("c3", "police", 1, now_ms=ago(58))
    routing.arrive("c4", "0904", "PJSIP/citizens-4", now_ms=ago(30))
    routing.arrive("c5", "0905", "PJSIP/citizens-5", now_ms=ago(45))
    routing.fallback("c5", reason="test", now_ms=ago(40))
    routing.bridge_heartbeat("b1", True, 7, now_ms=ago(1))


def ago(seconds: float) -> int:
    return NOW - int(seconds * 1000)


@pytest.fixture
def routing(redis_client):
    routing = Routing(redis_client, clock=lambda: NOW)
    seed(routing)
    return routing


@pytest.fixture
def client(routing):
    with api_client(routing) as c:
        yield c


def board(client, holder=SUPERVISOR) -> dict:
    reply = client.get("/board", headers=holder)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_the_board_of_a_seeded_line(client):
    b = board(client)
    began = int(shift_start(datetime.fromtimestamp(NOW / 1000), ["07:00", "19:00"]).timestamp() * 1000)
    assert (b["now_ms"], b["shift_start_ms"], b["short_abandon_s"]) == (NOW, began, 5)
    assert b["service_level_targets"] == [[15, 90.0], [20, 95.0]]  # the lab city sets none: NENA-STA-020
    queues = {q["queue"]: q for q in b["queues"]}
    assert list(queues) == ["general", "police", "fire", "medical", "disaster"]
    police, general = queues["police"], queues["general"]
    assert (police["waiting"], police["oldest_waiting_arrived_ms"], police["in_ivr"]) == (1, ago(60), None)
    assert (police["callbacks_pending"], police["oldest_callback_abandoned_ms"]) == (1, ago(116))
    assert police["desks"] == {"offline": 0, "ready": 0, "ringing": 0, "on_call": 0, "wrap_up": 1, "paused": 1}
    last = police["windows"]["last_15m"]
    assert (last["calls"], last["answered"], last["abandoned"], last["short_abandoned"], last["abandon_rate_percent"]) == (
        3, 1, 1, 1, 33.33)
    assert last["abandoned_by_stage"] == {"ivr": 0, "queued": 1, "ringing": 0}
    assert [(s["within_s"], s["percent"], s["met"], s["trend"]) for s in last["service_levels"]] == [
        (15, 100.0, True, None), (20, 100.0, True, None)]  # nothing answered the 15 min before: no arrow
    assert police["windows"]["shift"]["calls"] == 3
    assert (general["in_ivr"], general["waiting"]) == (1, 0)
    desks = {d["desk_id"]: d for d in b["desks"]}
    assert (desks["desk-101"]["state"], desks["desk-101"]["since_ms"]) == ("wrap_up", ago(200))
    assert (desks["desk-102"]["state"], desks["desk-102"]["reason"], desks["desk-102"]["since_ms"]) == ("paused", "meal", ago(500))
    h = b["health"]
    assert (h["ami_up"], h["bridges_alive"], h["newest_heartbeat_age_ms"], h["redis_role"]) == (True, 1, 1000, "master")
    assert [(x["bridge_id"], x["loop_lag_ms"], x["alive"]) for x in h["bridges"]] == [("b1", 7, True)]
    assert (h["fallback_callers"], h["fallback_oldest_arrived_ms"]) == (1, ago(45))
    assert h["recording_total_bytes"] > 0 and 0 <= h["recording_free_percent"] <= 100


def test_a_desk_on_a_call_shows_its_caller(client, routing):
    routing.set_desk_state("desk-102", "ready", now_ms=ago(20))
    assert routing.claim_next(["police"], 20_000, now_ms=ago(10)).desk_id == "desk-102"
    routing.offer_answered("c3", "desk-102", now_ms=ago(5))
    desk = next(d for d in board(client)["desks"] if d["desk_id"] == "desk-102")
    assert (desk["state"], desk["call_id"], desk["caller"], desk["since_ms"]) == ("on_call", "c3", "0903", ago(5))


def test_a_viewer_reads_it_a_call_taker_does_not(client):
    assert board(client, bearer("viewer"))["queues"][0]["queue"] == "general"
    assert client.get("/board", headers=bearer("police")).status_code == 403


@pytest.mark.parametrize(("cache_s", "waiting_after"), [(3600.0, 1), (0.0, 2)])
def test_one_reading_serves_the_requests_of_its_second(routing, cache_s, waiting_after):
    service = BoardService(CITY, routing, RuntimeSettings(city_file=E2E_CITY), cache_s=cache_s)
    police = lambda: next(q for q in service.board()["queues"] if q["queue"] == "police")  # noqa: E731
    assert police()["waiting"] == 1
    routing.arrive("c6", "0906", "PJSIP/citizens-6", now_ms=ago(3))
    routing.enqueue("c6", "police", 1, now_ms=ago(2))
    assert police()["waiting"] == waiting_after

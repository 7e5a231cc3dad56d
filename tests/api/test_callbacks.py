"""api/routers/callbacks.py and api/routers/numbers.py through create_app: callback lists and
outcomes, caller numbers and their policies, over the test Redis."""

from __future__ import annotations

import socket

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from config.settings import load_settings
from queueing.callbacks import Callbacks
from queueing.routing import Routing, wall_clock_ms
from tests.api_client import api_client
from tests.api_tokens import SUPERVISOR
from tests.replay import E2E_CITY

CITY = load_settings(E2E_CITY)
POLICE_DESK = next(d.id for d in CITY.desks if d.agency == "police")


@pytest.fixture
def routing(redis_client):
    return Routing(redis_client)


@pytest.fixture
def client(routing):
    with api_client(routing, headers=SUPERVISOR) as c:
        yield c


def abandoned_task(routing, call_id, caller="0912345678", queue="police", ago_ms=120_000):
    at = wall_clock_ms() - ago_ms
    routing.arrive(call_id, caller, f"PJSIP/citizens-{call_id}", now_ms=at)
    if queue:
        routing.enqueue(call_id, queue, 1, now_ms=at + 1_000)
    routing.hangup(call_id, 10_000, now_ms=at + 30_000)
    return Callbacks(routing.redis).create(call_id)


def test_desks_see_their_callbacks_oldest_first_with_the_general_ones(client, routing):
    abandoned_task(routing, "c-new", caller="0900000001", ago_ms=60_000)
    abandoned_task(routing, "c-old", caller="0900000002", ago_ms=600_000)
    abandoned_task(routing, "c-general", caller="0900000003", queue="", ago_ms=30_000)
    abandoned_task(routing, "c-fire", caller="0900000004", queue="fire")
    abandoned_task(routing, "c-withheld", caller="")

    reply = client.get("/callbacks/police")
    assert reply.status_code == 200
    assert [t["call_id"] for t in reply.json()] == ["c-general", "c-old", "c-new"]
    first = reply.json()[1]
    assert (first["number"], first["status"], first["queue"], first["attempts"]) == (
        "0900000002", "pending", "police", "0")
    assert [t["call_id"] for t in client.get("/callbacks/general").json()] == ["c-general"]


def test_unknown_agency_is_404(client):
    reply = client.get("/callbacks/navy")
    assert reply.status_code == 404 and "unknown agency 'navy'" in reply.json()["detail"]


def test_a_call_taker_records_a_callback_by_hand(client, routing):
    abandoned_task(routing, "c-1")
    reply = client.post("/callbacks/c-1/outcome", json={"outcome": "no_answer", "desk_id": POLICE_DESK})
    assert reply.status_code == 200
    body = reply.json()
    assert (body["status"], body["attempts"], body["last_outcome"], body["desk"]) == (
        "retry_at", "1", "no_answer", POLICE_DESK)
    assert int(body["next_attempt_ms"]) - wall_clock_ms() == pytest.approx(
        CITY.callbacks.retry_after_s * 1000, abs=5_000)

    reply = client.post("/callbacks/c-1/outcome", json={"outcome": "reached", "desk_id": POLICE_DESK})
    assert reply.json()["status"] == "reached"
    assert client.get("/callbacks/police").json() == []


def test_not_needed_with_a_note(client, routing):
    abandoned_task(routing, "c-1")
    reply = client.post("/callbacks/c-1/outcome", json={"outcome": "not_needed", "note": "patrol on site"})
    assert (reply.json()["status"], reply.json()["reason"]) == ("not_needed", "patrol on site")


def test_outcome_errors(client, routing):
    abandoned_task(routing, "c-1")
    Callbacks(routing.redis).claim("c-1", ["police"])  # no ready desk: nothing booked
    assert client.post("/callbacks/c-9/outcome", json={"outcome": "reached"}).status_code == 404
    assert client.post("/callbacks/c-1/outcome", json={"outcome": "reached", "desk_id": "desk-x"}).status_code == 404
    assert client.post("/callbacks/c-1/outcome", json={"outcome": "maybe"}).status_code == 422

    routing.register_desk(POLICE_DESK, "police")
    routing.set_desk_state(POLICE_DESK, "ready")
    assert Callbacks(routing.redis).claim("c-1", ["police"]).result == "claimed"
    reply = client.post("/callbacks/c-1/outcome", json={"outcome": "reached"})
    assert reply.status_code == 409
    assert reply.json()["detail"] == f"callback c-1 is being dialled from desk {POLICE_DESK}"


def test_a_number_its_repeats_nuisance_and_policy(client, routing):
    now = wall_clock_ms()
    for i in range(4):  # four 2-second calls in the last hour
        routing.arrive(f"c-{i}", "0912345678", "PJSIP/a", now_ms=now - 3_600_000 + i * 60_000)
        routing.hangup(f"c-{i}", 10_000, now_ms=now - 3_600_000 + i * 60_000 + 2_000)

    reply = client.put("/numbers/0912345678/policy",
                       json={"policy": "lower_priority", "set_by": "supervisor-1", "note": "pranks"})
    assert reply.status_code == 200
    assert (reply.json()["policy"], reply.json()["priority_delta"], reply.json()["previous"]) == (
        "lower_priority", str(CITY.numbers.lower_priority_by), "none")

    view = client.get("/numbers/0912345678").json()
    assert (view["repeat_count"], view["last_call_id"]) == (3, "c-3")
    assert view["nuisance"]["short_calls"] == 4
    assert view["nuisance"]["likely_nuisance"] is True
    assert view["policy"]["set_by"] == "supervisor-1"
    assert len(view["recent_calls"]) == 4

    routing.arrive("c-4", "0912345678", "PJSIP/a")
    routing.enqueue("c-4", "police", 1)
    assert routing.call("c-4")["priority"] == str(1 + CITY.numbers.lower_priority_by)


def test_policy_errors(client):
    reply = client.put("/numbers/anonymous/policy", json={"policy": "general_only", "set_by": "s"})
    assert reply.status_code == 400 and "not a caller number" in reply.json()["detail"]
    assert client.put("/numbers/0912345678/policy", json={"policy": "block", "set_by": "s"}).status_code == 422
    assert client.put("/numbers/0912345678/policy", json={"policy": "general_only"}).status_code == 422
    assert client.put("/numbers/0912345678/policy",
                      json={"policy": "lower_priority", "priority_delta": 12, "set_by": "s"}).status_code == 422


def test_redis_down_is_503():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = redis.Redis(port=port, socket_connect_timeout=0.5, decode_responses=True,
                       retry=Retry(NoBackoff(), 0))  # fail at once, no reconnect attempts
    with api_client(Routing(dead), headers=SUPERVISOR) as c:
        assert c.get("/callbacks/police").status_code == 503
        assert c.get("/numbers/0912345678").status_code == 503
        assert c.put("/numbers/0912345678/policy",
                     json={"policy": "general_only", "set_by": "s"}).status_code == 503

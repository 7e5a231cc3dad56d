"""api.app over the test Redis, with the e2e city's desks registered (as the bridge does)."""

from __future__ import annotations

import socket

import pytest
import redis
from fastapi.testclient import TestClient

from api.app import create_app
from config.settings import RuntimeSettings, load_settings
from queueing.routing import Routing, wall_clock_ms
from tests.api_tokens import SUPERVISOR, TOKENS
from tests.replay import E2E_CITY

CITY = load_settings(E2E_CITY)
DESK_IDS = [d.id for d in CITY.desks]


def runtime() -> RuntimeSettings:
    return RuntimeSettings(city_file=E2E_CITY)


def api(routing: Routing) -> TestClient:
    """The API over ``routing``, every request with a supervisor's token (roles: tests/api/test_auth.py)."""
    return TestClient(create_app(runtime(), city=CITY, routing=routing, tokens=TOKENS), headers=SUPERVISOR)


@pytest.fixture
def city():
    return CITY


@pytest.fixture
def routing(city_routing):
    return city_routing


@pytest.fixture
def client(routing):
    with api(routing) as c:
        yield c


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def down_client():
    dead = redis.Redis.from_url(f"redis://127.0.0.1:{closed_port()}/0", decode_responses=True,
                                socket_timeout=0.5, socket_connect_timeout=0.5)
    with api(Routing(dead)) as c:
        yield c


NOT_WRAPPING_UP = {"wrap_up_until_ms": None, "wrap_up_extended": False}


def test_list_desks(client, routing):
    routing.set_desk_state("desk-201", "ready")
    response = client.get("/desks")
    assert response.status_code == 200
    desks = response.json()
    assert [d["desk_id"] for d in desks] == DESK_IDS
    by_id = {d["desk_id"]: d for d in desks}
    assert by_id["desk-101"] == {"desk_id": "desk-101", "agency": "police", "state": "offline", "call_id": "", "reason": "",
                                 "since_ms": int(routing.desk("desk-101")["since_ms"]), **NOT_WRAPPING_UP}
    assert by_id["desk-201"]["state"] == "ready"
    assert by_id["desk-401"]["agency"] == "disaster"


def test_unregistered_desk_is_listed_offline(redis_client):
    with api(Routing(redis_client)) as c:
        desks = c.get("/desks").json()
    assert {d["state"] for d in desks} == {"offline"}


def test_set_ready_then_paused_with_a_reason_then_offline(client, routing):
    before = wall_clock_ms()
    response = client.put("/desks/desk-101/state", json={"state": "ready", "reason": "shift start"})
    assert response.status_code == 200
    assert response.json() == {"desk_id": "desk-101", "agency": "police", "state": "ready", "call_id": "", "reason": "shift start",
                               "since_ms": int(routing.desk("desk-101")["since_ms"]), **NOT_WRAPPING_UP}
    assert before <= response.json()["since_ms"] <= wall_clock_ms()
    assert routing.desk("desk-101")["state"] == "ready"

    response = client.put("/desks/desk-101/state", json={"state": "paused", "reason": "lunch"})
    assert response.status_code == 200
    assert (response.json()["state"], response.json()["reason"]) == ("paused", "lunch")
    assert (routing.desk("desk-101")["state"], routing.desk("desk-101")["reason"]) == ("paused", "lunch")

    response = client.put("/desks/desk-101/state", json={"state": "offline", "reason": "shift end"})
    assert response.status_code == 200
    assert response.json()["state"] == "offline"
    assert routing.desk("desk-101")["state"] == "offline"
    assert routing.desk("desk-102")["state"] == "offline"  # only that desk changed


def test_set_ready_on_an_empty_redis_registers_the_desk_from_the_city_file(redis_client):
    """Redis lost its desks (or no bridge registered them yet): the desk is made, then set."""
    assert redis_client.keys("*") == []
    routing = Routing(redis_client)
    with api(routing) as c:
        response = c.put("/desks/desk-201/state", json={"state": "ready", "reason": "shift start"})
        assert response.status_code == 200, response.text
        assert response.json() == {"desk_id": "desk-201", "agency": "fire", "state": "ready", "call_id": "",
                                   "reason": "shift start", "since_ms": int(routing.desk("desk-201")["since_ms"]), **NOT_WRAPPING_UP}
        login = c.post("/desks/desk-101/login", json={"reason": "shift start"})
        assert login.status_code == 200, login.text
    desk = routing.desk("desk-201")
    assert (desk["state"], desk["agency"], desk["cross_trained"]) == ("ready", "fire", "police")
    assert routing.desk("desk-101")["agency"] == "police"
    assert redis_client.smembers("hotline:desks") == {"desk-101", "desk-201"}  # only those desks
    assert redis_client.zrange("hotline:desks:ready:fire", 0, -1) == ["desk-201"]


def test_unknown_desk_is_404_naming_it(client, routing):
    response = client.put("/desks/desk-999/state", json={"state": "ready"})
    assert response.status_code == 404
    assert response.json() == {"detail": "unknown desk 'desk-999'"}
    assert routing.desk("desk-999") == {}


@pytest.mark.parametrize("body", [{"state": "ringing"}, {"state": "on_call"}, {"state": "busy"}, {}, {"state": ""},
                                  {"state": "paused", "reason": "x" * 81}])
def test_invalid_state_is_422(client, routing, body):
    response = client.put("/desks/desk-101/state", json=body)
    assert response.status_code == 422
    assert routing.desk("desk-101")["state"] == "offline"


def test_refusal_is_409_with_the_scripts_message(client, routing):
    client.put("/desks/desk-101/state", json={"state": "ready", "reason": "shift start"})
    now = wall_clock_ms()
    routing.arrive("c-1", "0912345678", "PJSIP/citizens-00000001", now_ms=now)
    routing.enqueue("c-1", queue="police", priority=1, now_ms=now)
    claim = routing.claim_next([a.id for a in CITY.agencies], 5_000)
    assert (claim.call_id, claim.desk_id) == ("c-1", "desk-101")

    response = client.put("/desks/desk-101/state", json={"state": "paused", "reason": "lunch"})
    assert response.status_code == 409
    assert response.json() == {"detail": "desk desk-101 is ringing; cannot set paused"}
    assert routing.desk("desk-101")["state"] == "ringing"
    listed = {d["desk_id"]: d for d in client.get("/desks").json()}["desk-101"]
    assert (listed["state"], listed["call_id"]) == ("ringing", "c-1")


def test_get_call(client, routing):
    routing.arrive("c-7", "0900000007", "PJSIP/citizens-00000007")
    routing.enqueue("c-7", queue="fire", priority=1, choice="2", route_reason="chosen", language="en")
    response = client.get("/calls/c-7")
    assert response.status_code == 200
    record = response.json()
    assert {k: record[k] for k in ("call_id", "caller", "channel", "state", "queue", "choice", "language")} == {
        "call_id": "c-7", "caller": "0900000007", "channel": "PJSIP/citizens-00000007", "state": "queued",
        "queue": "fire", "choice": "2", "language": "en"}


def test_unknown_call_is_404(client):
    response = client.get("/calls/c-missing")
    assert response.status_code == 404
    assert response.json() == {"detail": "unknown call 'c-missing'"}


def test_queues_in_city_order_and_callers_in_service_order(client, routing):
    now = wall_clock_ms()
    for call_id, queue, priority, arrived in [("c-late", "police", 1, now - 1_000), ("c-early", "police", 1, now - 9_000),
                                              ("c-gen", "general", 0, now - 500), ("c-dis", "disaster", 2, now - 100)]:
        routing.arrive(call_id, "0900000000", f"PJSIP/{call_id}", now_ms=arrived)
        routing.enqueue(call_id, queue=queue, priority=priority, now_ms=now)
    response = client.get("/queues")
    assert response.status_code == 200
    assert response.json() == [
        {"queue": "general", "waiting": ["c-gen"]},
        {"queue": "police", "waiting": ["c-early", "c-late"]},
        {"queue": "fire", "waiting": []},
        {"queue": "medical", "waiting": []},
        {"queue": "disaster", "waiting": ["c-dis"]},
    ]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("get", "/desks", None), ("put", "/desks/desk-101/state", {"state": "ready", "reason": "shift start"}), ("get", "/calls/c-1", None),
     ("get", "/queues", None)],
)
def test_redis_down_is_503_with_a_clear_message(down_client, method, path, body):
    response = getattr(down_client, method)(path, **({"json": body} if body else {}))
    assert response.status_code == 503
    detail = response.json()["detail"]
    assert detail.startswith("Redis unreachable: ")
    assert "connecting to 127.0.0.1:" in detail  # the driver's own words, with the address


def test_redis_down_still_404s_an_unknown_desk_without_asking_redis(down_client):
    response = down_client.put("/desks/desk-999/state", json={"state": "ready"})
    assert response.status_code == 404


def test_health_needs_no_token_and_says_redis_answers(routing):
    with TestClient(create_app(runtime(), city=CITY, routing=routing, tokens=TOKENS)) as c:  # no Authorization
        response = c.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "redis": "reachable"}


def test_health_is_503_when_redis_does_not_answer(down_client):
    response = down_client.get("/health", headers={"Authorization": ""})
    assert response.status_code == 503
    assert response.json() == {"detail": "Redis unreachable"}  # no address for an unauthenticated caller


def test_one_desk_is_read_alone(client, routing):
    routing.set_desk_state("desk-201", "login")
    one = client.get("/desks/desk-201")
    assert one.status_code == 200
    assert one.json() == {d["desk_id"]: d for d in client.get("/desks").json()}["desk-201"]
    assert one.json()["state"] == "paused"
    missing = client.get("/desks/desk-999")
    assert missing.status_code == 404 and missing.json() == {"detail": "unknown desk 'desk-999'"}

"""POST / PUT / DELETE / GET /desks/{desk_id}/spy on the test Redis with the real Lua scripts: a
supervisor starts, switches and ends a session on desk-101's call (each step a command for the
bridges and an event); viewers read; call-takers neither act nor, unless the city file says so,
see the session's events (``[supervision] tell_call_taker_of_spy``). Roles per route: test_auth.py."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from fastapi.testclient import TestClient

from api.auth import Access
from api.services.events import EventScope
from api.tokens import Principal
from config.settings import load_settings
from queueing.routing import AsyncRouting, Routing
from tests.api_client import api_client
from tests.api_tokens import SUPERVISOR, TOKENS, bearer
from tests.replay import E2E_CITY

CITY = load_settings(E2E_CITY)
TELLING = CITY.model_copy(update={"supervision": CITY.supervision.model_copy(update={"tell_call_taker_of_spy": True})})


@pytest.fixture
def routing(redis_client):
    """c-1 on a call at desk-101; desk-401 (the supervisor's phone) registered, offline."""
    r = Routing(redis_client)
    for d in CITY.desks:
        r.register_desk(d.id, d.agency, cross_trained=d.cross_trained)
    r.arrive("c-1", "0911000001", "PJSIP/citizens-00000001")
    r.enqueue("c-1", "police", 1)
    r.set_desk_state("desk-101", "ready")
    r.claim_next(["police"], 20_000)
    r.offer_answered("c-1", "desk-101")
    return r


def client_of(routing, city=CITY) -> TestClient:
    return api_client(routing, city=city)


def test_a_supervisor_starts_switches_and_stops_a_session(routing):
    with client_of(routing) as api:
        assert api.get("/desks/desk-101/spy", headers=SUPERVISOR).json() is None
        started = api.post("/desks/desk-101/spy", json={"mode": "listen", "supervisor_desk": "desk-401"},
                           headers=SUPERVISOR)
        assert started.status_code == 201, started.text
        view = started.json()
        assert (view["desk_id"], view["call_id"], view["supervisor_desk"], view["mode"]) == \
            ("desk-101", "c-1", "desk-401", "listen")
        assert view["answered_ms"] is None and view["tell_call_taker"] is False
        assert api.get("/desks/desk-101/spy", headers=bearer("viewer")).json() == view
        switched = api.put("/desks/desk-101/spy", json={"mode": "barge"}, headers=SUPERVISOR)
        assert switched.status_code == 200 and switched.json()["mode"] == "barge"
        again = api.post("/desks/desk-101/spy", json={"mode": "listen", "supervisor_desk": "desk-301"},
                         headers=SUPERVISOR)
        assert again.status_code == 409 and "desk-401 is already listening to desk desk-101" in again.json()["detail"]
        stopped = api.delete("/desks/desk-101/spy", headers=SUPERVISOR)
        assert stopped.status_code == 200 and stopped.json()["spy_id"] == view["spy_id"]
        assert api.delete("/desks/desk-101/spy", headers=SUPERVISOR).status_code == 409
    commands = [f["action"] for _, f in routing.redis.xrange(routing.keys.call_commands())]
    assert commands == ["spy_start", "spy_mode", "spy_stop"]
    spy_events = [e for e in routing.events(100) if e["type"].startswith("spy_")]
    assert [(e["type"], e.get("by") or e.get("reason")) for e in spy_events] == [
        ("spy_started", "supervisor"), ("spy_mode", "supervisor"), ("spy_stopped", "stopped by supervisor")]
    assert routing.call("c-1")["state"] == "on_call"


@pytest.mark.parametrize(("body", "status", "detail"), [
    ({"mode": "listen", "supervisor_desk": "desk-999"}, 404, "unknown desk 'desk-999'"),
    ({"mode": "shout", "supervisor_desk": "desk-401"}, 422, ""),
    ({"mode": "listen"}, 422, ""),
    ({"mode": "listen", "supervisor_desk": "desk-101"}, 409, "cannot listen to itself"),
    ({"mode": "listen", "supervisor_desk": "desk-102"}, 409, ""),  # a desk on no call: offline is free
])
def test_a_start_that_cannot_be_made_says_why(routing, body, status, detail):
    if body.get("supervisor_desk") == "desk-102":
        routing.set_desk_state("desk-102", "ready")
        detail = "desk-102 is ready and would be offered callers while listening: pause it first"
    with client_of(routing) as api:
        reply = api.post("/desks/desk-101/spy", json=body, headers=SUPERVISOR)
    assert reply.status_code == status, reply.text
    if detail:
        assert detail in str(reply.json()["detail"])
    assert routing.spy("desk-101") == {}


def test_unknown_desk_is_404(routing):
    with client_of(routing) as api:
        assert api.get("/desks/desk-999/spy", headers=SUPERVISOR).status_code == 404
        assert api.put("/desks/desk-999/spy", json={"mode": "listen"}, headers=SUPERVISOR).status_code == 404


@pytest.mark.parametrize(("city", "told"), [(CITY, False), (TELLING, True)])
def test_the_call_taker_sees_the_session_only_when_the_city_file_says_so(routing, redis_url, city, told):
    with client_of(routing, city) as api:
        assert api.post("/desks/desk-101/spy", json={"mode": "whisper", "supervisor_desk": "desk-401"},
                        headers=SUPERVISOR).json()["tell_call_taker"] is told
    started = next(e for e in routing.events(50) if e["type"] == "spy_started")
    assert started["tell_call_taker"] == ("1" if told else "0")

    async def shown(principal: Principal) -> bool:
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        try:
            return await EventScope(Access(city, TOKENS), principal, AsyncRouting(client)).shows(started)
        finally:
            await client.aclose()

    assert asyncio.run(shown(Principal("lan", "call_taker", "police", "desk-101"))) is told
    assert asyncio.run(shown(Principal("hoa", "supervisor"))) is True

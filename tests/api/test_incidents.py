"""api/routers/incidents.py and api/routers/wrap_up.py through create_app over the test Redis."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from config.settings import RuntimeSettings, load_settings
from queueing.routing import Routing, wall_clock_ms
from tests.api_tokens import TOKENS
from tests.replay import E2E_CITY

CITY = load_settings(E2E_CITY)


@pytest.fixture
def routing(redis_client):
    return Routing(redis_client)


@pytest.fixture
def app(routing):
    return create_app(RuntimeSettings(city_file=E2E_CITY), city=CITY, routing=routing, tokens=TOKENS)


def answered(routing, call_id, queue, desk, agency):
    now = wall_clock_ms() - 60_000
    routing.register_desk(desk, agency, now_ms=now)
    routing.set_desk_state(desk, "ready", now_ms=now)
    routing.arrive(call_id, "0912345678", f"PJSIP/citizens-{call_id}", now_ms=now)
    routing.enqueue(call_id, queue, 1, choice="2", route_reason="chosen", now_ms=now + 1)
    routing.claim_next([agency], 20_000, now_ms=now + 2)
    routing.offer_answered(call_id, desk, now_ms=now + 3)


def test_police_cannot_read_or_change_a_fire_incident(app, routing):
    answered(routing, "c-fire", "fire", "desk-201", "fire")
    from tests import api_tokens
    with TestClient(app, headers=api_tokens.SUPERVISOR) as sup:
        assert sup.put("/calls/c-fire/incident", json={"expected_version": 0, "nature": "building_fire"}).status_code == 200
    with TestClient(app, headers=api_tokens.bearer("police")) as c:
        got = c.get("/calls/c-fire/incident")
        assert got.status_code == 403 and "building_fire" not in got.text
        assert c.put("/calls/c-fire/incident", json={"expected_version": 1, "nature": "robbery"}).status_code == 403
        assert c.post("/calls/c-fire/incident/notes", json={"text": "x"}).status_code == 403
    assert routing.redis.hget("hotline:incident:c-fire", "nature") == "building_fire"


def test_bad_input_and_double_submit_get_clear_messages(app, routing):
    answered(routing, "c-1", "police", "desk-101", "police")
    from tests import api_tokens
    with TestClient(app, headers=api_tokens.SUPERVISOR) as c:
        assert c.get("/calls/c-1/incident").json()["version"] == 0
        body = {"expected_version": 0, "nature": "robbery", "priority": 1, "agencies": ["police", "medical"]}
        assert c.put("/calls/c-1/incident", json=body).json()["version"] == 1
        twice = c.put("/calls/c-1/incident", json=body)
        assert twice.status_code == 409 and "changed meanwhile" in twice.json()["detail"]
        bad = c.put("/calls/c-1/incident", json={"expected_version": 1, "nature": "arson"})
        assert bad.status_code == 422 and "nature: 'arson'" in bad.json()["detail"]
        long = c.post("/calls/c-1/incident/notes", json={"text": "x" * 2001})
        assert long.status_code == 422 and "at most 2000" in long.json()["detail"]
        dup = c.put("/calls/c-1/incident", json={"expected_version": 1, "disposition": "duplicate", "duplicate_of": "c-9"})
        assert dup.status_code == 422 and "duplicate_of" in dup.json()["detail"]
        note = c.post("/calls/c-1/incident/notes", json={"text": "<script>alert(1)</script>"})
        assert note.status_code == 201
        incident = c.get("/calls/c-1/incident").json()
        assert incident["notes"][0]["text"] == "<script>alert(1)</script>" and incident["version"] == 1
        found = c.get("/calls/search", params={"number": "0912345678"}).json()
        assert [f["call_id"] for f in found] == ["c-1"]


def test_wrap_up_end_and_extend_once(app, routing):
    answered(routing, "c-1", "police", "desk-101", "police")
    routing.hangup("c-1", 60_000)
    from tests import api_tokens
    with TestClient(app, headers=api_tokens.SUPERVISOR) as c:
        first = c.get("/desks").json()[0]
        assert (first["desk_id"], first["state"], first["wrap_up_extended"]) == ("desk-101", "wrap_up", False)
        extended = c.put("/desks/desk-101/wrap-up", json={"action": "extend"}).json()
        assert extended["state"] == "wrap_up" and extended["wrap_up_extended"] is True
        assert extended["wrap_up_until_ms"] > first["wrap_up_until_ms"]
        again = c.put("/desks/desk-101/wrap-up", json={"action": "extend"})
        assert again.status_code == 409 and "already extended once" in again.json()["detail"]
        assert c.put("/desks/desk-101/wrap-up", json={"action": "end"}).json()["state"] == "ready"

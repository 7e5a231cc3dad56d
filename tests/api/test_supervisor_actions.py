"""A supervisor's actions over the API: move a waiting caller, change its priority, pick it for a
desk (supervisors only: tests/api/test_auth.py has every holder), and force a desk with a reason.
Each answer comes from its Lua script (tests/queueing/test_supervisor_actions_lua.py); here: the
routes, their errors, and the audit naming the supervisor."""

from __future__ import annotations

import pytest

from config.settings import load_settings
from queueing.routing import Routing, wall_clock_ms
from tests.api_client import api_client
from tests.api_tokens import SUPERVISOR, bearer
from tests.replay import E2E_CITY

CITY = load_settings(E2E_CITY)


@pytest.fixture
def routing(redis_client):
    """c-1 (police, 1) and c-2 (police, 1, later) wait; the city's desks registered, offline."""
    routing = Routing(redis_client)
    for d in CITY.desks:
        routing.register_desk(d.id, d.agency, cross_trained=d.cross_trained)
    now = wall_clock_ms()
    for i, call_id in enumerate(("c-1", "c-2")):
        routing.arrive(call_id, f"090000000{i}", f"PJSIP/citizens-{call_id}", now_ms=now - 20_000 + i * 1_000)
        routing.enqueue(call_id, "police", 1, now_ms=now - 19_000 + i * 1_000)
    return routing


@pytest.fixture
def client(routing):
    with api_client(routing, headers=SUPERVISOR) as c:
        yield c


def last_event(routing: Routing, kind: str) -> dict[str, str]:
    return next(e for e in reversed(routing.events(50)) if e["type"] == kind)


def test_move_keeps_the_arrival_and_names_the_supervisor(client, routing):
    reply = client.post("/calls/c-2/move", json={"queue": "fire", "note": "smoke, not a theft"})
    assert reply.status_code == 200, reply.text
    assert (reply.json()["queue"], reply.json()["previous_queue"], reply.json()["position"]) == ("fire", "police", "1")
    assert (routing.queue("police"), routing.queue("fire")) == (["c-1"], ["c-2"])
    event = last_event(routing, "call_moved")
    assert (event["moved_by"], event["note"]) == ("supervisor", "smoke, not a theft")


@pytest.mark.parametrize(("call_id", "body", "status", "detail"), [
    ("c-1", {"queue": "coastguard"}, 422, "queue 'coastguard' does not exist: move to one of general, police"),
    ("c-9", {"queue": "fire"}, 404, "unknown call 'c-9'"),
    ("c-1", {"queue": "police"}, 409, "call c-1 already waits in police"),
])
def test_a_move_that_cannot_be_is_refused_saying_why(client, routing, call_id, body, status, detail):
    reply = client.post(f"/calls/{call_id}/move", json=body)
    assert reply.status_code == status
    assert reply.json()["detail"].startswith(detail)
    assert routing.queue("police") == ["c-1", "c-2"]


def test_a_ringing_caller_is_not_moved(client, routing):
    routing.set_desk_state("desk-101", "ready")
    assert routing.claim_next(["police"], 10_000).call_id == "c-1"
    reply = client.post("/calls/c-1/move", json={"queue": "fire"})
    assert (reply.status_code, reply.json()["detail"]) == (
        409, "call c-1 is ringing at desk desk-101; move it if that desk does not answer")
    assert routing.call("c-1")["queue"] == "police"


def test_priority_by_the_api(client, routing):
    reply = client.put("/calls/c-2/priority", json={"priority": 0, "note": "a child on the line"})
    assert reply.status_code == 200, reply.text
    assert (reply.json()["priority"], reply.json()["previous_priority"], reply.json()["position"]) == ("0", "1", "1")
    assert routing.queue("police") == ["c-2", "c-1"]
    call = routing.call("c-2")
    assert (call["priority_set_by"], call["priority_note"], call["priority_reason"]) == (
        "supervisor", "a child on the line", "supervisor")
    assert client.put("/calls/c-2/priority", json={"priority": 100}).status_code == 422


def test_pick_then_the_claim_offers_that_desk(client, routing):
    routing.set_desk_state("desk-101", "ready")  # ready longest
    routing.set_desk_state("desk-102", "ready")
    reply = client.post("/calls/c-2/pick", json={"desk_id": "desk-102", "note": "speaks her dialect"})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"call_id": "c-2", "desk_id": "desk-102", "queue": "police", "picked_by": "supervisor"}
    claim = routing.claim_next(["police", "fire"], 10_000)
    assert (claim.call_id, claim.desk_id) == ("c-2", "desk-102")
    assert last_event(routing, "offered")["picked_by"] == "supervisor"


@pytest.mark.parametrize(("body", "status", "detail"), [
    ({"desk_id": "desk-999"}, 422, "desk 'desk-999' is not a desk of the city file"),
    ({"desk_id": "desk-101"}, 409, "desk desk-101 is offline; only a ready desk can be picked"),
    ({"desk_id": "desk-301"}, 409, "desk desk-301 is a medical desk, not cross-trained for police"),
])
def test_a_pick_that_cannot_be_is_refused_saying_why(client, routing, body, status, detail):
    routing.set_desk_state("desk-301", "ready")
    reply = client.post("/calls/c-1/pick", json=body)
    assert (reply.status_code, reply.json()["detail"]) == (status, detail)
    assert routing.redis.zcard(routing.keys.picks()) == 0


def test_a_viewer_and_a_call_taker_cannot_act(client, routing):
    for holder in ("viewer", "police@desk-101"):
        for method, path, body in (("post", "/calls/c-1/move", {"queue": "fire"}), ("put", "/calls/c-1/priority", {"priority": 0}),
                                   ("post", "/calls/c-1/pick", {"desk_id": "desk-101"})):
            assert client.request(method.upper(), path, json=body, headers=bearer(holder)).status_code == 403
    assert routing.queue("police") == ["c-1", "c-2"]


def test_a_supervisor_forcing_a_desk_gives_a_reason_and_is_named(client, routing):
    reply = client.put("/desks/desk-101/state", json={"state": "ready"})
    assert (reply.status_code, reply.json()["detail"]) == (
        422, "a supervisor forcing desk desk-101 to ready gives a reason (any text)")
    assert routing.desk("desk-101")["state"] == "offline"
    routing.set_desk_state("desk-102", "ready")
    reply = client.put("/desks/desk-102/state", json={"state": "paused", "reason": "left without logging out"})
    assert reply.status_code == 200, reply.text
    # any text: the console's pause reasons bind the call-takers, not a supervisor
    assert (routing.desk("desk-102")["reason"], routing.desk("desk-102")["state_set_by"]) == (
        "left without logging out", "supervisor")
    event = last_event(routing, "desk_state")
    assert (event["state"], event["reason"], event["set_by"]) == ("paused", "left without logging out", "supervisor")
    # the desk's own call-taker needs no reason to be ready, and nobody is named
    assert client.put("/desks/desk-101/state", json={"state": "ready"}, headers=bearer("police@desk-101")).status_code == 200
    assert last_event(routing, "desk_state")["set_by"] == ""


def test_a_supervisor_logging_a_desk_in_or_out_gives_a_reason(client, routing):
    reply = client.post("/desks/desk-101/login")
    assert (reply.status_code, reply.json()["detail"]) == (
        422, "a supervisor forcing desk desk-101 to login gives a reason (any text)")
    assert routing.desk("desk-101")["state"] == "offline"
    assert client.post("/desks/desk-101/login", json={"reason": "covering the night shift"}).status_code == 200
    event = last_event(routing, "desk_state")
    assert (event["state"], event["reason"], event["set_by"], event["set_reason"]) == (
        "paused", "logged in", "supervisor", "covering the night shift")
    assert client.post("/desks/desk-101/logout").status_code == 422
    assert client.post("/desks/desk-101/logout", json={"reason": "went home"}).status_code == 200
    assert (routing.desk("desk-101")["state"], last_event(routing, "desk_state")["set_reason"]) == ("offline", "went home")
    # the desk's own call-taker logs in and out with no reason
    assert client.post("/desks/desk-101/login", headers=bearer("police@desk-101")).status_code == 200

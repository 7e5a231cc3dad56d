"""api/routers/call_actions.py through create_app over the test Redis: a blind transfer, its
refusals (unknown agency 422, double submit 409, nothing lost), the target agency opening the
transferred call, and hanging up with its confirmation."""

from __future__ import annotations

import pytest

from config.settings import load_settings
from queueing.keys import Keys
from queueing.routing import Routing, wall_clock_ms
from tests.api_client import api_client
from tests.api_tokens import SUPERVISOR, bearer
from tests.replay import E2E_CITY

CITY = load_settings(E2E_CITY)
DESK = "desk-101"
POLICE_AT_DESK = bearer("police@desk-101")


@pytest.fixture
def routing(redis_client):
    return Routing(redis_client)


@pytest.fixture
def client(routing):
    with api_client(routing, headers=POLICE_AT_DESK) as c:
        yield c


@pytest.fixture
def on_call(routing):
    """Call c-1 (police) on a call at desk-101; a fire desk logged in."""
    now = wall_clock_ms()
    for desk in CITY.desks:
        routing.register_desk(desk.id, desk.agency, now_ms=now - 60_000)
    routing.arrive("c-1", "0912000001", "PJSIP/citizens-0001", now_ms=now - 30_000)
    routing.enqueue("c-1", "police", 1, now_ms=now - 28_000)
    routing.set_desk_state(DESK, "ready", now_ms=now - 28_000)
    claim = routing.claim_next(["police"], 20_000, now_ms=now - 27_000)
    assert claim is not None and claim.desk_id == DESK
    routing.offer_answered("c-1", DESK, now_ms=now - 25_000)
    routing.set_desk_state("desk-201", "login", now_ms=now - 20_000)
    return "c-1"


def commands(routing):
    return [fields for _, fields in routing.redis.xrange(Keys().call_commands())]


def test_a_blind_transfer_is_handed_to_the_bridge(client, routing, on_call):
    reply = client.post(f"/calls/{on_call}/transfer", json={"agency": "fire", "mode": "blind"})
    assert reply.status_code == 200, reply.text
    assert (reply.json()["transfer_state"], reply.json()["target_agency"]) == ("moving", "fire")
    assert [c["action"] for c in commands(routing)] == ["move_to_wait"]
    assert commands(routing)[0]["label"] == CITY.agency("fire").label
    state = client.get(f"/calls/{on_call}/transfer").json()
    assert (state["transfer_state"], state["from_desk"]) == ("moving", DESK)


def test_a_double_submit_is_409_and_nothing_is_lost(client, routing, on_call):
    assert client.post(f"/calls/{on_call}/transfer", json={"agency": "fire"}).status_code == 200
    before = (routing.call(on_call), routing.transfer(on_call), commands(routing))
    again = client.post(f"/calls/{on_call}/transfer", json={"agency": "fire"})
    assert again.status_code == 409
    assert "a transfer is already under way" in again.json()["detail"]
    assert (routing.call(on_call), routing.transfer(on_call), commands(routing)) == before


def test_an_agency_that_does_not_exist_is_422_naming_it(client, routing, on_call):
    reply = client.post(f"/calls/{on_call}/transfer", json={"agency": "coastguard"})
    assert reply.status_code == 422
    assert "agency 'coastguard' does not exist" in reply.json()["detail"]
    assert "fire" in reply.json()["detail"]
    assert routing.transfer(on_call) == {} and commands(routing) == []
    assert routing.call(on_call)["state"] == "on_call"


def test_no_desk_of_the_agency_logged_in_is_refused_up_front(client, routing, on_call):
    reply = client.post(f"/calls/{on_call}/transfer", json={"agency": "medical"})
    assert reply.status_code == 409
    assert "no medical desk is logged in" in reply.json()["detail"]
    assert commands(routing) == []


def test_consult_steps_before_any_transfer_are_409(client, routing, on_call):
    for step in ("complete", "conference", "cancel"):
        reply = client.post(f"/calls/{on_call}/transfer/{step}")
        assert reply.status_code == 409 and "while the transfer is ready" in reply.json()["detail"], step
    assert commands(routing) == []


def test_a_consult_with_no_ready_desk_is_409(client, routing, on_call):
    reply = client.post(f"/calls/{on_call}/transfer", json={"agency": "fire", "mode": "consult"})
    assert reply.status_code == 409 and "no fire desk is ready to take a consultation" in reply.json()["detail"]
    assert commands(routing) == [] and routing.transfer(on_call) == {}


def test_a_consult_rings_a_ready_desk_then_complete_and_cancel_go_to_the_bridge(client, routing, on_call):
    routing.set_desk_state("desk-201", "ready")
    reply = client.post(f"/calls/{on_call}/transfer", json={"agency": "fire", "mode": "consult"})
    assert reply.status_code == 200, reply.text
    assert (reply.json()["transfer_state"], reply.json()["target_desk"]) == ("ringback", "desk-201")
    assert commands(routing)[-1]["action"] == "consult" and routing.desk("desk-201")["state"] == "ringing"
    # Ringing: complete and conference are refused; answered, each goes to the bridge.
    early = client.post(f"/calls/{on_call}/transfer/complete")
    assert early.status_code == 409 and "cannot complete while the transfer is ringback" in early.json()["detail"]
    early = client.post(f"/calls/{on_call}/transfer/conference")
    assert early.status_code == 409 and "cannot conference while the transfer is ringback" in early.json()["detail"]
    routing.transfer_step(on_call, "ringback", "answered")
    conference = client.post(f"/calls/{on_call}/transfer/conference")
    assert conference.status_code == 200, conference.text
    assert commands(routing)[-1]["action"] == "consult_conference"
    done = client.post(f"/calls/{on_call}/transfer/complete")
    assert done.status_code == 200, done.text
    assert done.json()["transfer_state"] == "answered" and done.json()["command"]
    assert commands(routing)[-1]["action"] == "consult_complete"
    assert client.post(f"/calls/{on_call}/transfer/cancel").status_code == 200
    assert commands(routing)[-1]["action"] == "consult_cancel"


def test_only_the_desk_on_the_call_acts(client, routing, on_call):
    fire = bearer("fire")  # a call-taker bound to no desk
    assert client.post(f"/calls/{on_call}/transfer", json={"agency": "fire"}, headers=fire).status_code == 403
    viewer = bearer("viewer")
    assert client.post(f"/calls/{on_call}/hangup", json={"confirm": True}, headers=viewer).status_code == 403
    assert commands(routing) == []


def test_the_target_agency_opens_a_transferred_call(client, routing, on_call):
    fire = bearer("fire")
    assert client.get(f"/calls/{on_call}", headers=fire).status_code == 403
    client.post(f"/calls/{on_call}/transfer", json={"agency": "fire"})
    routing.transfer_step(on_call, "moving", "requeued", requeue_queue="fire", wrap_up_ms=10_000)
    reply = client.get(f"/calls/{on_call}", headers=fire)
    assert reply.status_code == 200
    assert (reply.json()["queue"], reply.json()["transferred_from"], reply.json()["visible_to"]) == ("fire", DESK, "fire")
    # The police desk that transferred it still sees it (its agency handled it).
    assert client.get(f"/calls/{on_call}").status_code == 200
    assert client.get("/desks", headers=SUPERVISOR).json()[0]["state"] == "wrap_up"


def test_hang_up_needs_the_confirmation(client, routing, on_call):
    for body in ({}, {"confirm": False}):
        reply = client.post(f"/calls/{on_call}/hangup", json=body)
        assert reply.status_code == 422
        assert 'hanging up on a caller needs {"confirm": true}' in reply.json()["detail"][0]["msg"]
    assert commands(routing) == []
    reply = client.post(f"/calls/{on_call}/hangup", json={"confirm": True})
    assert reply.status_code == 202
    assert [(c["action"], c["call_id"], c["channel"]) for c in commands(routing)] == [
        ("hangup", on_call, "PJSIP/citizens-0001")]


def test_hold_and_resume_are_handed_to_the_bridge_and_recorded(client, routing, on_call):
    reply = client.post(f"/calls/{on_call}/hold")
    assert reply.status_code == 202, reply.text
    assert (reply.json()["result"], reply.json()["held"]) == ("held", "1")
    assert routing.call(on_call)["held"] == "1"
    assert client.post(f"/calls/{on_call}/hold").status_code == 409  # already on hold
    reply = client.post(f"/calls/{on_call}/resume")
    assert reply.status_code == 202, reply.text
    assert routing.call(on_call)["held"] == "0"
    assert client.post(f"/calls/{on_call}/resume").status_code == 409  # not on hold
    assert [(c["action"], c["call_id"], c["desk_id"]) for c in commands(routing)] == [
        ("hold", on_call, DESK), ("resume", on_call, DESK)]
    audit = [e["type"] for e in routing.events(50) if e["type"] in ("call_held", "call_resumed")]
    assert audit == ["call_held", "call_resumed"]


def test_hold_is_for_the_desk_on_the_call_only(client, routing, on_call):
    assert client.post(f"/calls/{on_call}/hold", headers=bearer("viewer")).status_code == 403
    assert client.post(f"/calls/{on_call}/hold", headers=bearer("fire")).status_code == 403
    assert commands(routing) == [] and routing.call(on_call).get("held", "") == ""


def test_no_hold_while_a_transfer_is_under_way(client, routing, on_call):
    client.post(f"/calls/{on_call}/transfer", json={"agency": "fire"})
    reply = client.post(f"/calls/{on_call}/hold")
    assert reply.status_code == 409 and "under way" in reply.text

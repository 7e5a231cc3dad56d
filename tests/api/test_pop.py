"""api/routers/pop.py and api/routers/callback_dial.py through create_app over the test Redis: the
screen pop (IVR path, priority reason, the number's history with dispositions, nuisance, open
callback, location), the pop on the audit trail, location fixes, and starting a call-back."""

from __future__ import annotations

import json

import pytest
import redis
from rq import Queue

from config.settings import load_settings
from queueing.callbacks import Callbacks
from queueing.jobs import DIAL_CALLBACK, QUEUE_NAME
from queueing.routing import Routing, wall_clock_ms
from tests.api_client import api_client
from tests.api_tokens import SUPERVISOR, bearer
from tests.replay import E2E_CITY

CITY = load_settings(E2E_CITY)
NUMBER = "0912345678"
PATH = [{"key": "", "result": "no_input", "at_ms": 5200, "language": "en"},
        {"key": "1", "result": "chosen", "at_ms": 6100, "language": "vi"}]


@pytest.fixture
def routing(redis_client):
    return Routing(redis_client)


def app_client(routing, city=CITY, headers=SUPERVISOR):
    return api_client(routing, city=city, headers=headers)


@pytest.fixture
def client(routing):
    with app_client(routing) as c:
        yield c


def ringing_call(routing, call_id="c-now", queue="police", caller=NUMBER, desk="desk-101", ago_ms=20_000):
    at = wall_clock_ms() - ago_ms
    routing.register_desk(desk, queue, now_ms=at)
    routing.set_desk_state(desk, "ready", now_ms=at)
    routing.arrive(call_id, caller, f"PJSIP/citizens-{call_id}", now_ms=at)
    routing.enqueue(call_id, queue, 1, choice="1", route_reason="chosen", language="vi",
                    ivr_path=json.dumps(PATH), now_ms=at + 6_500)
    claim = routing.claim_next([queue], 15_000, now_ms=at + 8_000)
    assert claim is not None and claim.call_id == call_id
    return at


def ended_call(routing, call_id, *, ago_ms, answered=True, caller=NUMBER, disposition=""):
    at = wall_clock_ms() - ago_ms
    routing.arrive(call_id, caller, f"PJSIP/citizens-{call_id}", now_ms=at)
    if answered:
        routing.register_desk("desk-102", "police", now_ms=at)
        routing.set_desk_state("desk-102", "ready", now_ms=at)
        routing.enqueue(call_id, "police", 1, choice="1", route_reason="chosen", now_ms=at + 1_000)
        routing.claim_next(["police"], 15_000, now_ms=at + 1_500)
        routing.offer_answered(call_id, "desk-102", now_ms=at + 3_000)
        routing.hangup(call_id, 0, now_ms=at + 4_000)  # a 4 s call: short, a nuisance call
        routing.release_wrapups(now_ms=at + 5_000)
        routing.set_desk_state("desk-102", "offline", now_ms=at + 6_000)
    else:
        routing.hangup(call_id, 0, now_ms=at + 20_000)  # silent in the menu: a nuisance call
    if disposition:  # as the incident engineer's script stores it
        routing.redis.hset(routing.keys.call(call_id), "disposition", disposition)


def test_the_pop_shows_path_priority_history_nuisance_callback_and_location(client, routing):
    ended_call(routing, "c-old", ago_ms=3 * 3_600_000, disposition="prank")
    ended_call(routing, "c-silent", ago_ms=3_600_000, answered=False)
    Callbacks(routing.redis).create("c-silent")
    at = ringing_call(routing)
    client.post("/locations", json={"number": NUMBER, "lat": 21.0285, "lon": 105.8542, "radius_m": 18,
                                    "source": "aml", "method": "GNSS", "at_ms": at + 9_000})

    reply = client.get("/calls/c-now/pop")
    assert reply.status_code == 200
    pop = reply.json()
    assert (pop["caller"], pop["queue"], pop["desk"], pop["state"]) == (NUMBER, "police", "desk-101", "ringing")
    assert pop["ivr"]["path"] == PATH
    assert pop["ivr"]["ms"] == 6_500 and pop["times"]["arrived_ms"] == at
    assert pop["priority"] == {"value": 1, "reason": "chosen", "set_by": "", "note": "", "policy_applied": ""}
    # Each earlier call with its disposition and why it counts towards the nuisance score (the score's own rule).
    assert [(c["call_id"], c["disposition"], c["outcome"]) for c in pop["history"]] == [
        ("c-silent", "", "abandoned"), ("c-old", "prank", "answered")]
    assert pop["history"][0]["nuisance"] == "silent" and pop["history"][1]["nuisance"] != ""
    assert pop["repeat"]["calls_24h"] == 2
    nuisance = pop["number"]["nuisance"]
    assert nuisance["score"] > 1 and "halving every 6 h" in nuisance["formula"]
    assert pop["open_callback"]["call_id"] == "c-silent" and pop["open_callback"]["status"] == "pending"
    (fix,) = pop["locations"]
    assert (fix["lat"], fix["lon"], fix["radius_m"], fix["source"], fix["method"]) == (21.0285, 105.8542, 18.0, "aml",
                                                                                        "GNSS")
    assert fix["age_ms"] >= 0 and fix["at_ms"] == at + 9_000


def test_a_supervisors_priority_shows_who_and_why(client, routing):
    at = wall_clock_ms()
    routing.arrive("c-1", NUMBER, "PJSIP/citizens-1", now_ms=at)
    routing.enqueue("c-1", "police", 1, choice="1", route_reason="chosen", now_ms=at + 1_000)
    routing.reprioritize("c-1", 0, set_by="sup-anh", note="a child is calling", now_ms=at + 2_000)
    assert client.get("/calls/c-1/pop").json()["priority"] == {
        "value": 0, "reason": "supervisor", "set_by": "sup-anh", "note": "a child is calling", "policy_applied": ""}


def test_a_police_call_taker_gets_403_and_nothing_of_a_fire_call(routing):
    ringing_call(routing, call_id="c-fire", queue="fire", desk="desk-201")
    with app_client(routing, headers=bearer("police")) as police:
        reply = police.get("/calls/c-fire/pop")
    assert reply.status_code == 403
    assert NUMBER not in reply.text and "ivr" not in reply.text
    with app_client(routing, headers=bearer("fire")) as fire:
        assert fire.get("/calls/c-fire/pop").json()["caller"] == NUMBER


def test_an_unknown_call_is_404(client):
    reply = client.get("/calls/c-none/pop")
    assert reply.status_code == 404 and "unknown call 'c-none'" in reply.json()["detail"]


def test_the_pop_seen_goes_on_the_audit_trail_once_per_call(routing):
    ringing_call(routing)
    with app_client(routing, headers=bearer("police@desk-101")) as desk:
        first = desk.post("/calls/c-now/pop-seen", json={"browser_ms": wall_clock_ms()})
        again = desk.post("/calls/c-now/pop-seen", json={"browser_ms": wall_clock_ms()})
        other = desk.post("/calls/c-now/pop-seen", json={"desk_id": "desk-102"})
    assert first.status_code == 200 and first.json()["first"] == "1" and int(first.json()["delay_ms"]) >= 0
    assert again.json()["first"] == "0"
    assert other.status_code == 403 and "bound to desk desk-101" in other.json()["detail"]
    events = [e for e in routing.events() if e["type"] == "pop_seen"]
    assert [(e["desk_id"], e["user"]) for e in events] == [("desk-101", "police@desk-101")] * 2
    assert routing.call("c-now")["pop_seen_desk"] == "desk-101"


@pytest.mark.parametrize(("body", "where"), [
    ({"number": NUMBER, "lat": 91, "lon": 0, "radius_m": 5, "source": "aml"}, "lat"),
    ({"number": NUMBER, "lat": 0, "lon": 0, "radius_m": -5, "source": "aml"}, "radius_m"),
    ({"number": NUMBER, "lat": 0, "lon": 0, "radius_m": 5, "source": "gps"}, "source"),
])
def test_a_bad_fix_is_refused_naming_the_field(client, body, where):
    reply = client.post("/locations", json=body)
    assert reply.status_code == 422
    assert where in json.dumps(reply.json()["detail"])


def test_a_fix_of_a_withheld_number_is_refused_plainly(client, routing):
    reply = client.post("/locations", json={"number": "anonymous", "lat": 0, "lon": 0, "radius_m": 5, "source": "aml"})
    assert reply.status_code == 400 and 'number "anonymous" is not a caller number' in reply.json()["detail"]
    assert routing.events() == []


def test_only_supervisors_add_fixes(routing):
    with app_client(routing, headers=bearer("police")) as police:
        reply = police.post("/locations", json={"number": NUMBER, "lat": 0, "lon": 0, "radius_m": 5, "source": "aml"})
    assert reply.status_code == 403


def abandoned(routing, call_id="c-gone", queue="police"):
    at = wall_clock_ms() - 60_000
    routing.arrive(call_id, NUMBER, f"PJSIP/citizens-{call_id}", now_ms=at)
    routing.enqueue(call_id, queue, 1, choice="1", route_reason="chosen", now_ms=at + 1_000)
    routing.hangup(call_id, 0, now_ms=at + 30_000)
    return Callbacks(routing.redis).create(call_id)


def test_starting_a_call_back_enqueues_the_dialer_job(routing, redis_url):
    abandoned(routing)
    city = CITY.model_copy(update={"callbacks": CITY.callbacks.model_copy(update={"auto_dial": True})})
    jobs = Queue(QUEUE_NAME, connection=redis.Redis.from_url(redis_url))
    jobs.empty()
    with app_client(routing, city=city, headers=bearer("police")) as police:
        reply = police.post("/callbacks/c-gone/dial")
    assert reply.status_code == 202
    assert reply.json()["number"] == NUMBER
    (job,) = jobs.get_jobs()
    assert (job.func_name, job.args) == (DIAL_CALLBACK, ("c-gone", "hotline:"))
    jobs.empty()


def test_a_call_back_is_refused_plainly_when_the_dialer_is_off_or_not_ours(routing):
    abandoned(routing)
    abandoned(routing, call_id="c-fire", queue="fire")
    with app_client(routing, headers=bearer("police")) as police:
        off = police.post("/callbacks/c-gone/dial")
        fire = police.post("/callbacks/c-fire/dial")
        unknown = police.post("/callbacks/c-none/dial")
    assert off.status_code == 409 and "auto_dial = false" in off.json()["detail"]
    assert fire.status_code == 403
    assert unknown.status_code == 404

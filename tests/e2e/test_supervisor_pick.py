"""A supervisor picks a waiting caller for a named desk, on the real lab: the caller rings that
desk, through the bridge's normal delivery (claim_next offers the pick, one Redirect), and not
the desk that has been ready longest."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from config.settings import RuntimeSettings
from tests.api_tokens import SUPERVISOR, TOKENS, bearer
from tests.lab_fixtures import CITY, wait_call

pytestmark = pytest.mark.e2e

CALLER = "0979000001"


def test_a_picked_caller_rings_the_named_desk_not_the_one_ready_longest(hotline, phones):
    routing = hotline.routing()
    # Both police desks are trained for fire too (in Redis only: the fixture registers them afresh for the next
    # test), and fire's own desk is logged in but paused: a fire caller waits for fire's overflow
    # (overflow_after_s, 10 s by default) before a normal offer may ring them, so the pick below, made as soon
    # as the caller is seen queued (about 1 s after arriving), comes first by a wide margin.
    for desk_id in ("desk-101", "desk-102"):
        routing.register_desk(desk_id, "police", cross_trained=["fire"])
    routing.set_desk_state("desk-201", "login")
    longest = phones.desk("desk-101", talk_ms=1000)  # ready first: the one an overflow would ring
    picked = phones.desk("desk-102", talk_ms=1000)
    runtime = RuntimeSettings(city_file=CITY, redis_url=hotline.started_redis_url(), asterisk_root=hotline.asterisk.root)
    with TestClient(create_app(runtime, city=hotline.city, routing=routing, tokens=TOKENS)) as api:
        phones.citizen(CALLER, "2", stay_ms=40_000)  # presses 2: fire
        rec = wait_call(hotline, CALLER, ("queued",), timeout=20)
        assert rec["queue"] == "fire"
        body = {"desk_id": "desk-102", "note": "speaks the caller's dialect"}
        assert api.post(f"/calls/{rec['call_id']}/pick", json=body, headers=bearer("viewer")).status_code == 403
        reply = api.post(f"/calls/{rec['call_id']}/pick", json=body, headers=SUPERVISOR)
        assert reply.status_code == 200, reply.text

    rec = wait_call(hotline, CALLER, ("ended",), timeout=30)
    assert (rec["queue"], rec["desk"], rec["outcome"], rec["ring_attempts"]) == ("fire", "desk-102", "answered", "1")
    assert picked.wait_for(rf'RINGING from=\s*"FIRE RESCUE" <sip:{CALLER}@', 1)
    assert not [line for line in longest.log_lines() if CALLER in line], "the desk ready longest rang"
    offers = [e for e in routing.events(500) if e["type"] == "offered" and e["call_id"] == rec["call_id"]]
    assert [(e["desk_id"], e["picked_by"]) for e in offers] == [("desk-102", "supervisor")]
    picks = [e for e in routing.events(500) if e["type"] == "call_picked" and e["call_id"] == rec["call_id"]]
    assert [(e["desk_id"], e["picked_by"], e["note"]) for e in picks] == [("desk-102", "supervisor",
                                                                            "speaks the caller's dialect")]
    assert routing.redis.zcard(routing.keys.picks()) == 0

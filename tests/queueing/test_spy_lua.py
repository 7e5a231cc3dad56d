"""queueing/lua/spy_*.lua on the test Redis: one spy session per desk call, started only on a
desk that is on a call from a supervisor desk that is free; every step an event; the bridge's
report of a leg applies only to the session it was started for; the desk's call never changes."""

from __future__ import annotations

import pytest

from queueing import Routing
from queueing.errors import RoutingRefused
from queueing.states import SpyMode

T0 = 1_700_000_000_000


@pytest.fixture
def routing(redis_client):
    r = Routing(redis_client)
    for desk in ("p-1", "p-2", "sup-1", "sup-2"):
        r.register_desk(desk, "police", now_ms=T0)
    r.arrive("c-1", "0911", "PJSIP/citizens-0001", now_ms=T0 + 1000)
    r.enqueue("c-1", "police", 1, now_ms=T0 + 1500)
    r.set_desk_state("p-1", "ready", now_ms=T0 + 3000)
    claim = r.claim_next(["police"], 20_000, now_ms=T0 + 4000)
    assert claim is not None and (claim.call_id, claim.desk_id) == ("c-1", "p-1")
    r.offer_answered("c-1", "p-1", now_ms=T0 + 5000)
    return r  # sup-1, sup-2: offline (a supervisor's phone is registered, the desk not logged in)


def commands(routing: Routing) -> list[dict[str, str]]:
    return [fields for _, fields in routing.redis.xrange(routing.keys.call_commands())]


def test_start_switch_stop_each_leaves_a_command_and_an_event(routing):
    before = routing.call("c-1")
    started = routing.spy_start("p-1", "sup-1", "listen", by="hoa", tell_call_taker=True, now_ms=T0 + 6000)
    assert (started["call_id"], started["supervisor_desk"], started["mode"], started["tell_call_taker"]) == \
        ("c-1", "sup-1", "listen", "1")
    assert started["spy_id"] == f"spy-p-1-{T0 + 6000}"
    assert routing.spy("p-1")["spy_id"] == started["spy_id"]
    assert routing.spies() == ["p-1"]
    assert routing.spy_mode("p-1", "whisper", by="hoa", now_ms=T0 + 7000)["command"]
    assert routing.spy_mode("p-1", "whisper", by="hoa", now_ms=T0 + 7500)["command"] == ""  # unchanged
    assert routing.spy_mode("p-1", "barge", by="hoa", now_ms=T0 + 8000)["mode"] == "barge"
    stopped = routing.spy_stop("p-1", by="hoa", now_ms=T0 + 9000)
    assert stopped["spy_id"] == started["spy_id"] and routing.spy("p-1") == {}
    assert routing.redis.get(routing.keys.spy_by("sup-1")) is None
    assert routing.spies() == []

    sent = commands(routing)
    assert [(c["action"], c["mode"], c["spy_id"], c["channel"]) for c in sent] == [
        ("spy_start", "listen", started["spy_id"], "PJSIP/citizens-0001"),
        ("spy_mode", "whisper", started["spy_id"], "PJSIP/citizens-0001"),
        ("spy_mode", "barge", started["spy_id"], "PJSIP/citizens-0001"),
        ("spy_stop", "barge", started["spy_id"], "PJSIP/citizens-0001")]
    assert all(c["supervisor_desk"] == "sup-1" and c["desk_id"] == "p-1" for c in sent)
    events = [e for e in routing.events(50) if e["type"].startswith("spy_")]
    assert [(e["type"], e["mode"]) for e in events] == [
        ("spy_started", "listen"), ("spy_mode", "whisper"), ("spy_mode", "barge"), ("spy_stopped", "barge")]
    assert events[1]["previous_mode"] == "listen" and events[0]["by"] == "hoa"
    assert all(e["tell_call_taker"] == "1" and e["supervisor_desk"] == "sup-1" for e in events)
    assert events[-1]["reason"] == "stopped by hoa"
    assert routing.call("c-1") == before  # the desk's call is never touched


@pytest.mark.parametrize(("desk", "supervisor", "mode", "setup", "why"), [
    ("p-1", "sup-1", "shout", None, "unknown spy mode"),
    ("p-1", "p-1", "listen", None, "cannot listen to itself"),
    ("p-9", "sup-1", "listen", None, "unknown desk p-9"),
    ("p-2", "sup-1", "listen", None, "p-2 is offline, not on a call"),
    ("p-1", "sup-9", "listen", None, "unknown desk sup-9"),
    ("p-1", "sup-1", "listen", "ready", "pause it first"),
    ("p-1", "sup-1", "listen", "hold", "on hold"),
    ("p-1", "sup-1", "listen", "spying", "already listening to desk p-1"),
    ("p-1", "sup-2", "listen", "spying", "sup-1 is already listening to desk p-1"),
])
def test_refusals_change_nothing(routing, desk, supervisor, mode, setup, why):
    if setup == "ready":
        routing.set_desk_state("sup-1", "ready", now_ms=T0 + 5500)
    elif setup == "hold":
        routing.call_hold("c-1", "p-1", "hold", now_ms=T0 + 5500)
    elif setup == "spying":
        routing.spy_start("p-1", "sup-1", "listen", now_ms=T0 + 5500)
    before = routing.spy("p-1"), len(commands(routing)), routing.call("c-1")
    with pytest.raises(RoutingRefused, match=why):
        routing.spy_start(desk, supervisor, mode, now_ms=T0 + 6000)
    assert (routing.spy("p-1"), len(commands(routing)), routing.call("c-1")) == before


def test_switching_or_stopping_without_a_session_is_refused(routing):
    with pytest.raises(RoutingRefused, match="no supervisor is listening to desk p-1"):
        routing.spy_mode("p-1", "barge", now_ms=T0 + 6000)
    with pytest.raises(RoutingRefused, match="no supervisor is listening to desk p-1"):
        routing.spy_stop("p-1", now_ms=T0 + 6000)
    routing.spy_start("p-1", "sup-1", "listen", now_ms=T0 + 6000)
    with pytest.raises(RoutingRefused, match="unknown spy mode"):
        routing.spy_mode("p-1", "loud", now_ms=T0 + 6500)


def test_the_bridge_steps_only_its_own_session(routing):
    spy_id = routing.spy_start("p-1", "sup-1", "whisper", now_ms=T0 + 6000)["spy_id"]
    assert routing.spy_step("p-1", "spy-p-1-1", "answered", now_ms=T0 + 6500)["result"] == "noop"
    assert routing.spy_step("p-1", spy_id, "answered", now_ms=T0 + 7000)["result"] == "answered"
    assert routing.spy("p-1")["answered_ms"] == str(T0 + 7000)
    assert routing.spy_step("p-1", spy_id, "answered", now_ms=T0 + 7100)["result"] == "noop"
    reply = routing.spy_step("p-1", spy_id, "ended", reason="the supervisor hung up", now_ms=T0 + 9000)
    assert reply["result"] == "ended" and routing.spy("p-1") == {} and routing.spies() == []
    assert routing.spy_step("p-1", spy_id, "ended", now_ms=T0 + 9100)["result"] == "noop"
    last = routing.events(5)[-1]
    assert (last["type"], last["reason"]) == ("spy_stopped", "the supervisor hung up")
    # the supervisor's desk may listen again
    assert routing.spy_start("p-1", "sup-1", SpyMode.BARGE, now_ms=T0 + 10_000)["mode"] == "barge"


def test_a_session_left_from_an_earlier_call_is_replaced(routing):
    old = routing.spy_start("p-1", "sup-1", "listen", now_ms=T0 + 6000)["spy_id"]
    routing.hangup("c-1", 10_000, now_ms=T0 + 7000)  # the bridge never reported the leg's end
    routing.set_desk_state("p-1", "ready", now_ms=T0 + 20_000)
    routing.arrive("c-2", "0922", "PJSIP/citizens-0002", now_ms=T0 + 21_000)
    routing.enqueue("c-2", "police", 1, now_ms=T0 + 21_500)
    routing.claim_next(["police"], 20_000, now_ms=T0 + 22_000)
    routing.offer_answered("c-2", "p-1", now_ms=T0 + 23_000)
    new = routing.spy_start("p-1", "sup-2", "listen", now_ms=T0 + 24_000)
    assert new["call_id"] == "c-2" and new["spy_id"] != old
    assert routing.redis.get(routing.keys.spy_by("sup-1")) is None
    stopped = [e for e in routing.events(50) if e["type"] == "spy_stopped"]
    assert stopped and stopped[-1]["spy_id"] == old and "replaced" in stopped[-1]["reason"]

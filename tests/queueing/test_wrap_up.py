"""Ending and extending a wrap-up: the rule (queueing/wrap_up.py) row by row, and desk_wrap_up.lua
held to it in every desk state, against the real redis-server."""

from __future__ import annotations

import pytest

from queueing import Keys, Routing, RoutingRefused
from queueing.audit import audit
from queueing.desk_states import DeskRefused
from queueing.states import DeskState, WrapUpAction
from queueing.wrap_up import WrapUps, next_wrap_up
from tests.queueing.test_desk_states import T0, _desk_in

R = DeskRefused
END, EXTEND = WrapUpAction.END, WrapUpAction.EXTEND

TABLE = [
    # state, action, already extended, expected (a state, or DeskRefused)
    ("wrap_up", END, False, DeskState.READY),
    ("wrap_up", END, True, DeskState.READY),
    ("wrap_up", EXTEND, False, DeskState.WRAP_UP),
    ("wrap_up", EXTEND, True, R),
    *[(state, action, False, R) for state in DeskState if state != DeskState.WRAP_UP for action in WrapUpAction],
]


@pytest.mark.parametrize(("state", "action", "extended", "expected"), TABLE)
def test_table(state, action, extended, expected):
    if expected is R:
        with pytest.raises(DeskRefused):
            next_wrap_up(state, action, extended=extended)
    else:
        assert next_wrap_up(state, action, extended=extended) == expected


def test_an_unknown_action_is_named():
    with pytest.raises(DeskRefused, match="unknown wrap-up action 'pause'; allowed: end, extend"):
        next_wrap_up(DeskState.WRAP_UP, "pause", extended=False)


@pytest.mark.parametrize("action", list(WrapUpAction))
@pytest.mark.parametrize("state", list(DeskState))
def test_lua_agrees_with_the_table(redis_client, state, action):
    routing = Routing(redis_client)
    _desk_in(routing, state)
    try:
        expected = next_wrap_up(state, action, extended=False)
    except DeskRefused:
        before = routing.desk("d-1")
        with pytest.raises(RoutingRefused, match=f"desk d-1 is {state}, not in wrap-up"):
            WrapUps(redis_client).change("d-1", action, 30_000, now_ms=T0 + 100)
        assert routing.desk("d-1") == before
        return
    reply = WrapUps(redis_client).change("d-1", action, 30_000, now_ms=T0 + 100)
    assert reply["state"] == routing.desk("d-1")["state"] == expected
    assert audit(redis_client) == []


def test_end_makes_the_desk_ready_at_the_back_of_the_idle_order(redis_client):
    routing = Routing(redis_client)
    _desk_in(routing, DeskState.WRAP_UP)
    WrapUps(redis_client).change("d-1", "end", 30_000, now_ms=T0 + 100)

    desk = routing.desk("d-1")
    assert (desk["state"], desk["since_ms"], desk["wrap_up_until_ms"]) == ("ready", str(T0 + 100), "")
    assert redis_client.zscore(Keys().desks_ready("police"), "d-1") == T0 + 100
    assert redis_client.zscore(Keys().wrapups(), "d-1") is None
    event = [e for e in routing.events() if e["type"] == "desk_state"][-1]
    assert (event["desk_id"], event["state"], event["previous"], event["reason"]) == (
        "d-1", "ready", "wrap_up", "wrap-up ended by the call-taker")


def test_extend_once_moves_the_end_and_a_second_extension_is_refused(redis_client):
    routing = Routing(redis_client)
    _desk_in(routing, DeskState.WRAP_UP)  # wrap-up of 60 s from T0 + 5
    wrapups = WrapUps(redis_client)
    reply = wrapups.change("d-1", "extend", 30_000, now_ms=T0 + 100)

    assert reply["wrap_up_until_ms"] == str(T0 + 5 + 60_000 + 30_000)
    assert redis_client.zscore(Keys().wrapups(), "d-1") == T0 + 5 + 60_000 + 30_000
    with pytest.raises(RoutingRefused, match="already extended once; end it or let it run out"):
        wrapups.change("d-1", "extend", 30_000, now_ms=T0 + 200)
    assert routing.desk("d-1")["wrap_up_until_ms"] == str(T0 + 5 + 60_000 + 30_000)
    # the wrap-up runs out at its new end, not the old one
    assert routing.release_wrapups(now_ms=T0 + 5 + 60_000) == []
    assert routing.release_wrapups(now_ms=T0 + 5 + 90_000) == ["d-1"]
    assert audit(redis_client) == []


def test_the_next_wrap_up_may_be_extended_again(redis_client):
    routing = Routing(redis_client)
    _desk_in(routing, DeskState.WRAP_UP)
    wrapups = WrapUps(redis_client)
    wrapups.change("d-1", "extend", 30_000, now_ms=T0 + 100)
    wrapups.change("d-1", "end", 30_000, now_ms=T0 + 200)
    routing.arrive("c-2", "0901", "PJSIP/citizens-2", now_ms=T0 + 300)
    routing.enqueue("c-2", "police", 1, now_ms=T0 + 300)
    routing.claim_next(["police"], 10_000, now_ms=T0 + 301)
    routing.offer_answered("c-2", "d-1", now_ms=T0 + 302)
    routing.hangup("c-2", 60_000, now_ms=T0 + 400)
    assert wrapups.change("d-1", "extend", 30_000, now_ms=T0 + 500)["wrap_up_until_ms"] == str(T0 + 400 + 90_000)


def test_an_unknown_desk_or_action_is_refused(redis_client):
    with pytest.raises(RoutingRefused, match="unknown desk d-404"):
        WrapUps(redis_client).change("d-404", "end", 30_000)
    with pytest.raises(RoutingRefused, match="unknown wrap-up action \"pause\"; allowed: end, extend"):
        WrapUps(redis_client).change("d-404", "pause", 30_000)

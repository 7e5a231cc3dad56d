"""The desk state table (queueing/desk_states.py), row by row, and desk_set_state.lua
checked against it for every person's command in every state."""

from __future__ import annotations

import pytest

from queueing import Routing, RoutingRefused
from queueing.desk_states import (
    PERSON_COMMANDS,
    DeskRefused,
    DeskTransition,
    next_desk_state,
)
from queueing.states import DeskState

T0 = 1_700_000_000_000
ALL_STATES = list(DeskState)
R = DeskRefused

TABLE = [
    # state, command, expected (a DeskTransition, or DeskRefused)
    ("offline", "login", DeskTransition(DeskState.PAUSED, "logged in")),
    ("ready", "login", R), ("paused", "login", R), ("ringing", "login", R),
    ("on_call", "login", R), ("wrap_up", "login", R),
    ("offline", "logout", DeskTransition(DeskState.OFFLINE, changed=False)),
    ("ready", "logout", DeskTransition(DeskState.OFFLINE)),
    ("paused", "logout", DeskTransition(DeskState.OFFLINE)),
    ("wrap_up", "logout", DeskTransition(DeskState.OFFLINE)),
    ("ringing", "logout", R), ("on_call", "logout", R),
    ("offline", "ready", DeskTransition(DeskState.READY)),
    ("ready", "ready", DeskTransition(DeskState.READY, changed=False)),
    ("paused", "ready", DeskTransition(DeskState.READY)),
    ("wrap_up", "ready", DeskTransition(DeskState.READY)),
    ("ringing", "ready", R), ("on_call", "ready", R),
    ("offline", "pause", R),
    ("ready", "pause", DeskTransition(DeskState.PAUSED, "lunch")),
    ("paused", "pause", DeskTransition(DeskState.PAUSED, "lunch")),
    ("wrap_up", "pause", DeskTransition(DeskState.PAUSED, "lunch")),
    ("ringing", "pause", R), ("on_call", "pause", R),
    ("ready", "offer", DeskTransition(DeskState.RINGING)),
    ("paused", "offer", R), ("offline", "offer", R), ("ringing", "offer", R),
    ("on_call", "offer", R), ("wrap_up", "offer", R),
    ("ringing", "answer", DeskTransition(DeskState.ON_CALL)),
    ("ready", "answer", R), ("on_call", "answer", R),
    ("ringing", "caller_left", DeskTransition(DeskState.READY)),
    ("on_call", "caller_left", DeskTransition(DeskState.WRAP_UP)),
    ("ready", "caller_left", R), ("wrap_up", "caller_left", R),
    ("on_call", "call_ended", DeskTransition(DeskState.WRAP_UP)),
    ("ringing", "call_ended", R),
    ("wrap_up", "wrap_up_over", DeskTransition(DeskState.READY)),
    ("ready", "wrap_up_over", R), ("paused", "wrap_up_over", R),
]


@pytest.mark.parametrize(("state", "command", "expected"), TABLE)
def test_table(state, command, expected):
    if expected is R:
        with pytest.raises(DeskRefused):
            next_desk_state(DeskState(state), command, reason="lunch")
    else:
        assert next_desk_state(DeskState(state), command, reason="lunch") == expected


@pytest.mark.parametrize(("misses", "expected"), [
    (1, DeskTransition(DeskState.READY)),
    (2, DeskTransition(DeskState.READY)),
    (3, DeskTransition(DeskState.PAUSED, "missed calls")),
    (4, DeskTransition(DeskState.PAUSED, "missed calls")),
])
def test_missed_offers_pause_the_desk_at_the_limit(misses, expected):
    assert next_desk_state(DeskState.RINGING, "missed", misses=misses, missed_limit=3) == expected


def test_unknown_command_is_named():
    with pytest.raises(DeskRefused, match="unknown desk command 'dance'"):
        next_desk_state(DeskState.READY, "dance")


def test_every_state_and_command_has_an_answer():
    from queueing.desk_states import CALL_COMMANDS

    for state in ALL_STATES:
        for command in PERSON_COMMANDS + CALL_COMMANDS:
            try:
                result = next_desk_state(state, command)
            except DeskRefused as exc:
                assert str(exc)
            else:
                assert result.state in ALL_STATES


# --- the Lua script agrees with the table ------------------------------------------------

# The person's commands as desk_set_state targets.
LUA_TARGET = {"login": "login", "logout": "offline", "ready": "ready", "pause": "paused"}


def _desk_in(routing: Routing, state: DeskState) -> None:
    routing.register_desk("d-1", "police", now_ms=T0)
    if state == DeskState.OFFLINE:
        return
    if state == DeskState.PAUSED:
        routing.set_desk_state("d-1", "login", now_ms=T0 + 1)
        return
    routing.set_desk_state("d-1", "ready", now_ms=T0 + 2)
    if state == DeskState.READY:
        return
    routing.arrive("c-1", "0900", "PJSIP/citizens-1", now_ms=T0)
    routing.enqueue("c-1", "police", 1, now_ms=T0)
    routing.claim_next(["police"], 10_000, now_ms=T0 + 3)
    if state == DeskState.RINGING:
        return
    routing.offer_answered("c-1", "d-1", now_ms=T0 + 4)
    if state == DeskState.ON_CALL:
        return
    routing.hangup("c-1", 60_000, now_ms=T0 + 5)
    assert state == DeskState.WRAP_UP


@pytest.mark.parametrize("command", PERSON_COMMANDS)
@pytest.mark.parametrize("state", ALL_STATES)
def test_lua_agrees_with_the_table(redis_client, state, command):
    routing = Routing(redis_client)
    _desk_in(routing, state)
    assert routing.desk("d-1")["state"] == state
    try:
        expected = next_desk_state(state, command, reason="lunch")
    except DeskRefused:
        expected = None

    if expected is None:
        before = routing.desk("d-1")
        with pytest.raises(RoutingRefused):
            routing.set_desk_state("d-1", LUA_TARGET[command], reason="lunch", now_ms=T0 + 100)
        assert routing.desk("d-1") == before
        return
    change = routing.set_desk_state("d-1", LUA_TARGET[command], reason="lunch", now_ms=T0 + 100)
    desk = routing.desk("d-1")
    assert (change.state, desk["state"]) == (expected.state, expected.state)
    assert change.changed == expected.changed
    if expected.state == DeskState.PAUSED:
        assert desk["reason"] == expected.reason

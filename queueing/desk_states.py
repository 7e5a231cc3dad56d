"""A desk's states and every transition between them, as one pure function.

This table is the specification; the Lua scripts carry it out atomically in Redis
(``desk_set_state`` for what people do, ``claim_next`` / ``offer_*`` / ``call_hangup`` /
``wrapups_release`` for what calls do). ``tests/queueing/test_desk_states.py`` checks the table row
by row and checks that ``desk_set_state.lua`` agrees with it for every person's command in
every state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from queueing.states import DeskState

OFFLINE, READY, RINGING, ON_CALL, WRAP_UP, PAUSED = (
    DeskState.OFFLINE, DeskState.READY, DeskState.RINGING, DeskState.ON_CALL, DeskState.WRAP_UP, DeskState.PAUSED)

# What a call-taker or supervisor does (API, CLI, desk-phone feature codes).
PersonCommand = Literal["login", "logout", "ready", "pause"]
# What a call does to the desk.
CallCommand = Literal["offer", "answer", "missed", "caller_left", "call_ended", "wrap_up_over"]
PERSON_COMMANDS: tuple[PersonCommand, ...] = ("login", "logout", "ready", "pause")
CALL_COMMANDS: tuple[CallCommand, ...] = ("offer", "answer", "missed", "caller_left", "call_ended", "wrap_up_over")

LOGGED_IN_REASON = "logged in"
MISSED_CALLS_REASON = "missed calls"


class DeskRefused(ValueError):
    """The command makes no sense in the desk's state; nothing changes."""


@dataclass(frozen=True)
class DeskTransition:
    state: DeskState
    reason: str = ""
    changed: bool = True


def next_desk_state(state: DeskState, command: str, *, reason: str = "", misses: int = 0,
                    missed_limit: int = 3) -> DeskTransition:
    """The desk's next state after ``command``; ``DeskRefused`` says why not.
    ``misses`` counts offers missed in a row *including* the one being reported."""
    state = DeskState(state)
    busy = state in (RINGING, ON_CALL)
    if command == "login":
        if state != OFFLINE:
            raise DeskRefused(f"already logged in ({state})")
        return DeskTransition(PAUSED, LOGGED_IN_REASON)
    if command == "logout":
        if busy:
            raise DeskRefused(f"{state}: finish the call before logging out")
        return DeskTransition(OFFLINE, changed=state != OFFLINE)
    if command == "ready":
        if busy:
            raise DeskRefused(f"{state}: already taking a call")
        # From offline, ready also logs the call-taker in: one step at the start of a shift.
        return DeskTransition(READY, changed=state != READY)
    if command == "pause":
        if state == OFFLINE:
            raise DeskRefused("not logged in: log in first")
        if busy:
            raise DeskRefused(f"{state}: pause after the call (wrap-up)")
        return DeskTransition(PAUSED, reason)
    if command == "offer":
        if state != READY:
            raise DeskRefused(f"{state}: only a ready desk is offered a caller")
        return DeskTransition(RINGING)
    if command == "answer":
        if state != RINGING:
            raise DeskRefused(f"{state}: nothing is ringing")
        return DeskTransition(ON_CALL)
    if command == "missed":
        if state != RINGING:
            raise DeskRefused(f"{state}: nothing is ringing")
        if misses >= missed_limit:
            return DeskTransition(PAUSED, MISSED_CALLS_REASON)
        return DeskTransition(READY)
    if command == "caller_left":
        if state == RINGING:
            return DeskTransition(READY)  # not the desk's fault: no miss
        if state == ON_CALL:
            return DeskTransition(WRAP_UP)
        raise DeskRefused(f"{state}: no caller at this desk")
    if command == "call_ended":
        if state != ON_CALL:
            raise DeskRefused(f"{state}: no call in progress")
        return DeskTransition(WRAP_UP)
    if command == "wrap_up_over":
        if state != WRAP_UP:
            raise DeskRefused(f"{state}: not in wrap-up")
        return DeskTransition(READY)
    raise DeskRefused(f"unknown desk command {command!r}; known: {', '.join(PERSON_COMMANDS + CALL_COMMANDS)}")

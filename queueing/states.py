"""Call and desk states (docs/architecture.md). They are plain strings in Redis."""

from __future__ import annotations

from enum import StrEnum


class CallState(StrEnum):
    IVR = "ivr"
    QUEUED = "queued"
    RINGING = "ringing"
    ON_CALL = "on_call"
    FALLBACK = "fallback"
    ENDED = "ended"
    ABANDONED = "abandoned"


#: States after which a call never changes again.
FINAL_CALL_STATES = frozenset({CallState.ENDED, CallState.ABANDONED})


class DeskState(StrEnum):
    OFFLINE = "offline"
    READY = "ready"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


#: States a call-taker or supervisor may set (``desk_set_state``).
SETTABLE_DESK_STATES = frozenset({DeskState.OFFLINE, DeskState.READY, DeskState.PAUSED})

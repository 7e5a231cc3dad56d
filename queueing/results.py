"""What the routing operations return: small immutable records parsed from script replies."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Enqueued:
    call_id: str
    queue: str
    queue_score: int
    #: 1 = next to be served in that queue.
    position: int


@dataclass(frozen=True)
class Claim:
    """A caller and a desk matched by ``claim_next``: both are now ringing."""

    call_id: str
    desk_id: str
    channel: str
    queue: str
    caller: str
    #: When the offer is overdue (score in the ``offers`` zset).
    deadline_ms: int


@dataclass(frozen=True)
class Answered:
    call_id: str
    desk_id: str
    #: Arrival at the hotline -> answered by a call-taker.
    wait_ms: int


@dataclass(frozen=True)
class OfferFailed:
    """Outcome of ``offer_failed``.

    ``requeued`` is False when the call was no longer ringing at that desk (the caller hung
    up first): nothing changed and ``note`` says why; the other fields then keep defaults.
    """

    call_id: str
    desk_id: str
    requeued: bool
    note: str = ""
    queue: str = ""
    position: int = 0
    #: ``ready`` or ``paused`` (after too many misses in a row).
    desk_state: str = ""
    misses: int = 0
    #: Whether this failure counted as a miss of the desk.
    missed: bool = False


@dataclass(frozen=True)
class Hangup:
    """Outcome of ``hangup``; ``result`` is a :class:`~queueing.states.HangupResult`, ``state`` a
    :class:`~queueing.states.CallState`, ``outcome`` a :class:`~queueing.states.CallOutcome` and
    ``abandon_stage`` an :class:`~queueing.states.AbandonStage` (empty unless abandoned)."""

    result: str
    call_id: str
    state: str
    previous: str
    outcome: str
    abandon_stage: str
    #: The desk that was released (to ready or wrap-up), empty when none.
    desk_id: str
    desk_state: str


@dataclass(frozen=True)
class DeskChange:
    desk_id: str
    agency: str
    state: str
    #: State before; empty for a desk registered for the first time.
    previous: str
    #: False when the desk already was in that state (nothing written).
    changed: bool


@dataclass(frozen=True)
class WaitInfo:
    """A waiting caller's place, and what the expected wait is computed from."""

    queue: str
    language: str
    position: int  # 1 = next in its queue
    handle_times_ms: list[int]  # recent desk time per answered call, newest first
    desks_logged_in: int

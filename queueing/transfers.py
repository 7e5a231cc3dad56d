"""Transferring a caller to another agency, as a pure state machine (no Redis, no clock).

``decide(transfer, event)`` gives the next :class:`Transfer` and the actions that carry the
step out (Redis by a Lua script, Asterisk by the bridge's AMI). The rule it is written for,
held by tests/queueing/test_transfers.py for every (state, event) pair: whatever happens, a
caller who is still on the line ends talking to a desk or at the HEAD of a queue, never
dropped and never left on hold with nobody coming back:

* back to the initiating desk while it is still there,
* else at the head of the target agency's queue (the target is the right agency),
* else (the bridge could not move the channels: AMI failure) at the head of its own queue.

States (``TransferState``)::

    ready ──blind──▶ moving ──caller moved──▶ requeued (head of the target queue)
      │                 └──AMI failure──▶ cancelled (never moved: still with the initiator)
      └─consult─▶ ringback ──target answered──▶ answered ──complete──▶ completed
                     │                              ├──conference──▶ conferenced
                     │                              └──cancel / target hung up──▶ cancelled
                     └──no answer / busy / cancel──▶ cancelled (back to the initiator)
                     └──initiator hung up──▶ requeued (becomes blind: head of the target queue)

The caller hanging up ends everything (``ended``): there is nobody left to save.
Conferenced is steady, not final: a desk leaving it leaves the caller with the other one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from queueing.states import TransferKind, TransferState


class TransferEvent(StrEnum):
    BLIND_REQUESTED = "blind_requested"
    CONSULT_REQUESTED = "consult_requested"
    CALLER_MOVED = "caller_moved"            # the bridge's Redirect of a blind transfer landed
    TARGET_ANSWERED = "target_answered"
    TARGET_NO_ANSWER = "target_no_answer"    # the ring time-out passed
    TARGET_BUSY = "target_busy"              # busy or refused (486, unavailable)
    TARGET_HUNG_UP = "target_hung_up"
    INITIATOR_HUNG_UP = "initiator_hung_up"
    CALLER_HUNG_UP = "caller_hung_up"
    COMPLETE = "complete"
    CONFERENCE = "conference"
    CANCEL = "cancel"
    AMI_FAILED = "ami_failed"                # no reply in time or refused by Asterisk


class Place(StrEnum):
    """Where the caller is: what the invariant is about."""

    WITH_INITIATOR = "with_initiator"
    WITH_TARGET = "with_target"
    WITH_BOTH = "with_both"          # three-way conference
    ON_HOLD = "on_hold"              # music, while the initiator consults (never final)
    BEING_MOVED = "being_moved"      # a blind transfer's Redirect is in flight (never final)
    QUEUE_HEAD = "queue_head"
    GONE = "gone"                    # the caller hung up


# --- actions: what a step asks the Lua scripts and the bridge to do ----------------------------


@dataclass(frozen=True)
class Action:
    """One thing to do; the subclasses name it in the domain's words."""


@dataclass(frozen=True)
class MoveCallerToWait(Action):
    """Redirect the caller out of the initiator's bridge into hotline-wait (music, watchdog)."""


@dataclass(frozen=True)
class ParkCallerWithMusic(Action):
    """Caller to hotline-hold (music); the initiating desk stays on the line."""


@dataclass(frozen=True)
class RingTarget(Action):
    agency: str


@dataclass(frozen=True)
class StopRingingTarget(Action):
    """The target desk's ring is cancelled and the desk is free again."""


@dataclass(frozen=True)
class HangUpTarget(Action):
    """The target desk's consult leg ends; the desk is free again."""


@dataclass(frozen=True)
class ConnectInitiatorWithTarget(Action):
    """The initiating desk and the target desk talk; the caller keeps its music."""


@dataclass(frozen=True)
class BridgeCallerWithTarget(Action):
    """The caller and the target desk talk; the call is the target desk's from now on."""


@dataclass(frozen=True)
class ReturnToInitiator(Action):
    """The caller and the initiating desk talk again."""


@dataclass(frozen=True)
class JoinConference(Action):
    """Caller, initiating desk and target desk in one ConfBridge room (named by call id)."""


@dataclass(frozen=True)
class RequeueAtHead(Action):
    """The caller waits (music) at the head of ``queue``: priority 0, its original arrival time."""

    queue: str


@dataclass(frozen=True)
class WrapUpInitiator(Action):
    """The initiating desk is done with the call: wrap-up."""


@dataclass(frozen=True)
class CloseTransfer(Action):
    """The caller hung up: the transfer ends with the call (call_hangup records the call)."""


# --- the machine -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transfer:
    """A transfer's facts the decisions need."""

    state: TransferState = TransferState.READY
    kind: TransferKind | None = None
    target_agency: str = ""
    own_queue: str = ""  # the queue the caller came in by (head of it when nothing else is possible)


@dataclass(frozen=True)
class Step:
    transfer: Transfer
    actions: tuple[Action, ...] = ()
    #: Why nothing happened, when the event makes no sense in this state (the API answers 409).
    refused: str = ""


#: States after which the transfer is over (conferenced is steady; a desk leaving it moves on).
FINAL_STATES = frozenset({TransferState.REQUEUED, TransferState.COMPLETED, TransferState.CANCELLED,
                          TransferState.ENDED})
#: States in which a new transfer may not start.
UNDER_WAY = frozenset({TransferState.MOVING, TransferState.RINGBACK, TransferState.ANSWERED,
                       TransferState.CONFERENCED})

PLACES = {
    TransferState.READY: Place.WITH_INITIATOR,
    TransferState.MOVING: Place.BEING_MOVED,
    TransferState.RINGBACK: Place.ON_HOLD,
    TransferState.ANSWERED: Place.ON_HOLD,
    TransferState.CONFERENCED: Place.WITH_BOTH,
    TransferState.COMPLETED: Place.WITH_TARGET,
    TransferState.CANCELLED: Place.WITH_INITIATOR,
    TransferState.REQUEUED: Place.QUEUE_HEAD,
    TransferState.ENDED: Place.GONE,
}


def place(transfer: Transfer) -> Place:
    return PLACES[transfer.state]


def _to(transfer: Transfer, state: TransferState, *actions: Action) -> Step:
    return Step(replace(transfer, state=state), actions)


def _refuse(transfer: Transfer, event: TransferEvent) -> Step:
    return Step(transfer, (), f"cannot {event.value.replace('_', ' ')} while the transfer is {transfer.state.value}")


def _back_to_initiator(t: Transfer, *first: Action) -> Step:
    return _to(t, TransferState.CANCELLED, *first, ReturnToInitiator())


def decide(transfer: Transfer, event: TransferEvent, *, agency: str = "") -> Step:
    """The next step; ``agency`` is the target of a blind or consult request."""
    t, s, e = transfer, transfer.state, event
    if s in FINAL_STATES:
        return _refuse(t, e)
    if e == TransferEvent.CALLER_HUNG_UP:
        # Nobody to save; a ringing or consulting target desk is freed.
        cleanup: tuple[Action, ...] = {
            TransferState.RINGBACK: (StopRingingTarget(),),
            TransferState.ANSWERED: (HangUpTarget(),),
        }.get(s, ())
        return _to(t, TransferState.ENDED, *cleanup, CloseTransfer())

    if s == TransferState.READY:
        if e == TransferEvent.BLIND_REQUESTED and agency:
            return _to(replace(t, kind=TransferKind.BLIND, target_agency=agency), TransferState.MOVING,
                       MoveCallerToWait())
        if e == TransferEvent.CONSULT_REQUESTED and agency:
            return _to(replace(t, kind=TransferKind.CONSULT, target_agency=agency), TransferState.RINGBACK,
                       ParkCallerWithMusic(), RingTarget(agency))
        return _refuse(t, e)

    if s == TransferState.MOVING:
        if e == TransferEvent.CALLER_MOVED:
            return _to(t, TransferState.REQUEUED, RequeueAtHead(t.target_agency), WrapUpInitiator())
        if e == TransferEvent.AMI_FAILED:
            # The Redirect never landed: the caller is still talking to the initiator.
            return _to(t, TransferState.CANCELLED)
        if e == TransferEvent.INITIATOR_HUNG_UP:
            # The initiator's leg is gone, so the caller may be alone: waiting at the head is certain.
            return _to(t, TransferState.REQUEUED, MoveCallerToWait(), RequeueAtHead(t.target_agency), WrapUpInitiator())
        return _refuse(t, e)

    if s == TransferState.RINGBACK:
        if e == TransferEvent.TARGET_ANSWERED:
            return _to(t, TransferState.ANSWERED, ConnectInitiatorWithTarget())
        if e in (TransferEvent.TARGET_NO_ANSWER, TransferEvent.TARGET_BUSY, TransferEvent.TARGET_HUNG_UP,
                 TransferEvent.CANCEL):
            return _back_to_initiator(t, StopRingingTarget())
        if e == TransferEvent.INITIATOR_HUNG_UP:
            # Becomes blind (as Wazo does): the caller waits at the head of the agency it needs.
            return _to(t, TransferState.REQUEUED, StopRingingTarget(), RequeueAtHead(t.target_agency), WrapUpInitiator())
        if e == TransferEvent.AMI_FAILED:
            return _to(t, TransferState.REQUEUED, StopRingingTarget(), RequeueAtHead(t.own_queue), WrapUpInitiator())
        return _refuse(t, e)

    if s == TransferState.ANSWERED:
        if e in (TransferEvent.COMPLETE, TransferEvent.INITIATOR_HUNG_UP):
            return _to(t, TransferState.COMPLETED, BridgeCallerWithTarget(), WrapUpInitiator())
        if e == TransferEvent.CONFERENCE:
            return _to(t, TransferState.CONFERENCED, JoinConference())
        if e == TransferEvent.CANCEL:
            return _back_to_initiator(t, HangUpTarget())
        if e == TransferEvent.TARGET_HUNG_UP:
            return _back_to_initiator(t)
        if e == TransferEvent.AMI_FAILED:
            return _to(t, TransferState.REQUEUED, HangUpTarget(), RequeueAtHead(t.own_queue), WrapUpInitiator())
        return _refuse(t, e)

    # conferenced: whoever leaves, the caller stays with the other desk.
    if e == TransferEvent.INITIATOR_HUNG_UP:
        return _to(t, TransferState.COMPLETED, WrapUpInitiator())
    if e == TransferEvent.TARGET_HUNG_UP:
        return _to(t, TransferState.CANCELLED)
    return _refuse(t, e)

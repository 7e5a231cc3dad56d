"""The transfer state machine (queueing/transfers.py): the full table, and the rule that a
caller is never dropped, checked for every (state, event) pair and over random sequences."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queueing.states import TransferKind, TransferState
from queueing.transfers import (
    FINAL_STATES,
    PLACES,
    BridgeCallerWithTarget,
    CloseTransfer,
    ConnectInitiatorWithTarget,
    HangUpTarget,
    JoinConference,
    MoveCallerToWait,
    ParkCallerWithMusic,
    Place,
    RequeueAtHead,
    ReturnToInitiator,
    RingTarget,
    StopRingingTarget,
    Transfer,
    TransferEvent,
    WrapUpInitiator,
    decide,
    place,
)

S, E = TransferState, TransferEvent
OWN, TARGET = "police", "fire"


def transfer(state: TransferState, kind: TransferKind | None = TransferKind.CONSULT) -> Transfer:
    return Transfer(state, None if state == S.READY else kind, "" if state == S.READY else TARGET, OWN)


# (state, event) → (next state, actions); every pair not listed is refused and changes nothing.
TABLE = {
    (S.READY, E.BLIND_REQUESTED): (S.MOVING, (MoveCallerToWait(),)),
    (S.READY, E.CONSULT_REQUESTED): (S.RINGBACK, (ParkCallerWithMusic(), RingTarget(TARGET))),
    (S.READY, E.CALLER_HUNG_UP): (S.ENDED, (CloseTransfer(),)),
    (S.MOVING, E.CALLER_MOVED): (S.REQUEUED, (RequeueAtHead(TARGET), WrapUpInitiator())),
    (S.MOVING, E.AMI_FAILED): (S.CANCELLED, ()),
    (S.MOVING, E.INITIATOR_HUNG_UP): (S.REQUEUED, (MoveCallerToWait(), RequeueAtHead(TARGET), WrapUpInitiator())),
    (S.MOVING, E.CALLER_HUNG_UP): (S.ENDED, (CloseTransfer(),)),
    (S.RINGBACK, E.TARGET_ANSWERED): (S.ANSWERED, (ConnectInitiatorWithTarget(),)),
    (S.RINGBACK, E.TARGET_NO_ANSWER): (S.CANCELLED, (StopRingingTarget(), ReturnToInitiator())),
    (S.RINGBACK, E.TARGET_BUSY): (S.CANCELLED, (StopRingingTarget(), ReturnToInitiator())),
    (S.RINGBACK, E.TARGET_HUNG_UP): (S.CANCELLED, (StopRingingTarget(), ReturnToInitiator())),
    (S.RINGBACK, E.CANCEL): (S.CANCELLED, (StopRingingTarget(), ReturnToInitiator())),
    (S.RINGBACK, E.INITIATOR_HUNG_UP): (S.REQUEUED, (StopRingingTarget(), RequeueAtHead(TARGET), WrapUpInitiator())),
    (S.RINGBACK, E.AMI_FAILED): (S.REQUEUED, (StopRingingTarget(), RequeueAtHead(OWN), WrapUpInitiator())),
    (S.RINGBACK, E.CALLER_HUNG_UP): (S.ENDED, (StopRingingTarget(), CloseTransfer())),
    (S.ANSWERED, E.COMPLETE): (S.COMPLETED, (BridgeCallerWithTarget(), WrapUpInitiator())),
    (S.ANSWERED, E.INITIATOR_HUNG_UP): (S.COMPLETED, (BridgeCallerWithTarget(), WrapUpInitiator())),
    (S.ANSWERED, E.CONFERENCE): (S.CONFERENCED, (JoinConference(),)),
    (S.ANSWERED, E.CANCEL): (S.CANCELLED, (HangUpTarget(), ReturnToInitiator())),
    (S.ANSWERED, E.TARGET_HUNG_UP): (S.CANCELLED, (ReturnToInitiator(),)),
    (S.ANSWERED, E.AMI_FAILED): (S.REQUEUED, (HangUpTarget(), RequeueAtHead(OWN), WrapUpInitiator())),
    (S.ANSWERED, E.CALLER_HUNG_UP): (S.ENDED, (HangUpTarget(), CloseTransfer())),
    (S.CONFERENCED, E.INITIATOR_HUNG_UP): (S.COMPLETED, (WrapUpInitiator(),)),
    (S.CONFERENCED, E.TARGET_HUNG_UP): (S.CANCELLED, ()),
    (S.CONFERENCED, E.CALLER_HUNG_UP): (S.ENDED, (CloseTransfer(),)),
}

ALL_PAIRS = list(itertools.product(TransferState, TransferEvent))


@pytest.mark.parametrize(("state", "event"), ALL_PAIRS, ids=lambda v: v.value)
def test_the_table(state, event):
    before = transfer(state, TransferKind.BLIND if state == S.MOVING else TransferKind.CONSULT)
    step = decide(before, event, agency=TARGET)
    if (state, event) in TABLE:
        next_state, actions = TABLE[(state, event)]
        assert (step.transfer.state, step.actions, step.refused) == (next_state, actions, "")
    else:
        assert step.transfer == before and step.actions == () and step.refused
        assert state.value in step.refused


def test_a_request_names_its_kind_and_target():
    assert decide(Transfer(own_queue=OWN), E.BLIND_REQUESTED, agency="medical").transfer == Transfer(
        S.MOVING, TransferKind.BLIND, "medical", OWN)
    assert decide(Transfer(own_queue=OWN), E.CONSULT_REQUESTED, agency="medical").transfer.kind == TransferKind.CONSULT
    assert decide(Transfer(own_queue=OWN), E.BLIND_REQUESTED).refused  # no agency, no transfer


def test_every_state_has_a_place_and_the_final_ones_keep_the_caller():
    assert set(PLACES) == set(TransferState)
    for state in FINAL_STATES:
        assert PLACES[state] in (Place.WITH_INITIATOR, Place.WITH_TARGET, Place.QUEUE_HEAD, Place.GONE), state


# Where the actions leave the caller: the last action that places it wins.
PLACING = {ReturnToInitiator: Place.WITH_INITIATOR, BridgeCallerWithTarget: Place.WITH_TARGET,
           JoinConference: Place.WITH_BOTH, RequeueAtHead: Place.QUEUE_HEAD, CloseTransfer: Place.GONE,
           ParkCallerWithMusic: Place.ON_HOLD, MoveCallerToWait: Place.BEING_MOVED}


@pytest.mark.parametrize(("state", "event"), ALL_PAIRS, ids=lambda v: v.value)
def test_no_pair_drops_the_caller(state, event):
    """The invariant, for every pair: after a final step the caller talks to a desk, waits at the
    head of a queue (the target's unless the bridge failed), or has hung up; and the actions say so."""
    step = decide(transfer(state, TransferKind.BLIND if state == S.MOVING else TransferKind.CONSULT), event, agency=TARGET)
    after = step.transfer
    placed = [PLACING[type(a)] for a in step.actions if type(a) in PLACING]
    if after.state in FINAL_STATES and not step.refused and state != after.state:
        assert place(after) in (Place.WITH_INITIATOR, Place.WITH_TARGET, Place.QUEUE_HEAD, Place.GONE)
        if placed:
            assert placed[-1] == place(after), (state, event, step)
        if place(after) == Place.QUEUE_HEAD:
            queue = next(a.queue for a in step.actions if isinstance(a, RequeueAtHead))
            assert queue == (OWN if event == E.AMI_FAILED else TARGET)
            # The initiator has let go of the call: it wraps up.
            assert WrapUpInitiator() in step.actions
    # A desk that was rung or consulted is always let go when the caller leaves it behind.
    if state == S.RINGBACK and after.state in FINAL_STATES:
        assert StopRingingTarget() in step.actions


# Events the world may send at any time; then the ones that always come sooner or later (a ring
# time-out; a consult that the initiator ends one way or the other; a blind move that lands or fails).
@given(st.lists(st.sampled_from(list(TransferEvent)), max_size=12),
       st.sampled_from([E.CALLER_MOVED, E.AMI_FAILED, E.INITIATOR_HUNG_UP]),
       st.sampled_from([E.COMPLETE, E.CANCEL, E.INITIATOR_HUNG_UP, E.TARGET_HUNG_UP, E.AMI_FAILED]))
def test_random_sequences_never_drop_the_caller(events, blind_end, consult_end):
    current = Transfer(own_queue=OWN)
    for event in events:
        step = decide(current, event, agency=TARGET)
        assert step.refused or step.transfer.state != current.state or step.actions == ()
        current = step.transfer
        # Refused or not, the caller is always somewhere known.
        assert place(current) in set(Place)
    # What always comes sooner or later closes any transfer left open.
    for event in (E.CALLER_MOVED if current.state == S.MOVING else blind_end, E.TARGET_NO_ANSWER, consult_end,
                  E.TARGET_HUNG_UP):
        current = decide(current, event, agency=TARGET).transfer
    assert current.state in FINAL_STATES | {S.READY}
    assert place(current) in (Place.WITH_INITIATOR, Place.WITH_TARGET, Place.QUEUE_HEAD, Place.GONE)


def test_a_final_transfer_takes_no_more_events():
    for state in FINAL_STATES:
        for event in TransferEvent:
            step = decide(transfer(state), event, agency=TARGET)
            assert step.refused and step.transfer.state == state

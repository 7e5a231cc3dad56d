"""Drift between Redis (what hotline believes) and Asterisk (what is really on the line),
as a pure function: the calls Redis thinks are live, the channels Asterisk lists and the
desk records in → the list of differences, each with the repair it needs.

The bridge repairs them after every AMI login and every few seconds (``telephony.reconcile``);
``hotline drift`` prints them, and repairs them with ``--repair``. Tests feed it tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from queueing.states import CallState, DeskState
from telephony.ami import ACTION_DEADLINE_S
from telephony.ami_events import HOTLINE_CONTEXTS, LiveChannel, caller_stage

# An offer younger than this whose caller still waits is not lost: its Redirect may still land.
# Twice the AMI reply deadline: a Redirect that got no reply in time (the dispatcher leaves
# its offer open) has had as long again to take effect. Requeueing sooner could ring a second
# desk for a caller the first Redirect is still taking to the first.
OFFER_IN_FLIGHT_MS = int(2 * ACTION_DEADLINE_S * 1000)
LIVE_CALL_STATES = (CallState.IVR, CallState.QUEUED, CallState.RINGING, CallState.ON_CALL, CallState.FALLBACK)


class DriftKind(StrEnum):
    CALLER_GONE = "caller_gone"              # Redis: live call; Asterisk: no channel → close the call (abandoned/ended)
    TAKEN_BY_FALLBACK = "taken_by_fallback"  # Redis: ivr/queued/ringing; Asterisk: in the fallback queue → record it
    OFFER_LOST = "offer_lost"                # Redis: ringing; Asterisk: back waiting, the offer long past → requeue
    ANSWER_MISSED = "answer_missed"          # Redis: ringing; Asterisk: talking to the desk → record the answer
    UNRECORDED_CALLER = "unrecorded_caller"  # Asterisk: a caller in the fallback queue; Redis: no record → write one
    CAN_REJOIN = "can_rejoin"                # a caller in the fallback queue, no desk talking to it → back in routing
    DESK_STUCK = "desk_stuck"                # a desk ringing / on a call whose call is over or elsewhere → free it


@dataclass(frozen=True)
class Drift:
    kind: DriftKind
    call_id: str = ""
    desk_id: str = ""
    channel: str = ""
    caller: str = ""
    state: str = ""  # the call's (or desk's) state in Redis
    detail: str = ""


def desks_of_call(call: Mapping[str, str]) -> set[str]:
    """Every desk the call record names as busy with it: its own, and a consulted one."""
    return {d for d in (call.get("desk"), call.get("consult_desk"), call.get("conference_desk")) if d}


def find_drift(calls: Sequence[Mapping[str, str]], live: Mapping[str, LiveChannel],
               desks: Sequence[Mapping[str, str]], now_ms: int) -> list[Drift]:
    """Every difference, in the order to repair them (calls before the desks they free)."""
    drift: list[Drift] = []
    known = {c["call_id"] for c in calls}
    by_id = {c["call_id"]: c for c in calls}
    for call in calls:
        call_id, state, desk_id = call["call_id"], call.get("state", ""), call.get("desk", "")
        channel = live.get(call_id)
        if channel is None:
            drift.append(Drift(DriftKind.CALLER_GONE, call_id, desk_id, state=state, detail="no channel in Asterisk"))
            continue
        stage = caller_stage(channel)
        if stage == "fallback":
            if state in (CallState.IVR, CallState.QUEUED, CallState.RINGING):
                drift.append(Drift(DriftKind.TAKEN_BY_FALLBACK, call_id, desk_id, channel.channel, state=state,
                                   detail="in Asterisk's fallback queue"))
            if not channel.bridged:
                drift.append(Drift(DriftKind.CAN_REJOIN, call_id, channel=channel.channel))
        elif state == CallState.RINGING and stage == "waiting" and now_ms - int(call.get("offered_ms") or 0) > OFFER_IN_FLIGHT_MS:
            drift.append(Drift(DriftKind.OFFER_LOST, call_id, desk_id, channel.channel, state=state,
                               detail="caller back in hotline-wait"))
        elif state == CallState.RINGING and stage == "on_call":
            drift.append(Drift(DriftKind.ANSWER_MISSED, call_id, desk_id, channel.channel, state=state,
                               detail="talking to the desk"))
    for channel in live.values():
        if channel.uniqueid in known or channel.context not in HOTLINE_CONTEXTS or caller_stage(channel) != "fallback":
            continue
        drift.append(Drift(DriftKind.UNRECORDED_CALLER, channel.uniqueid, channel=channel.channel, caller=channel.caller))
        if not channel.bridged:
            drift.append(Drift(DriftKind.CAN_REJOIN, channel.uniqueid, channel=channel.channel))
    for desk in desks:
        if desk.get("state") not in (DeskState.RINGING, DeskState.ON_CALL):
            continue
        its_call = by_id.get(desk.get("call_id", ""))
        # A desk busy with a live call is freed by that call's own repair (or its end).
        # A consulted desk (consult_desk: ringing, talking, or in the three-way conference,
        # conference_desk) is busy with the call too.
        if (its_call is None or desk.get("desk_id") not in desks_of_call(its_call)
                or its_call.get("state") not in (CallState.RINGING, CallState.ON_CALL)):
            drift.append(Drift(DriftKind.DESK_STUCK, desk.get("call_id", ""), desk.get("desk_id", ""), state=desk["state"],
                               detail="its call is over or elsewhere"))
    return drift

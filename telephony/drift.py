"""Drift between Redis (what hotline believes) and Asterisk (what is really on the line),
as a pure function: the calls Redis thinks are live, the channels Asterisk lists and the
desk records in → the list of differences, each with the repair it needs.

The bridge repairs them after every AMI login and every few seconds (``Bridge.reconcile``);
``hotline drift`` prints them, and repairs them with ``--repair``. Tests feed it tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from telephony.ami_events import HOTLINE_CONTEXTS, LiveChannel, caller_stage

OFFER_IN_FLIGHT_MS = 3000  # longer than any AMI Redirect takes to land
LIVE_CALL_STATES = ("ivr", "queued", "ringing", "on_call", "fallback")

DriftKind = Literal[
    "caller_gone",        # Redis: live call; Asterisk: no channel → close the call (abandoned/ended)
    "taken_by_fallback",  # Redis: ivr/queued/ringing; Asterisk: in the fallback queue → record it
    "offer_lost",         # Redis: ringing; Asterisk: back waiting, the offer long past → requeue
    "answer_missed",      # Redis: ringing; Asterisk: talking to the desk → record the answer
    "unrecorded_caller",  # Asterisk: a caller in the fallback queue; Redis: no record → write one
    "can_rejoin",         # a caller in the fallback queue, no desk talking to it → back in routing
    "desk_stuck",         # a desk ringing / on a call whose call is over or elsewhere → free it
]


@dataclass(frozen=True)
class Drift:
    kind: DriftKind
    call_id: str = ""
    desk_id: str = ""
    channel: str = ""
    caller: str = ""
    state: str = ""  # the call's (or desk's) state in Redis
    detail: str = ""


def find_drift(calls: Sequence[Mapping[str, str]], live: Mapping[str, LiveChannel],
               desks: Sequence[Mapping[str, str]], now_ms: int) -> list[Drift]:
    """Every difference, in the order to repair them (calls before the desks they free)."""
    drift: list[Drift] = []
    known = {c["call_id"] for c in calls}
    by_id = {c["call_id"]: c for c in calls}
    for call in calls:
        call_id, state, desk = call["call_id"], call.get("state", ""), call.get("desk", "")
        channel = live.get(call_id)
        if channel is None:
            drift.append(Drift("caller_gone", call_id, desk, state=state, detail="no channel in Asterisk"))
            continue
        stage = caller_stage(channel)
        if stage == "fallback":
            if state in ("ivr", "queued", "ringing"):
                drift.append(Drift("taken_by_fallback", call_id, desk, channel.channel, state=state,
                                   detail="in Asterisk's fallback queue"))
            if not channel.bridged:
                drift.append(Drift("can_rejoin", call_id, channel=channel.channel))
        elif state == "ringing" and stage == "waiting" and now_ms - int(call.get("offered_ms") or 0) > OFFER_IN_FLIGHT_MS:
            drift.append(Drift("offer_lost", call_id, desk, channel.channel, state=state,
                               detail="caller back in hotline-wait"))
        elif state == "ringing" and stage == "on_call":
            drift.append(Drift("answer_missed", call_id, desk, channel.channel, state=state,
                               detail="talking to the desk"))
    for channel in live.values():
        if channel.uniqueid in known or channel.context not in HOTLINE_CONTEXTS or caller_stage(channel) != "fallback":
            continue
        drift.append(Drift("unrecorded_caller", channel.uniqueid, channel=channel.channel, caller=channel.caller))
        if not channel.bridged:
            drift.append(Drift("can_rejoin", channel.uniqueid, channel=channel.channel))
    for desk in desks:
        if desk.get("state") not in ("ringing", "on_call"):
            continue
        call = by_id.get(desk.get("call_id", ""))
        # A desk busy with a live call is freed by that call's own repair (or its end).
        if call is None or call.get("desk") != desk.get("desk_id") or call.get("state") not in ("ringing", "on_call"):
            drift.append(Drift("desk_stuck", desk.get("call_id", ""), desk.get("desk_id", ""), state=desk["state"],
                               detail="its call is over or elsewhere"))
    return drift

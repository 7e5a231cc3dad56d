"""find_drift, the table: what Redis believes and what Asterisk has → the repairs."""

from __future__ import annotations

import pytest

from telephony.ami_events import LiveChannel
from telephony.drift import OFFER_IN_FLIGHT_MS, Drift, find_drift

NOW = 1_800_000_000_000


def call(call_id, state, desk="", offered_ago_ms=OFFER_IN_FLIGHT_MS + 1):
    return {"call_id": call_id, "state": state, "desk": desk, "offered_ms": str(NOW - offered_ago_ms)}


def chan(call_id, context, application="Wait", bridged=False, caller="0900"):
    return LiveChannel(f"PJSIP/citizens-{call_id}", call_id, caller, context, "s", application, bridged)


def desk(desk_id, state, call_id=""):
    return {"desk_id": desk_id, "state": state, "call_id": call_id}


CASES = [
    ("caller hung up during an outage",
     [call("c", "queued")], [], [], [("caller_gone", "c")]),
    ("in the IVR, channel alive: nothing",
     [call("c", "ivr")], [chan("c", "hotline-inbound", "AGI")], [], []),
    ("waiting where Redis says: nothing",
     [call("c", "queued")], [chan("c", "hotline-wait")], [], []),
    ("the fallback queue took it; no desk yet: record, then rejoin",
     [call("c", "queued")], [chan("c", "hotline-fallback", "Queue")], [],
     [("taken_by_fallback", "c"), ("can_rejoin", "c")]),
    ("the fallback queue took it and a desk talks to it: record only",
     [call("c", "queued")], [chan("c", "hotline-fallback", "Queue", bridged=True)], [],
     [("taken_by_fallback", "c")]),
    ("already recorded as fallback, still waiting there: rejoin",
     [call("c", "fallback")], [chan("c", "hotline-fallback", "Queue")], [], [("can_rejoin", "c")]),
    ("ringing, but the caller is back waiting and the offer is old: lost",
     [call("c", "ringing", "d-1")], [chan("c", "hotline-wait")], [desk("d-1", "ringing", "c")],
     [("offer_lost", "c")]),
    ("ringing, Redirect still in flight: nothing",
     [call("c", "ringing", "d-1", offered_ago_ms=OFFER_IN_FLIGHT_MS - 1)], [chan("c", "hotline-wait")],
     [desk("d-1", "ringing", "c")], []),
    ("ringing in Redis, talking in Asterisk: the answer was missed",
     [call("c", "ringing", "d-1")], [chan("c", "hotline-deliver", "Dial", bridged=True)],
     [desk("d-1", "ringing", "c")], [("answer_missed", "c")]),
    ("a fallback caller nobody recorded",
     [], [chan("x", "hotline-fallback", "Queue", caller="0977")], [],
     [("unrecorded_caller", "x"), ("can_rejoin", "x")]),
    ("a channel outside hotline's contexts is none of its business",
     [], [chan("d", "hotline-desk", "AppDial")], [], []),
    ("a desk ringing for a call that ended",
     [], [], [desk("d-1", "ringing", "gone")], [("desk_stuck", "d-1")]),
    ("a desk on a call that another desk has",
     [call("c", "on_call", "d-2")], [chan("c", "hotline-deliver", "Dial", bridged=True)],
     [desk("d-1", "on_call", "c"), desk("d-2", "on_call", "c")], [("desk_stuck", "d-1")]),
    ("a consulted desk ringing for a held caller: busy with it",
     [{**call("c", "on_call", "d-1"), "consult_desk": "d-2"}], [chan("c", "hotline-hold", "MusicOnHold")],
     [desk("d-1", "on_call", "c"), desk("d-2", "ringing", "c")], []),
    ("a consulted desk that answered, the caller still held: busy with it",
     [{**call("c", "on_call", "d-1"), "consult_desk": "d-2"}], [chan("c", "hotline-hold", "MusicOnHold")],
     [desk("d-1", "on_call", "c"), desk("d-2", "on_call", "c")], []),
    ("the three desks' conference: the other desk is busy with it",
     [{**call("c", "on_call", "d-1"), "consult_desk": "d-2", "conference_desk": "d-2"}],
     [chan("c", "hotline-conference", "ConfBridge", bridged=True)],
     [desk("d-1", "on_call", "c"), desk("d-2", "on_call", "c")], []),
    ("the consultation over (consult_desk cleared), the desk still on the call: stuck",
     [{**call("c", "on_call", "d-1"), "consult_desk": ""}], [chan("c", "hotline-deliver", "Dial", bridged=True)],
     [desk("d-1", "on_call", "c"), desk("d-2", "on_call", "c")], [("desk_stuck", "d-2")]),
]


@pytest.mark.parametrize(("calls", "live", "desks", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_find_drift(calls, live, desks, expected):
    drift = find_drift(calls, {c.uniqueid: c for c in live}, desks, NOW)
    assert [(d.kind, d.call_id if d.kind != "desk_stuck" else d.desk_id) for d in drift] == expected


def test_unrecorded_caller_carries_what_a_record_needs():
    [unrecorded, _] = find_drift([], {"x": chan("x", "hotline-fallback", "Queue", caller="0977")}, [], NOW)
    assert unrecorded == Drift("unrecorded_caller", "x", channel="PJSIP/citizens-x", caller="0977")

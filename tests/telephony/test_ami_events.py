"""telephony.ami_events over the AMI messages recorded from Asterisk 22."""

from __future__ import annotations

import pytest
from panoramisk.message import Message

from telephony.ami_events import (
    HOTLINE_CONTEXTS,
    CallerLeft,
    ConferenceLeft,
    ConsultAnswered,
    ConsultEnded,
    DeskAnswered,
    HeldDeskLeft,
    LiveChannel,
    MalformedEvent,
    RingEnded,
    WentToFallback,
    caller_stage,
    parse_channel_row,
    parse_user_event,
)
from tests.replay import ami_reply, ami_user_events

# The recorded Hotline* UserEvents, in order, as domain events.
EXPECTED_EVENTS = [
    DeskAnswered("hotline-rec-1795594136.0", "desk-101"),
    CallerLeft("hotline-rec-1795594136.0", "ringing", "ANSWER"),
    DeskAnswered("hotline-rec-1795594148.2", "desk-101"),
    CallerLeft("hotline-rec-1795594148.2", "ringing", "ANSWER"),
    RingEnded("hotline-rec3-1795594199.0", "desk-201", "NOANSWER"),
    CallerLeft("hotline-rec3-1795594199.0", "ringing", "CANCEL"),
    WentToFallback("hotline-rec3-1795594210.3", "agi-FAILURE-none", "0900000006", "PJSIP/citizens-00000003"),
    CallerLeft("hotline-rec3-1795594210.3", "fallback", ""),  # no DialStatus key at all
]


def test_recorded_user_events():
    events = ami_user_events()
    assert all(e["UserEvent"].startswith("Hotline") for e in events)
    assert [parse_user_event(e) for e in events] == EXPECTED_EVENTS


def test_recorded_user_events_as_panoramisk_messages():
    # What AmiLink really receives: panoramisk's case-insensitive Message.
    messages = [Message(e) for e in ami_user_events()]
    assert [parse_user_event(m) for m in messages] == EXPECTED_EVENTS


def test_every_event_type_was_recorded():
    assert {type(e) for e in EXPECTED_EVENTS} == {DeskAnswered, CallerLeft, RingEnded, WentToFallback}


def test_lowercase_keys_from_a_plain_dict():
    event = {"userevent": "HotlineRingEnd", "callid": " c-1 ", "desk": "desk-101", "status": "BUSY"}
    assert parse_user_event(event) == RingEnded("c-1", "desk-101", "BUSY")


def test_fallback_without_caller_or_channel_keys():
    event = {"userevent": "HotlineFallback", "callid": "c-1", "reason": "agi-FAILURE-none"}
    assert parse_user_event(event) == WentToFallback("c-1", "agi-FAILURE-none", "", "")


def test_ring_end_without_status_is_unknown():
    event = {"UserEvent": "HotlineRingEnd", "CallId": "c-1", "Desk": "desk-101"}
    assert parse_user_event(event) == RingEnded("c-1", "desk-101", "UNKNOWN")


def test_desk_busy_status_from_the_dialplan():
    event = {"UserEvent": "HotlineRingEnd", "CallId": "c-1", "Desk": "desk-101", "Status": "DESK_INUSE"}
    assert parse_user_event(event) == RingEnded("c-1", "desk-101", "DESK_INUSE")


@pytest.mark.parametrize("name", ["SomethingElse", "", "hotlineAnswered", "QueueMemberStatus"])
def test_other_user_events_are_ignored(name):
    recorded = dict(ami_user_events()[0], UserEvent=name)
    assert parse_user_event(recorded) is None


def test_user_event_without_a_name_is_ignored():
    recorded = {k: v for k, v in ami_user_events()[0].items() if k != "UserEvent"}
    assert parse_user_event(recorded) is None


@pytest.mark.parametrize("index", range(len(EXPECTED_EVENTS)))
def test_hotline_event_without_call_id_is_malformed(index):
    recorded = dict(ami_user_events()[index])
    name = recorded["UserEvent"]
    recorded["CallId"] = ""
    with pytest.raises(MalformedEvent, match=f"^{name} without CallId$"):
        parse_user_event(recorded)
    del recorded["CallId"]
    with pytest.raises(MalformedEvent, match=f"^{name} without CallId$"):
        parse_user_event(recorded)


def test_unknown_hotline_event_is_malformed():
    recorded = dict(ami_user_events()[0], UserEvent="HotlineTransferred")
    with pytest.raises(MalformedEvent, match="^unknown hotline event HotlineTransferred$"):
        parse_user_event(recorded)


# --- CoreShowChannels ---------------------------------------------------------------------

def _rows(reply_name: str) -> list[dict]:
    return [m for m in ami_reply(reply_name) if m.get("Event") == "CoreShowChannel"]


def test_recorded_channel_rows():
    caller, desk = (parse_channel_row(Message(m)) for m in _rows("CoreShowChannels_waiting"))
    assert caller == LiveChannel(
        channel="PJSIP/citizens-00000002", uniqueid="hotline-rec-1795594148.2", caller="0900000002",
        context="hotline-deliver", exten="desk-101", application="Dial", bridged=False)
    assert caller_stage(caller) == "ringing"
    assert desk == LiveChannel(
        channel="PJSIP/desk-101-00000003", uniqueid="hotline-rec-1795594150.3", caller="desk101",
        context="hotline-desk", exten="desk-101", application="AppDial", bridged=False)
    assert caller_stage(desk) == "other"


def test_empty_recorded_reply_has_no_rows():
    assert _rows("CoreShowChannels") == []


def _row(context: str, application: str, bridge_id: str = "", exten: str = "s") -> dict[str, str]:
    return {"Event": "CoreShowChannel", "Channel": "PJSIP/citizens-00000007", "Uniqueid": "u-7",
            "CallerIDNum": "0900000007", "Context": context, "Exten": exten, "Application": application,
            "BridgeId": bridge_id}


@pytest.mark.parametrize(
    ("row", "stage"),
    [
        (_row("hotline-fallback", "Queue"), "fallback"),
        (_row("hotline-fallback", "Queue", bridge_id="b1f3"), "fallback"),  # answered by a desk in the queue
        (_row("hotline-fallback", "UserEvent"), "fallback"),
        (_row("hotline-wait", "Queue"), "fallback"),  # Queue anywhere is Asterisk's own queue
        (_row("hotline-wait", "Wait"), "waiting"),
        (_row("hotline-wait", "Playback"), "waiting"),
        (_row("hotline-wait", "MusicOnHold"), "waiting"),
        (_row("hotline-deliver", "Dial", exten="desk-101"), "ringing"),
        (_row("hotline-deliver", "Dial", bridge_id="4f1c0d2e", exten="desk-101"), "on_call"),
        (_row("hotline-inbound", "AGI", exten="112"), "ivr"),
        (_row("hotline-inbound", "Answer", exten="112"), "other"),
        (_row("hotline-desk", "AppDial", exten="desk-101"), "other"),
        (_row("default", "Echo"), "other"),
    ],
)
def test_caller_stage(row, stage):
    channel = parse_channel_row(row)
    assert channel.bridged == bool(row["BridgeId"])
    assert caller_stage(channel) == stage


def test_row_without_bridge_id_key_is_not_bridged():
    row = _row("hotline-deliver", "Dial")
    del row["BridgeId"]
    assert parse_channel_row(row).bridged is False


def test_hotline_contexts_are_the_dialplans():
    assert set(HOTLINE_CONTEXTS) == {"hotline-inbound", "hotline-wait", "hotline-deliver", "hotline-fallback"}


def test_a_consultation_answered_and_ended_as_the_dialplan_raises_them():
    answered = {"UserEvent": "HotlineConsultAnswered", "CallId": "c-1", "Desk": "desk-201"}
    ended = {"UserEvent": "HotlineConsultEnd", "CallId": "c-1", "Desk": "desk-201", "Status": "NOANSWER"}
    assert parse_user_event(answered) == ConsultAnswered("c-1", "desk-201")
    assert parse_user_event(ended) == ConsultEnded("c-1", "desk-201", "NOANSWER")
    assert parse_user_event({**ended, "Status": ""}) == ConsultEnded("c-1", "desk-201", "UNKNOWN")


def test_a_desk_leaving_the_conference_as_the_dialplan_raises_it():
    left = {"UserEvent": "HotlineConferenceLeft", "CallId": "c-1", "Desk": "desk-101"}
    assert parse_user_event(left) == ConferenceLeft("c-1", "desk-101")


def test_a_desk_leg_leaving_names_the_target_leg_its_consultation_talked_to():
    message = {"UserEvent": "HotlineDeskLeft", "CallId": "c-1", "Desk": "desk-101", "Peer": "PJSIP/desk-201-0000000a"}
    assert parse_user_event(message) == HeldDeskLeft("c-1", "desk-101", "PJSIP/desk-201-0000000a")
    assert parse_user_event({**message, "Peer": ""}) == HeldDeskLeft("c-1", "desk-101")


def test_a_held_caller_leaving_names_its_desks_leg():
    message = {"UserEvent": "HotlineHangup", "CallId": "c-1", "Stage": "held", "DialStatus": "ANSWER",
               "DeskLeg": "PJSIP/desk-101-00000009"}
    assert parse_user_event(message) == CallerLeft("c-1", "held", "ANSWER", "PJSIP/desk-101-00000009")

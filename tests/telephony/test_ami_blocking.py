"""telephony.ami_blocking, the one blocking AMI client (the call-back dialer, the bench):
list actions, repeated headers, timeouts, against a scripted AMI server."""

from __future__ import annotations

import pytest

from telephony import ami_blocking
from telephony.ami_blocking import AmiSyncError, parse_message
from tests.telephony.test_callback_dialer import ScriptedAmi, block


def bench_ami(action):
    aid = action["ActionID"]
    if action["Action"] == "Login":
        yield block(Response="Success", ActionID=aid, Message="Authentication accepted")
    elif action["Action"] == "QueueSummary":
        yield block(Response="Success", ActionID=aid, EventList="start", Message="Queue summary will follow")
        yield block(Event="Newchannel", Channel="PJSIP/x")  # not the list's
        yield block(Event="QueueSummary", ActionID=aid, Queue="police", Callers="2")
        yield block(Event="QueueSummary", ActionID=aid, Queue="fire", Callers="0")
        yield block(Event="QueueSummaryComplete", ActionID=aid, EventList="Complete", ListItems="2")
    elif action["Action"] == "QueuePause":
        yield block(Response="Success", ActionID=aid, Message="Interface paused successfully")


def test_a_list_action_returns_its_reply_and_every_event_of_the_list():
    ami = ScriptedAmi(bench_ami)
    session = ami_blocking.connect("127.0.0.1", ami.port, "bench", "pw", events="off", id_prefix="bench")
    try:
        rows = session.action("QueueSummary")
        assert [r.get("Event", r.get("Response")) for r in rows] == [
            "Success", "QueueSummary", "QueueSummary", "QueueSummaryComplete"]
        assert [r["Callers"] for r in rows if r.get("Event") == "QueueSummary"] == ["2", "0"]
        assert session.action("QueuePause", Interface="PJSIP/desk-101", Paused="true")[0]["Response"] == "Success"
    finally:
        session.close()
    assert ("Events", "off") in ami.actions[0]
    assert dict(ami.actions[1])["ActionID"].startswith("bench-")


def test_the_first_of_a_repeated_header_counts():
    assert parse_message(b"Event: X\r\nVariable: a=1\r\nVariable: b=2") == {"Event": "X", "Variable": "a=1"}


def test_no_reply_in_time_raises():
    ami = ScriptedAmi(lambda action: [])
    session = ami_blocking.AmiSession("127.0.0.1", ami.port, timeout=0.3)
    with pytest.raises(AmiSyncError):
        session.login("u", "p")
    with pytest.raises(AmiSyncError):
        session.action("QueueSummary")
    session.close()

"""telephony.ami.AmiLink without Asterisk: panoramisk's send_action answers with the replies
recorded from Asterisk 22, so the AmiError texts the bridge reacts to are the real ones."""

from __future__ import annotations

import asyncio
import logging

import pytest
from panoramisk.message import Message

from telephony.ami import AmiError, AmiLink, AmiNoReply, ChannelGone
from telephony.ami_events import CallerLeft, DeskAnswered, LiveChannel, RingEnded
from tests.replay import ami_error_text, ami_reply, ami_user_events


def _message(reply):
    return [Message(m) for m in reply] if isinstance(reply, list) else Message(reply)


def run_link(replies: dict[str, object], scenario, ready: bool = True):
    """``replies``: action name → recorded reply (or a coroutine function to await)."""

    async def main():
        events, readies = [], []

        async def on_event(event, identity):
            if event.call_id == "c-fails":
                raise RuntimeError("Redis script bug")
            events.append((event, identity))

        async def on_ready():
            readies.append(True)

        link = AmiLink("127.0.0.1", 5038, "hotline", "s3cret", on_event=on_event, on_ready=on_ready)
        sent = []

        async def send_action(fields):
            sent.append(fields)
            reply = replies[fields["Action"]]
            if callable(reply):
                return await reply()
            return _message(reply)

        link.manager.send_action = send_action
        link.manager.protocol = object()
        if ready:
            link.ready.set()
        result = await scenario(link)
        for task in list(link._tasks):
            task.cancel()
        await asyncio.gather(*link._tasks, return_exceptions=True)
        return result, sent, events, readies

    return asyncio.run(main())


def test_redirect_of_a_missing_channel_raises_the_recorded_message():
    async def scenario(link):
        with pytest.raises(ChannelGone) as caught:
            await link.redirect("PJSIP/nonexistent-0001", "hotline-deliver", "desk-101")
        return str(caught.value)

    message, sent, _, _ = run_link({"Redirect": ami_reply("Redirect_missing")}, scenario)
    assert message == "AMI Redirect: Channel does not exist: PJSIP/nonexistent-0001"
    assert message == ami_error_text("Redirect", "Redirect_missing")
    assert sent == [{"Action": "Redirect", "Channel": "PJSIP/nonexistent-0001", "Context": "hotline-deliver",
                     "Exten": "desk-101", "Priority": "1"}]


def test_getvar_of_a_missing_channel_raises_the_recorded_message():
    async def scenario(link):
        with pytest.raises(ChannelGone) as caught:
            await link.getvar("PJSIP/gone-0001", "HOTLINE_STAGE")
        return str(caught.value)

    message, sent, _, _ = run_link({"Getvar": ami_reply("Getvar_missing")}, scenario)
    assert message == "AMI Getvar: No such channel"
    assert sent == [{"Action": "Getvar", "Channel": "PJSIP/gone-0001", "Variable": "HOTLINE_STAGE"}]


def test_other_refusals_are_not_taken_for_a_gone_channel():
    async def scenario(link):
        with pytest.raises(AmiError) as caught:
            await link.redirect("PJSIP/citizens-00000002", "hotline-deliver", "desk-101")
        return caught.value

    error, _, _, _ = run_link({"Redirect": {"Response": "Error", "Message": "Permission denied"}}, scenario)
    assert (str(error), isinstance(error, ChannelGone)) == ("AMI Redirect: Permission denied", False)


def test_getvar_value():
    async def scenario(link):
        return await link.getvar("PJSIP/citizens-00000002", "HOTLINE_STAGE")

    value, _, _, _ = run_link({"Getvar": {"Response": "Success", "Variable": "HOTLINE_STAGE", "Value": "queued"}},
                              scenario)
    assert value == "queued"


def test_heartbeat_is_a_dbput_of_hotline_heartbeat():
    async def scenario(link):
        return await link.put_heartbeat(1795594151)

    result, sent, _, _ = run_link({"DBPut": ami_reply("DBPut")}, scenario)
    assert result is None
    assert sent == [{"Action": "DBPut", "Family": "hotline", "Key": "heartbeat", "Val": "1795594151"}]


@pytest.mark.parametrize(
    ("reply_name", "expected"),
    [
        ("CoreShowChannels", []),
        ("CoreShowChannels_waiting", [
            LiveChannel("PJSIP/citizens-00000002", "hotline-rec-1795594148.2", "0900000002", "hotline-deliver",
                        "desk-101", "Dial", False),
            LiveChannel("PJSIP/desk-101-00000003", "hotline-rec-1795594150.3", "desk101", "hotline-desk",
                        "desk-101", "AppDial", False),
        ]),
    ],
)
def test_channels_from_recorded_core_show_channels(reply_name, expected):
    async def scenario(link):
        return await link.channels()

    channels, sent, _, _ = run_link({"CoreShowChannels": ami_reply(reply_name)}, scenario)
    assert channels == expected
    assert sent == [{"Action": "CoreShowChannels"}]


def test_actions_refused_while_not_connected():
    async def scenario(link):
        with pytest.raises(AmiError, match="^AMI not connected; cannot Redirect$"):
            await link.redirect("PJSIP/x", "hotline-deliver", "desk-101")

    _, sent, _, _ = run_link({}, scenario, ready=False)
    assert sent == []


def test_action_without_reply_times_out(monkeypatch):
    async def never():
        await asyncio.sleep(10)

    async def scenario(link):
        with pytest.raises(AmiNoReply, match=r"^AMI DBPut got no reply within 0 s$"):
            await link.action({"Action": "DBPut"}, timeout=0.05)

    run_link({"DBPut": never}, scenario)


def test_user_events_reach_the_bridge_in_order_and_malformed_ones_are_logged(caplog):
    recorded = ami_user_events()
    ring_end, hangup = (m for m in recorded if m["CallId"] == "hotline-rec3-1795594199.0")

    async def scenario(link):
        link._spawn(link._apply_events())  # as start() does
        link._user_event(link.manager, Message(recorded[0]))
        link._user_event(link.manager, Message(dict(recorded[0], UserEvent="NotOurs")))
        link._user_event(link.manager, Message(dict(recorded[0], CallId="")))
        link._user_event(link.manager, Message(dict(recorded[0], CallId="c-fails")))
        link._user_event(link.manager, Message(ring_end))
        link._user_event(link.manager, Message(hangup))
        for _ in range(20):
            await asyncio.sleep(0.01)

    _, _, events, _ = run_link({}, scenario)
    assert events == [
        (DeskAnswered("hotline-rec-1795594136.0", "desk-101"),
         "hotline-rec|hotline-rec-1795594138.1|1795594139.048958|HotlineAnswered"),
        (RingEnded("hotline-rec3-1795594199.0", "desk-201", "NOANSWER"),
         "hotline-rec3|hotline-rec3-1795594199.0|1795594206.347228|HotlineRingEnd"),
        (CallerLeft("hotline-rec3-1795594199.0", "ringing", "CANCEL"),
         "hotline-rec3|hotline-rec3-1795594199.0|1795594210.206423|HotlineHangup"),
    ]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [e.name for e in errors] == ["hotline.ami", "hotline.ami"]
    assert "ignored a malformed hotline event: HotlineAnswered without CallId" in errors[0].getMessage()
    assert errors[1].getMessage().startswith("applying DeskAnswered(call_id='c-fails'")
    assert "Redis script bug" in str(errors[1].exc_info[1])


def test_login_sets_ready_and_reconciles_and_a_disconnect_clears_ready():
    async def scenario(link):
        link._logged_in(link.manager)
        after_login = link.ready.is_set()
        await asyncio.gather(*link._tasks)
        link._disconnected(link.manager, ConnectionResetError("peer gone"))
        return after_login, link.ready.is_set()

    (after_login, after_disconnect), _, _, readies = run_link({}, scenario, ready=False)
    assert (after_login, after_disconnect) == (True, False)
    assert readies == [True]


"""telephony.call_control's spy commands: table tests of the pure plan (what is sent for a start,
a switch, a stop), the exact desk leg (``desk-1`` never catches ``desk-10``), the watcher's reading
of the supervisor's leg, and the consumer on the test Redis with the real Lua scripts: nothing is
ever sent to the caller's or the desk's channel but the one Getvar that finds the desk's leg."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from queueing import Routing
from queueing.routing import AsyncRouting, wall_clock_ms
from telephony.ami import AmiError, refused
from telephony.call_control import (
    SPY_STAGE,
    Action,
    CallControl,
    Command,
    SpyPlan,
    hangup,
    is_desk_leg,
    originate_spy,
    parse_command,
    spy_options,
    spy_plan,
    spy_watch_step,
)
from telephony.hangups import Hangups

CHAN = "PJSIP/citizens-00000002"
LEG = "PJSIP/p-1-0000002a"
SPY_ID = "spy-p-1-1700000006000"
CALL = {"call_id": "c-1", "state": "on_call", "desk": "p-1", "channel": CHAN, "held": "0"}
SPY = {"spy_id": SPY_ID, "desk_id": "p-1", "call_id": "c-1", "supervisor_desk": "sup-1", "mode": "listen"}
START = Command("1-0", Action.SPY_START, "c-1", CHAN, "p-1", supervisor_desk="sup-1", mode="listen", spy_id=SPY_ID)


def _dtmf(digit: str) -> dict[str, str]:
    return {"Action": "PlayDTMF", "Channel": SPY_ID, "Digit": digit, "Duration": "100", "Receive": "true"}


def _options(options: str) -> dict[str, str]:
    return {"Action": "Setvar", "Channel": SPY_ID, "Variable": "HOTLINE_SPY_OPTIONS", "Value": options}


@pytest.mark.parametrize(("desk", "channel", "mine"), [
    ("desk-1", "PJSIP/desk-1-0000002a", True),
    ("desk-1", "PJSIP/desk-10-0000002a", False),   # a prefix would catch it: never
    ("desk-10", "PJSIP/desk-1-0000002a", False),
    ("desk-101", "PJSIP/desk-101-000000ff", True),
    ("desk-1", "PJSIP/desk-1", False),             # not a channel: the endpoint
    ("desk-1", "PJSIP/desk-1-0000002a;2", False),  # a Local-style suffix: not the phone's own leg
    ("desk-1", "SIP/desk-1-0000002a", False),
    ("desk-1", "", False),
])
def test_the_desk_leg_is_the_desks_own_channel_exactly(desk, channel, mine):
    assert is_desk_leg(desk, channel) is mine


def test_chanspy_gets_the_full_channel_name_with_u_and_the_mode_switch_option_d():
    sent = originate_spy(SPY_ID, "sup-1", "desk-1", "PJSIP/desk-1-0000002a", "whisper")
    assert sent["Channel"] == "PJSIP/sup-1" and sent["ChannelId"] == SPY_ID and sent["Async"] == "true"
    assert (sent["Context"], sent["Exten"], sent["Priority"]) == ("hotline-spy", "s", "1")
    variables = dict(v.split("=", 1) for v in sent["Variable"].split(","))
    assert variables == {"HOTLINE_SPY_DESK": "desk-1", "HOTLINE_SPY_CHANNEL": "PJSIP/desk-1-0000002a",
                         "HOTLINE_SPY_OPTIONS": "qEudw"}
    assert {m: spy_options(m) for m in ("listen", "whisper", "barge")} == \
        {"listen": "qEud", "whisper": "qEudw", "barge": "qEudB"}
    assert all(set("qEud") <= set(spy_options(m)) for m in ("listen", "whisper", "barge"))


@pytest.mark.parametrize(("name", "command", "call", "spy", "leg", "expected"), [
    ("start: ring the supervisor", START, CALL, SPY, LEG,
     SpyPlan((originate_spy(SPY_ID, "sup-1", "p-1", LEG, "listen"),), watch=True)),
    ("start in the newest mode", START, CALL, {**SPY, "mode": "barge"}, LEG,
     SpyPlan((originate_spy(SPY_ID, "sup-1", "p-1", LEG, "barge"),), watch=True)),
    ("start: the peer is another desk's leg", START, CALL, SPY, "PJSIP/p-10-0000002a",
     SpyPlan(ended="call c-1: the caller is not talking to desk p-1's phone (peer PJSIP/p-10-0000002a)")),
    ("start: no peer", START, CALL, SPY, "",
     SpyPlan(ended="call c-1: the caller is not talking to desk p-1's phone (peer none)")),
    ("start: the call ended meanwhile", START, {**CALL, "state": "ended"}, SPY, "",
     SpyPlan(ended="call c-1: ended at p-1, not on a call at desk p-1")),
    ("start: held meanwhile", START, {**CALL, "held": "1"}, SPY, "",
     SpyPlan(ended="call c-1 is on hold")),
    ("start: the session was stopped meanwhile", START, CALL, {}, LEG,
     SpyPlan(skip=f"the spy session {SPY_ID} on desk p-1 ended meanwhile")),
    ("start: another session now", START, CALL, {**SPY, "spy_id": "spy-p-1-2"}, LEG,
     SpyPlan(skip=f"the spy session {SPY_ID} on desk p-1 ended meanwhile")),
    ("switch to whisper", Command("2-0", Action.SPY_MODE, "c-1", CHAN, "p-1", mode="whisper", spy_id=SPY_ID),
     CALL, {**SPY, "mode": "whisper"}, "", SpyPlan((_options("qEudw"), _dtmf("5")))),
    ("switch to barge", Command("2-0", Action.SPY_MODE, "c-1", CHAN, "p-1", mode="barge", spy_id=SPY_ID),
     CALL, {**SPY, "mode": "barge"}, "", SpyPlan((_options("qEudB"), _dtmf("6")))),
    ("switch: a later switch won", Command("2-0", Action.SPY_MODE, "c-1", CHAN, "p-1", mode="whisper", spy_id=SPY_ID),
     CALL, {**SPY, "mode": "listen"}, "", SpyPlan((_options("qEud"), _dtmf("4")))),
    ("switch: no session", Command("2-0", Action.SPY_MODE, "c-1", CHAN, "p-1", mode="barge", spy_id=SPY_ID),
     CALL, {}, "", SpyPlan(skip=f"the spy session {SPY_ID} on desk p-1 ended meanwhile")),
    ("stop: hang up the supervisor's leg only", Command("3-0", Action.SPY_STOP, "c-1", CHAN, "p-1", spy_id=SPY_ID),
     CALL, {}, "", SpyPlan((hangup(SPY_ID),))),
    ("no session named", Command("3-0", Action.SPY_STOP, "c-1", CHAN, "p-1"), CALL, {}, "",
     SpyPlan(skip="spy command 3-0 names no session")),
])
def test_spy_plan(name, command, call, spy, leg, expected):
    todo = spy_plan(command, call, spy, leg)
    assert todo == expected
    # the caller's and the desk's channels are never acted on
    assert not any(a.get("Channel") in (CHAN, LEG) for a in todo.actions)


@pytest.mark.parametrize(("seen", "stage", "answered", "step"), [
    (False, None, False, ""),        # not created yet (async Originate)
    (True, "", False, ""),           # ringing
    (True, "spying", False, "answered"),
    (True, "spying", True, ""),
    (True, None, True, "ended"),     # hung up, or the desk's leg ended (E)
    (True, None, False, "ended"),    # rang, never answered
])
def test_the_watcher_reads_the_supervisors_leg(seen, stage, answered, step):
    assert spy_watch_step(seen, stage, answered) == step


def test_a_spy_entry_as_written_by_spy_start_is_parsed():
    fields = {"action": "spy_start", "call_id": "c-1", "channel": CHAN, "desk_id": "p-1", "ms": "5",
              "supervisor_desk": "sup-1", "mode": "listen", "spy_id": SPY_ID}
    assert parse_command("1-0", fields) == Command("1-0", "spy_start", "c-1", CHAN, "p-1", 5,
                                                    supervisor_desk="sup-1", mode="listen", spy_id=SPY_ID)


# --- the consumer on the test Redis ------------------------------------------------------------


class SpyAmi:
    """Getvar answers: the caller's BRIDGEPEER is the desk's leg; the supervisor's leg goes
    through ``stages`` (None: no such channel), one per look."""

    def __init__(self, stages: list[str | None], originate: Exception | None = None):
        self.ready = asyncio.Event()
        self.ready.set()
        self.sent: list[dict[str, str]] = []
        self.stages = stages
        self.originate = originate

    async def action(self, fields, timeout=5.0):
        self.sent.append(fields)
        if fields["Action"] == "Originate" and self.originate is not None:
            raise self.originate
        if fields["Action"] == "Getvar" and fields["Channel"] == CHAN:
            return {"Response": "Success", "Value": LEG}
        if fields["Action"] == "Getvar" and fields["Variable"] == SPY_STAGE:
            stage = self.stages.pop(0) if len(self.stages) > 1 else self.stages[0]
            if stage is None:
                raise refused("Getvar", "No such channel")
            return {"Response": "Success", "Value": stage}
        return {"Response": "Success"}


@pytest.fixture
def routing(redis_client):
    r = Routing(redis_client)
    t0 = wall_clock_ms() - 60_000
    for desk in ("p-1", "sup-1"):
        r.register_desk(desk, "police", now_ms=t0)
    r.arrive("c-1", "+15550100", CHAN, now_ms=t0)
    r.enqueue("c-1", "police", 1, now_ms=t0 + 5_000)
    r.set_desk_state("p-1", "ready", now_ms=t0)
    r.claim_next(["police"], 20_000, now_ms=t0 + 6_000)
    r.offer_answered("c-1", "p-1", now_ms=t0 + 8_000)
    return r


def run_bridge(redis_url, ami):
    """The consumer reads the stream once, then waits for its spy watchers."""
    async def main():
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        bridge = CallControl(client, AsyncRouting(client), ami, Hangups(client, AsyncRouting(client), 1000), 1000, "b-0")
        try:
            await bridge.ensure_group()
            await bridge.read(">")
            if bridge.watchers:
                await asyncio.wait_for(asyncio.gather(*bridge.watchers), 10)
        finally:
            await client.aclose()
    asyncio.run(main())


def test_a_session_rung_answered_and_hung_up_ends_itself(routing, redis_url, monkeypatch):
    monkeypatch.setattr("telephony.call_control.SPY_WATCH_S", 0.01)
    spy_id = routing.spy_start("p-1", "sup-1", "listen", by="hoa")["spy_id"]
    ami = SpyAmi(["", "", "spying", "spying", None])
    run_bridge(redis_url, ami)
    originate = next(a for a in ami.sent if a["Action"] == "Originate")
    assert originate["ChannelId"] == spy_id and f"HOTLINE_SPY_CHANNEL={LEG}" in originate["Variable"]
    types = [e["type"] for e in routing.events(50) if e["type"].startswith("spy_")]
    assert types == ["spy_started", "spy_answered", "spy_stopped"]
    assert routing.events(50)[-1]["reason"] == "the supervisor's leg ended"
    assert routing.spy("p-1") == {}
    # only the one Getvar touched the caller's channel; nothing touched the desk's leg
    assert [a for a in ami.sent if a.get("Channel") in (CHAN, LEG)] == [
        {"Action": "Getvar", "Channel": CHAN, "Variable": "BRIDGEPEER"}]
    assert routing.call("c-1")["state"] == "on_call"


def test_a_supervisor_phone_that_cannot_be_rung_ends_the_session_and_leaves_the_call(routing, redis_url):
    routing.spy_start("p-1", "sup-1", "barge", by="hoa")
    run_bridge(redis_url, SpyAmi([None], originate=AmiError("AMI Originate: Originate failed")))
    assert routing.spy("p-1") == {}
    last = routing.events(5)[-1]
    assert last["type"] == "spy_stopped" and "could not be rung" in last["reason"]
    assert (routing.call("c-1")["state"], routing.desk("p-1")["state"]) == ("on_call", "on_call")


def test_a_bridge_that_starts_watches_the_open_sessions_again(routing, redis_url, monkeypatch):
    """Its watcher died with the bridge that rang the phone: the next bridge to start ends the
    session when the supervisor's leg ends."""
    monkeypatch.setattr("telephony.call_control.SPY_WATCH_S", 0.01)
    spy_id = routing.spy_start("p-1", "sup-1", "listen", by="hoa")["spy_id"]
    routing.spy_step("p-1", spy_id, "answered")
    ami = SpyAmi(["spying", "spying", None])

    async def main():
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        bridge = CallControl(client, AsyncRouting(client), ami, Hangups(client, AsyncRouting(client), 1000), 1000, "b-1")
        try:
            await bridge.watch_open_spies()
            await bridge.watch_open_spies()  # once per session, however often asked
            assert len(bridge.watchers) == 1
            await asyncio.wait_for(asyncio.gather(*bridge.watchers), 10)
        finally:
            await client.aclose()

    asyncio.run(main())
    assert routing.spy("p-1") == {} and routing.spies() == []
    stopped = [e for e in routing.events(20) if e["type"] == "spy_stopped"]
    assert stopped[-1]["reason"] == "the supervisor's leg ended"
    assert [e["type"] for e in routing.events(20)].count("spy_answered") == 1  # not told twice

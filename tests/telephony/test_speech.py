"""The speech detector (telephony/speech.py) and the talking events it is fed from AMI."""

from __future__ import annotations

import asyncio
import json

import pytest
import redis.asyncio as aioredis

from queueing import AsyncRouting
from telephony.ami import ChannelGone
from telephony.ami_events import TalkingStarted, TalkingStopped, parse_talking
from telephony.speech import CheckAt, Due, Heard, Quiet, SpeechRule, SpeechWatch, Spoke, Talk, detect

RULE = SpeechRule(to_human_ms=1500, silence_ms=500)  # decides 2000 ms after the talk began
TALKING = Talk(since_ms=1000, keys_at_start=1)


@pytest.mark.parametrize(
    ("talk", "event", "after", "decision"),
    [
        # a talk begins: look again once it has lasted long enough, Stop or not
        (Talk(), Heard(1000, 1), TALKING, CheckAt(3000)),
        (TALKING, Heard(1200, 1), TALKING, None),                      # a repeated start changes nothing
        # the timer: still talking, no key → a person; the speech is what came before the silence
        (TALKING, Due(3000, 1), Talk(1000, 1, spoke=True), Spoke(1500)),
        (TALKING, Due(3400, 1), Talk(1000, 1, spoke=True), Spoke(1900)),  # a late timer
        (TALKING, Due(2500, 1), TALKING, CheckAt(3000)),                # an early one waits on
        (TALKING, Due(3000, 2), Talk(), None),                          # a key while talking: the IVR's
        (Talk(), Due(3000, 1), Talk(), None),                           # the talk ended before its timer
        # the Stop: a short sound is forgotten; a long talk whose timer has not fired yet decides
        (TALKING, Quiet(1900, 400, 1), Talk(), None),                   # a cough
        (TALKING, Quiet(2900, 1499, 1), Talk(), None),                  # just short of it
        (TALKING, Quiet(3000, 1500, 1), Talk(1000, 1, spoke=True), Spoke(1500)),
        (TALKING, Quiet(3000, 1800, 3), Talk(), None),                  # keys pressed while talking
        (Talk(), Quiet(3000, 1800, 1), Talk(), None),                   # a Stop without its Start
        # decided once: nothing more for this call
        (Talk(1000, 1, spoke=True), Due(5000, 1), Talk(1000, 1, spoke=True), None),
        (Talk(1000, 1, spoke=True), Heard(6000, 1), Talk(1000, 1, spoke=True), None),
        (Talk(1000, 1, spoke=True), Quiet(6000, 4000, 1), Talk(1000, 1, spoke=True), None),
        # keys pressed before the talk do not count against it
        (Talk(), Heard(1000, 4), Talk(1000, 4), CheckAt(3000)),
    ],
)
def test_the_detector(talk, event, after, decision):
    assert detect(RULE, talk, event) == (after, decision)


def test_talk_after_a_short_sound_is_timed_from_its_own_start():
    talk, _ = detect(RULE, Talk(), Heard(0, 0))
    talk, _ = detect(RULE, talk, Quiet(900, 400, 0))          # a cough: forgotten
    talk, check = detect(RULE, talk, Heard(1000, 0))          # then speech
    assert check == CheckAt(3000)
    assert detect(RULE, talk, Due(2000, 0)) == (talk, CheckAt(3000))  # the cough's timer, firing late
    assert detect(RULE, talk, Due(3000, 0))[1] == Spoke(1500)


def test_no_silence_threshold_is_the_bare_threshold():
    rule = SpeechRule(to_human_ms=1500, silence_ms=0)
    assert rule.decide_after_ms == 1500
    talk, check = detect(rule, Talk(), Heard(0, 0))
    assert check == CheckAt(1500) and detect(rule, talk, Due(1500, 0))[1] == Spoke(1500)


CHANNEL = "PJSIP/citizens-00000007"


@pytest.mark.parametrize(
    ("message", "event"),
    [
        ({"Event": "ChannelTalkingStart", "Channel": CHANNEL, "Uniqueid": "1733.7"}, TalkingStarted("1733.7", CHANNEL)),
        ({"Event": "ChannelTalkingStop", "Channel": CHANNEL, "Uniqueid": "1733.7", "Duration": "2140"},
         TalkingStopped("1733.7", CHANNEL, 2140)),
        ({"event": "ChannelTalkingStop", "channel": CHANNEL, "uniqueid": "1733.7", "duration": "x"},
         TalkingStopped("1733.7", CHANNEL, 0)),  # unreadable: too short to route anyone
        ({"Event": "ChannelTalkingStart", "Channel": CHANNEL}, None),     # no call id
        ({"Event": "ChannelTalkingStart", "Uniqueid": "1733.7"}, None),   # no channel to ask
        ({"Event": "Newexten", "Channel": CHANNEL, "Uniqueid": "1733.7"}, None),
    ],
)
def test_talking_events(message, event):
    assert parse_talking(message) == event


# --- SpeechWatch: the detector fed from AMI, with a timer, queueing with call_spoke -------------

class KeyLog:
    """The part of the AMI link SpeechWatch uses: Getvar of HOTLINE_KEYS on a caller's channel."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}
        self.gone: set[str] = set()

    async def getvar(self, channel: str, variable: str) -> str:
        assert variable == "HOTLINE_KEYS"
        if channel in self.gone:
            raise ChannelGone(f"AMI Getvar: No such channel: {channel}")
        return self.keys.get(channel, "")


FAST = SpeechRule(to_human_ms=150, silence_ms=50)


async def watch_calls(redis_url, script):
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    routing = AsyncRouting(client)
    ami = KeyLog()
    watch = SpeechWatch(FAST, routing, ami, general_priority=0)  # type: ignore[arg-type]
    try:
        await routing.arrive("c-1", "0900000001", CHANNEL)
        await script(watch, ami, routing)
        return await routing.call("c-1"), watch
    finally:
        watch.close()
        await client.aclose()


def test_a_caller_still_talking_when_the_timer_fires_goes_to_a_person(redis_url, redis_client):
    async def script(watch, ami, routing):
        watch.on_talk(TalkingStarted("c-1", CHANNEL))  # and no Stop: a caller shouting on and on
        for _ in range(100):
            if (await routing.call("c-1"))["state"] != "ivr":
                return
            await asyncio.sleep(0.02)

    call, watch = asyncio.run(watch_calls(redis_url, script))
    assert (call["state"], call["queue"], call["route_reason"]) == ("queued", "general", "spoke")
    assert json.loads(call["ivr_path"])[0]["speech_ms"] >= FAST.to_human_ms
    assert watch.talks == {}  # decided: forgotten


@pytest.mark.parametrize(
    "what", ["short sound", "key while talking", "caller gone"],
)
def test_no_person_for_a_short_sound_a_key_or_a_caller_gone(redis_url, redis_client, what):
    async def script(watch, ami, routing):
        watch.on_talk(TalkingStarted("c-1", CHANNEL))
        await asyncio.sleep(0.05)
        if what == "short sound":
            watch.on_talk(TalkingStopped("c-1", CHANNEL, 60))
        elif what == "key while talking":
            ami.keys[CHANNEL] = "7"
        else:
            ami.gone.add(CHANNEL)
        await asyncio.sleep((FAST.decide_after_ms + 300) / 1000)

    call, watch = asyncio.run(watch_calls(redis_url, script))
    assert (call["state"], call["route_reason"]) == ("ivr", "")
    assert watch.talks == {}

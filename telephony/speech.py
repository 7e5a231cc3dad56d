"""A caller who speaks in the menu instead of pressing a key reaches a person (issue 11).

Asterisk's TALK_DETECT, on while the caller is in the menu ([hotline-inbound] until
[hotline-wait]), reports ChannelTalkingStart / ChannelTalkingStop over AMI
(telephony/ami_events.py). TALK_DETECT sends the Stop only once its silence threshold of
quiet has passed, so a talk that began at t and has no Stop at t + to_human + silence lasted
at least to_human: the detector decides then, on a timer, without waiting for the Stop (which
a shouting caller may never give). A key pressed while the caller talked (Asterisk's key
log, HOTLINE_KEYS, grew) leaves that talk to the IVR.

:func:`detect` is the pure decision (tests/telephony/test_speech.py); :class:`SpeechWatch`
feeds it from AMI and a timer per call, and queues the caller with ``call_spoke``, which acts
once and only while the call is still in the menu, whichever bridge asks first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from redis.exceptions import RedisError
from structlog.contextvars import bound_contextvars

from queueing.routing import AsyncRouting
from telephony.ami import AmiError, AmiLink, ChannelGone
from telephony.ami_events import TalkEvent, TalkingStarted
from telephony.ivr_call import KEY_LOG_VARIABLE

log = logging.getLogger("hotline.speech")


@dataclass(frozen=True)
class SpeechRule:
    """``to_human_ms``: [ivr] speech_to_human_s; ``silence_ms``: TALK_DETECT's silence threshold
    ([ivr] speech_silence_ms), how long after the talk ends its Stop comes."""

    to_human_ms: int
    silence_ms: int

    @property
    def decide_after_ms(self) -> int:
        return self.to_human_ms + self.silence_ms


@dataclass(frozen=True)
class Talk:
    """One caller's talk as the detector knows it. ``keys_at_start``: the key log's length when
    the talk began."""

    since_ms: int | None = None
    keys_at_start: int = 0
    spoke: bool = False


# What the detector is told; ``keys``: the length of the caller's key log at that moment.
@dataclass(frozen=True)
class Heard:
    """TALK_DETECT's ChannelTalkingStart."""

    at_ms: int
    keys: int


@dataclass(frozen=True)
class Quiet:
    """TALK_DETECT's ChannelTalkingStop."""

    at_ms: int
    duration_ms: int
    keys: int


@dataclass(frozen=True)
class Due:
    """The timer a :class:`CheckAt` asked for."""

    at_ms: int
    keys: int


TalkInput = Heard | Quiet | Due


@dataclass(frozen=True)
class CheckAt:
    """Look again at ``at_ms`` (a :class:`Due`)."""

    at_ms: int


@dataclass(frozen=True)
class Spoke:
    """The caller spoke long enough without a key: queue them for a person."""

    speech_ms: int


Decision = CheckAt | Spoke


def detect(rule: SpeechRule, talk: Talk, event: TalkInput) -> tuple[Talk, Decision | None]:
    if talk.spoke:
        return talk, None
    if isinstance(event, Heard):
        if talk.since_ms is not None:  # already talking
            return talk, None
        return Talk(event.at_ms, event.keys), CheckAt(event.at_ms + rule.decide_after_ms)
    if talk.since_ms is None:
        return talk, None
    if event.keys > talk.keys_at_start:  # a key while talking: the IVR acts on it
        return Talk(), None
    if isinstance(event, Quiet):
        if event.duration_ms >= rule.to_human_ms:
            return Talk(talk.since_ms, talk.keys_at_start, spoke=True), Spoke(event.duration_ms)
        return Talk(), None
    talked_ms = event.at_ms - talk.since_ms
    if talked_ms >= rule.decide_after_ms:
        return Talk(talk.since_ms, talk.keys_at_start, spoke=True), Spoke(talked_ms - rule.silence_ms)
    return talk, CheckAt(talk.since_ms + rule.decide_after_ms)


class SpeechWatch:
    """Per caller in the menu: its talk, and the timer that decides. Fed by the AMI link
    (:meth:`on_talk`); forgets a caller once decided, quiet again, or gone."""

    def __init__(self, rule: SpeechRule, routing: AsyncRouting, ami: AmiLink, general_priority: int,
                 clock: Callable[[], float] | None = None):
        self.rule = rule
        self.routing = routing
        self.ami = ami
        self.general_priority = general_priority
        self._clock = clock
        self.talks: dict[str, Talk] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def now_ms(self) -> int:
        return round((self._clock or asyncio.get_running_loop().time)() * 1000)

    def on_talk(self, event: TalkEvent) -> None:
        """From the AMI link's event callback: applied in a task (it asks Asterisk the key log)."""
        at_ms = self.now_ms()
        if isinstance(event, TalkingStarted):
            self._spawn(event.call_id, event.channel, lambda keys: Heard(at_ms, keys))
        else:
            self._spawn(event.call_id, event.channel, lambda keys: Quiet(at_ms, event.duration_ms, keys))

    def _spawn(self, call_id: str, channel: str, event: Callable[[int], TalkInput]) -> None:
        task = asyncio.ensure_future(self.apply(call_id, channel, event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def apply(self, call_id: str, channel: str, event: Callable[[int], TalkInput]) -> None:
        # One call's events in the order they came: each waits for the key log's answer.
        lock = self._locks.setdefault(call_id, asyncio.Lock())
        async with lock:
            with bound_contextvars(call_id=call_id):
                talk = self.talks.get(call_id, Talk())
                try:
                    keys = len(await self.ami.getvar(channel, KEY_LOG_VARIABLE))
                except ChannelGone:
                    self._forget(call_id)
                    return
                except AmiError as exc:
                    # No word on the keys: count the talk as keyless, a person is the safe side.
                    log.warning("could not read the key log of %s (%s)", channel, exc)
                    keys = talk.keys_at_start
                talk, decision = detect(self.rule, talk, event(keys))
                self.talks[call_id] = talk
                if isinstance(decision, CheckAt):
                    self._set_timer(call_id, channel, decision.at_ms)
                elif isinstance(decision, Spoke):
                    self._forget(call_id)
                    await self._to_person(call_id, decision.speech_ms)
                elif talk.since_ms is None:
                    self._forget(call_id)

    def _set_timer(self, call_id: str, channel: str, at_ms: int) -> None:
        if timer := self._timers.pop(call_id, None):
            timer.cancel()
        loop = asyncio.get_running_loop()
        delay_s = max(0.0, (at_ms - self.now_ms()) / 1000)
        self._timers[call_id] = loop.call_later(
            delay_s, lambda: self._spawn(call_id, channel, lambda keys: Due(self.now_ms(), keys)))

    def _forget(self, call_id: str) -> None:
        self.talks.pop(call_id, None)
        self._locks.pop(call_id, None)
        if timer := self._timers.pop(call_id, None):
            timer.cancel()

    async def _to_person(self, call_id: str, speech_ms: int) -> None:
        try:
            queued = await self.routing.spoke(call_id, self.general_priority, speech_ms)
        except RedisError as exc:
            # The menu goes on; its no-input path still ends at a person.
            log.error("Redis unreachable when queueing %s, who spoke (%s)", call_id, exc)
            return
        if queued is not None:
            log.info("call %s spoke %d ms without a key → general queue (position %d)", call_id, speech_ms,
                     queued.position)

    def close(self) -> None:
        for call_id in list(self.talks):
            self._forget(call_id)
        for task in list(self._tasks):
            task.cancel()

"""The bridge process: FastAGI (the IVR), AMI (delivery and events), and the dispatcher.

Any number of bridges may share one Redis: every decision is one Lua script there, so two
bridges can never offer the same caller or book the same desk twice.

This module wires the parts together (telephony.dispatcher, telephony.dialplan_events,
telephony.reconcile, telephony.call_control) and keeps the two jobs that are the bridge's own:
the heartbeat the dialplan's watchdog reads, and the wake-up channel.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from config.settings import CitySettings, RuntimeSettings
from queueing.redis_connect import async_redis_client
from queueing.results import Claim
from queueing.routing import AsyncRouting
from telephony.agi_server import FastAgiServer
from telephony.ami import AmiError, AmiLink
from telephony.ami_events import DialplanEvent
from telephony.announce import WaitAnnouncement
from telephony.call_control import CallControl, consumer_name
from telephony.desk_codes import DeskFeatureCode
from telephony.dialplan_events import DialplanEvents
from telephony.dispatcher import Delivery, Dispatcher
from telephony.drift import Drift
from telephony.hangups import Hangups
from telephony.ivr_call import IvrCall
from telephony.reconcile import Reconciler
from telephony.recorder import Recorder
from telephony.resource_watch import ResourceWatch
from telephony.speech import SpeechRule, SpeechWatch

log = logging.getLogger("hotline.bridge")

HEARTBEAT_EVERY_S = 1.0


class Bridge:
    def __init__(self, city: CitySettings, runtime: RuntimeSettings, redis_client: aioredis.Redis | None = None,
                 reconcile_on_login: bool = True, ami: AmiLink | None = None):
        """``ami``: a link to use instead of the one made from ``runtime`` (tests)."""
        self.city = city
        self.runtime = runtime
        self.redis = redis_client or async_redis_client(
            runtime.redis_url, decode_responses=True, socket_timeout=2, socket_connect_timeout=2)
        self.routing = AsyncRouting(self.redis)
        self.agencies = [a.id for a in city.agencies]
        q = city.queueing
        self.ring_timeout_ms = q.ring_timeout_s * 1000
        missed_limit = q.missed_calls_before_pause
        self.wake = asyncio.Event()
        self.agi = FastAgiServer({
            "ivr": IvrCall(city, self.routing),
            "desk": DeskFeatureCode(self.routing, {d.id for d in city.desks}),
            "announce": WaitAnnouncement(city, self.routing),
        })
        self.hangups = Hangups(self.redis, self.routing, q.wrap_up_s * 1000)
        self.events = DialplanEvents(self.redis, self.routing, self.hangups, self.wake, missed_limit=missed_limit)
        self.ami = ami or AmiLink(runtime.ami_host, runtime.ami_port, runtime.ami_user, runtime.require_ami_secret(),
                                  on_event=self.events.on_event,
                                  on_ready=self.reconcile if reconcile_on_login else self._nothing_on_login,
                                  listen=reconcile_on_login)
        self.events.recorder = Recorder(self.ami, self.routing, city.recording.dir)
        # A caller who speaks in the menu without a key goes to a person ([ivr] speech_to_human_s; 0: off).
        self.speech: SpeechWatch | None = None
        if city.ivr.speech_to_human_s > 0:
            rule = SpeechRule(round(city.ivr.speech_to_human_s * 1000), city.ivr.speech_silence_ms)
            self.speech = SpeechWatch(rule, self.routing, self.ami, city.ivr.general_priority)
            self.ami.on_talk = self.speech.on_talk
        self.dispatcher = Dispatcher(
            self.routing, self.ami, self.hangups, self.wake, agencies=self.agencies, ring_timeout_ms=self.ring_timeout_ms,
            overflow_after_ms={a.id: a.overflow_after_s * 1000 for a in city.agencies}, missed_limit=missed_limit)
        self.reconciler = Reconciler(city, self.routing, self.ami, self.hangups, self.wake, missed_limit=missed_limit)
        # What the API asks of a call (transfer, hang up): one bridge carries out each command.
        self.bridge_id = consumer_name(runtime.agi_port)
        self.call_control = CallControl(self.redis, self.routing, self.ami, self.hangups, q.wrap_up_s * 1000,
                                        self.bridge_id)
        # Asterisk tells a caller refused for lack of RTP ports, channels or files only in its log.
        self.resources = ResourceWatch(self.routing, runtime.asterisk_root / str(runtime.asterisk_warnings_log).lstrip("/"),
                                       self.bridge_id)
        self._tasks: list[asyncio.Task[None]] = []

    # --- what the parts do, under the names the CLI and the tests use ------------------------

    async def dispatch_once(self) -> int:
        return await self.dispatcher.dispatch_once()

    async def deliver(self, claim: Claim) -> Delivery:
        return await self.dispatcher.deliver(claim)

    async def on_dialplan_event(self, event: DialplanEvent, identity: str = "") -> None:
        await self.events.on_event(event, identity)

    async def reconcile(self) -> None:
        await self.reconciler.reconcile()

    async def find_drift(self) -> list[Drift]:
        return await self.reconciler.find_drift()

    async def repair(self, drift: list[Drift]) -> None:
        await self.reconciler.repair(drift)

    # --- life cycle ----------------------------------------------------------------------

    @staticmethod
    async def _nothing_on_login() -> None:
        """For a one-shot look (hotline drift): report, do not repair behind the user's back."""

    async def start(self) -> None:
        await self._register_desks()
        await self.agi.start(self.runtime.agi_host, self.runtime.agi_port)
        await self.ami.start()
        self._tasks = [asyncio.create_task(t) for t in (
            self.dispatcher.run(), self._heartbeat_loop(), self._wake_listener(), self.reconciler.run(),
            self.call_control.run(), self.resources.run())]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.speech is not None:
            self.speech.close()
        await self.agi.close()
        self.ami.close()
        await self.redis.aclose()

    async def run_forever(self) -> None:
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    async def _register_desks(self) -> None:
        while True:
            try:
                for desk in self.city.desks:
                    await self.routing.register_desk(desk.id, desk.agency, cross_trained=desk.cross_trained)
                return
            except RedisError as exc:
                # Asterisk's fallback serves callers meanwhile (no heartbeat from us).
                log.error("Redis unreachable at start (%s); retrying", exc)
                await asyncio.sleep(1)

    # --- liveness: the dialplan's watchdog reads this ------------------------------------

    async def _heartbeat_loop(self) -> None:
        """Every second: the bridge's heartbeat in Redis (for the wallboard: AMI link, event-loop
        lag), then, with AMI up and Redis answering, the AstDB one the dialplan's watchdog reads."""
        loop = asyncio.get_running_loop()
        lag_ms = 0
        while True:
            try:
                ami_up = self.ami.ready.is_set()
                # no Redis, no routing: this raises, and the dialplan falls back
                await self.routing.bridge_heartbeat(self.bridge_id, ami_up, lag_ms,
                                                    script_timings=json.dumps(self.routing.timings.snapshot()))
                if ami_up:
                    await self.ami.put_heartbeat(int(time.time()))
            except (RedisError, AmiError) as exc:
                log.warning("heartbeat withheld: %s", exc)
            planned = loop.time() + HEARTBEAT_EVERY_S
            await asyncio.sleep(HEARTBEAT_EVERY_S)
            # a busy loop wakes late: how late is the lag every callback of this bridge suffers
            lag_ms = max(0, round((loop.time() - planned) * 1000))

    async def _wake_listener(self) -> None:
        """Other processes (the API, another bridge) publish 'wake' when a desk gets ready."""
        while True:
            try:
                pubsub = self.redis.pubsub()
                await pubsub.subscribe(self.routing.keys.wake())
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self.wake.set()
            except RedisError as exc:
                log.warning("wake channel lost (%s); polling meanwhile", exc)
                await asyncio.sleep(1)

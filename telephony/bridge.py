"""The bridge process: FastAGI (the IVR), AMI (delivery and events), and the dispatcher.

Any number of bridges may share one Redis: every decision is one Lua script there, so two
bridges can never offer the same caller or book the same desk twice.
"""

from __future__ import annotations

import asyncio
import logging
import time

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from queueing.redis_connect import async_redis_client
from config.settings import GENERAL_QUEUE, CitySettings, RuntimeSettings
from queueing.errors import RoutingRefused
from queueing.routing import AsyncRouting
from telephony.agi_server import FastAgiServer
from telephony.ami import AmiError, AmiLink
from telephony.ami_events import CallerLeft, DeskAnswered, DeskPhoneIdle, DialplanEvent, RingEnded, WentToFallback
from telephony.announce import WaitAnnouncement
from telephony.desk_codes import DeskFeatureCode
from telephony.drift import OFFER_IN_FLIGHT_MS, Drift, find_drift  # noqa: F401 (OFFER_IN_FLIGHT_MS: part of the bridge's contract)
from telephony.ivr_call import IvrCall

log = logging.getLogger("hotline.bridge")

DISPATCH_TICK_S = 0.5  # wrap-ups end and missed wake-ups are caught at this pace
HEARTBEAT_EVERY_S = 1.0
APPLIED_EVENT_TTL_S = 3600  # long past any retransmission of the same AMI event
REDIS_RETRY_FIRST_S, REDIS_RETRY_MAX_S = 0.2, 2.0
RECONCILE_EVERY_S = 10.0  # also after every AMI login
BUSY_OUTSIDE_REASON = "busy outside hotline"  # offer_failed.lua pauses a desk busy with another call


class Bridge:
    def __init__(self, city: CitySettings, runtime: RuntimeSettings, redis_client: aioredis.Redis | None = None,
                 reconcile_on_login: bool = True):
        self.city = city
        self.runtime = runtime
        self.redis = redis_client or async_redis_client(
            runtime.redis_url, decode_responses=True, socket_timeout=2, socket_connect_timeout=2)
        self.routing = AsyncRouting(self.redis)
        self.agencies = [a.id for a in city.agencies]
        self.overflow_after_ms = {a.id: a.overflow_after_s * 1000 for a in city.agencies}
        q = city.queueing
        self.ring_timeout_ms = q.ring_timeout_s * 1000
        self.wrap_up_ms = q.wrap_up_s * 1000
        self.missed_limit = q.missed_calls_before_pause
        self.wake = asyncio.Event()
        self.agi = FastAgiServer({
            "ivr": IvrCall(city, self.routing),
            "desk": DeskFeatureCode(self.routing, {d.id for d in city.desks}),
            "announce": WaitAnnouncement(city, self.routing),
        })
        self.ami = AmiLink(runtime.ami_host, runtime.ami_port, runtime.ami_user, runtime.require_ami_secret(),
                           on_event=self.on_dialplan_event,
                           on_ready=self.reconcile if reconcile_on_login else self._nothing_on_login,
                           listen=reconcile_on_login)
        self._tasks: list[asyncio.Task] = []

    # --- life cycle ----------------------------------------------------------------------

    @staticmethod
    async def _nothing_on_login() -> None:
        """For a one-shot look (hotline drift): report, do not repair behind the user's back."""

    async def start(self) -> None:
        await self._register_desks()
        await self.agi.start(self.runtime.agi_host, self.runtime.agi_port)
        await self.ami.start()
        self._tasks = [asyncio.create_task(t) for t in (
            self._dispatch_loop(), self._heartbeat_loop(), self._wake_listener(), self._reconcile_loop())]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
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

    # --- dispatch: the best waiting caller to the longest-idle ready desk ----------------

    async def _dispatch_loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self.wake.wait(), DISPATCH_TICK_S)
            except asyncio.TimeoutError:
                pass
            self.wake.clear()
            if not self.ami.ready.is_set():
                continue
            try:
                await self.dispatch_once()
            except RedisError as exc:
                log.error("dispatch paused: Redis unreachable (%s)", exc)
                await asyncio.sleep(DISPATCH_TICK_S)
            except Exception:
                log.exception("dispatch failed; retrying")
                await asyncio.sleep(DISPATCH_TICK_S)

    async def dispatch_once(self) -> int:
        """Ring a desk for every caller a ready desk can take now; returns how many rang."""
        await self.routing.release_wrapups()
        delivered = 0
        while self.ami.ready.is_set():
            claim = await self.routing.claim_next(self.agencies, self.ring_timeout_ms,
                                                  overflow_after_ms=self.overflow_after_ms)
            if claim is None:
                break
            outcome = await self.deliver(claim)
            if outcome == "retry":
                # The same caller and desk would be claimed again at once: wait for the next tick.
                break
            if outcome == "ringing":
                delivered += 1
        return delivered

    async def deliver(self, claim) -> str:
        """Move the caller to its desk: "ringing"; "gone" (the caller left, call closed);
        "retry" (AMI could not move it: the caller is back at its place, the desk ready)."""
        log.info("call %s (%s, queue %s) → desk %s", claim.call_id, claim.caller or "unknown", claim.queue, claim.desk_id)
        try:
            await self.ami.redirect(claim.channel, "hotline-deliver", claim.desk_id)
            return "ringing"
        except AmiError as exc:
            problem = str(exc)
        if "does not exist" in problem or "no such channel" in problem.lower():
            log.info("call %s left before its desk could ring (%s)", claim.call_id, problem)
            await self._after_hangup(await self.routing.hangup(claim.call_id, self.wrap_up_ms))
            return "gone"
        # Not the desk's fault: the caller goes back to its place, the desk stays ready.
        log.error("could not ring desk %s for call %s: %s", claim.desk_id, claim.call_id, problem)
        await self.routing.offer_failed(claim.call_id, claim.desk_id, "BRIDGE_ERROR", self.missed_limit)
        return "retry"

    # --- what the dialplan reports ------------------------------------------------------

    async def on_dialplan_event(self, event: DialplanEvent, identity: str = "") -> None:
        """Apply one event the dialplan raised. Every bridge logged in to this Asterisk gets
        it; the first to claim its identity in Redis applies it, the others skip it.

        While Redis is unreachable the event waits here, and so do the ones after it (they
        arrive through one ordered queue): applied in order once Redis is back, so even a
        call that began and ended during the outage leaves its record."""
        if identity:
            key = self.routing.keys.applied_event(identity)
            first = await self._until_redis_answers(
                lambda: self.redis.set(key, "1", nx=True, ex=APPLIED_EVENT_TTL_S), event)
            if not first:
                return
        try:
            await self._until_redis_answers(lambda: self._apply(event), event)
        except Exception:
            log.exception("could not apply %s", event)
        self.wake.set()

    async def _until_redis_answers(self, operation, event):
        delay = REDIS_RETRY_FIRST_S
        while True:
            try:
                return await operation()
            except RedisError as exc:
                log.error("Redis unreachable (%s); %s waits, retrying in %.1f s", exc, event, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, REDIS_RETRY_MAX_S)

    async def _apply(self, event: DialplanEvent) -> None:
        if isinstance(event, RingEnded):
            log.info("desk %s did not take call %s: %s", event.desk_id, event.call_id, event.status)
            await self.routing.offer_failed(event.call_id, event.desk_id, event.status, self.missed_limit)
        elif isinstance(event, DeskAnswered):
            log.info("desk %s answered call %s", event.desk_id, event.call_id)
            await self.routing.offer_answered(event.call_id, event.desk_id)
        elif isinstance(event, CallerLeft):
            await self._after_hangup(await self.routing.hangup(event.call_id, self.wrap_up_ms))
        elif isinstance(event, WentToFallback):
            log.warning("call %s went to Asterisk's fallback queue (%s)", event.call_id, event.reason)
            if not await self.routing.call(event.call_id):
                await self.routing.arrive(event.call_id, event.caller, event.channel)
            await self.routing.fallback(event.call_id, reason=event.reason)
        elif isinstance(event, DeskPhoneIdle):
            desk = await self.routing.desk(event.desk_id)
            if desk.get("state") == "paused" and desk.get("reason") == BUSY_OUTSIDE_REASON:
                log.info("desk %s is free again after a call outside hotline", event.desk_id)
                await self.routing.set_desk_state(event.desk_id, "ready")

    async def _after_hangup(self, result) -> None:
        """An abandoned caller gets a callback task: enqueue the rq job create_callback
        (queueing/jobs.py). Also when the hang-up was already recorded (result noop, state
        abandoned: the IVR records it first); the job is idempotent and deduplicated. If rq
        cannot be reached nothing is lost: call_hangup already listed the call on
        callbacks:{queue}, and the worker's sweep makes its task later."""
        if result is None or result.state != "abandoned":
            return
        try:
            from queueing.jobs import enqueue_create_callback, sync_client_like

            await asyncio.to_thread(enqueue_create_callback, sync_client_like(self.redis),
                                    result.call_id, self.routing.keys.prefix)
        except Exception as exc:
            log.error("could not enqueue the callback job for abandoned call %s (%s); it stays on "
                      "the callbacks list for the worker's sweep", result.call_id, exc)

    # --- keeping Asterisk and Redis in agreement ------------------------------------------

    async def reconcile(self) -> None:
        """After every AMI (re)login, and every RECONCILE_EVERY_S: events may have been
        missed, so find where Redis and Asterisk disagree and repair it. Callers Asterisk's
        fallback queue holds while this bridge is healthy come back into hotline routing at
        their original place."""
        try:
            drift = await self.find_drift()
            await self.repair(drift)
            freed = await self._free_desks_idle_again()
            if drift or freed:
                log.info("reconciled with Asterisk: %s%s", ", ".join(f"{d.kind} {d.call_id or d.desk_id}" for d in drift),
                         f", {freed} desk(s) free again" if freed else "")
        except (AmiError, RedisError) as exc:
            log.error("reconciliation postponed: %s", exc)
        self.wake.set()

    async def find_drift(self) -> list[Drift]:
        # Redis first: a call that arrives while Asterisk lists its channels is not in
        # that list, and must not be taken for a caller who is gone.
        calls = await self.routing.active_calls()
        desks = [await self.routing.desk(d.id) for d in self.city.desks]
        live = {c.uniqueid: c for c in await self.ami.channels()}
        return find_drift(calls, live, [d for d in desks if d], int(time.time() * 1000))

    async def repair(self, drift: list[Drift]) -> None:
        for d in drift:
            try:
                await self._repair(d)
            except RoutingRefused as exc:  # the state moved on meanwhile: nothing to repair
                log.info("drift %s %s needs no repair now: %s", d.kind, d.call_id or d.desk_id, exc)

    async def _repair(self, d: Drift) -> None:
        if d.kind == "caller_gone":
            await self._after_hangup(await self.routing.hangup(d.call_id, self.wrap_up_ms))
        elif d.kind == "taken_by_fallback":
            if d.state == "ringing":
                await self.routing.offer_failed(d.call_id, d.desk_id, "LOST", self.missed_limit)
            await self.routing.fallback(d.call_id, reason="found-in-fallback")
        elif d.kind == "offer_lost":
            await self.routing.offer_failed(d.call_id, d.desk_id, "LOST", self.missed_limit)
        elif d.kind == "answer_missed":
            await self.routing.offer_answered(d.call_id, d.desk_id)
        elif d.kind == "unrecorded_caller":
            await self.routing.arrive(d.call_id, d.caller, d.channel)
            await self.routing.fallback(d.call_id, reason="found-in-fallback")
        elif d.kind == "can_rejoin":
            position = await self.routing.rejoin(d.call_id, queue=GENERAL_QUEUE,
                                                 priority=self.city.ivr.general_priority)
            try:
                await self.ami.redirect(d.channel, "hotline-wait", "s")
            except AmiError as exc:
                # Still in the fallback queue: the dispatcher's Redirect will take it.
                log.warning("call %s rejoined in Redis but not moved yet: %s", d.call_id, exc)
            log.info("call %s rejoined hotline routing from the fallback queue (position %d)", d.call_id, position)
        elif d.kind == "desk_stuck":
            await self.routing.release_desk(d.desk_id)

    async def _free_desks_idle_again(self) -> int:
        """A desk paused "busy outside hotline" whose phone is idle now: its DeviceStateChange
        may have come while the AMI link was down."""
        freed = 0
        for desk in self.city.desks:
            record = await self.routing.desk(desk.id)
            if record.get("state") != "paused" or record.get("reason") != BUSY_OUTSIDE_REASON:
                continue
            if await self.ami.getvar("", f"DEVICE_STATE(PJSIP/{desk.id})") == "NOT_INUSE":
                await self.routing.set_desk_state(desk.id, "ready")
                freed += 1
        return freed

    async def _reconcile_loop(self) -> None:
        while True:
            await asyncio.sleep(RECONCILE_EVERY_S)
            if self.ami.ready.is_set():
                await self.reconcile()

    # --- liveness: the dialplan's watchdog reads this ------------------------------------

    async def _heartbeat_loop(self) -> None:
        while True:
            try:
                if self.ami.ready.is_set():
                    await self.redis.ping()  # no Redis, no routing: let the dialplan fall back
                    await self.ami.put_heartbeat(int(time.time()))
            except (RedisError, AmiError) as exc:
                log.warning("heartbeat withheld: %s", exc)
            await asyncio.sleep(HEARTBEAT_EVERY_S)

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

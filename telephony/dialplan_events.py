"""Applying what the dialplan reports over AMI (telephony/ami_events.py) to Redis.

Every bridge logged in to the same Asterisk gets every event; the first to claim the
event's identity in Redis applies it, the others skip it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from structlog.contextvars import bound_contextvars

from queueing.routing import AsyncRouting
from queueing.states import DeskState, TransferKind, TransferState
from telephony.ami_events import (
    CallerLeft,
    ConferenceLeft,
    ConsultAnswered,
    ConsultEnded,
    DeskAnswered,
    DeskPhoneIdle,
    DialplanEvent,
    HeldDeskLeft,
    ResumeFailed,
    RingEnded,
    WentToFallback,
)
from telephony.call_control import HELD_STAGE
from telephony.hangups import Hangups
from telephony.recorder import Recorder

log = logging.getLogger("hotline.bridge.events")

T = TypeVar("T")

APPLIED_EVENT_TTL_S = 3600  # long past any retransmission of the same AMI event
REDIS_RETRY_FIRST_S, REDIS_RETRY_MAX_S = 0.2, 2.0
BUSY_OUTSIDE_REASON = "busy outside hotline"  # offer_failed.lua pauses a desk busy with another call


def is_busy_outside(desk: dict[str, str]) -> bool:
    """Paused by offer_failed because its phone was busy with a call outside hotline."""
    return desk.get("state") == DeskState.PAUSED and desk.get("reason") == BUSY_OUTSIDE_REASON


class DialplanEvents:
    def __init__(self, redis: aioredis.Redis, routing: AsyncRouting, hangups: Hangups, wake: asyncio.Event, *,
                 missed_limit: int):
        self.redis = redis
        self.routing = routing
        self.hangups = hangups
        self.wake = wake
        self.missed_limit = missed_limit
        self.recorder: Recorder | None = None  # set by the bridge once its AMI link exists

    async def on_event(self, event: DialplanEvent, identity: str = "") -> None:
        """Apply one event the dialplan raised, unless another bridge claimed it first.

        While Redis is unreachable the event waits here, and so do the ones after it (they
        arrive through one ordered queue): applied in order once Redis is back, so even a
        call that began and ended during the outage leaves its record."""
        context = {"desk_id": event.desk_id} if isinstance(event, DeskPhoneIdle) else {"call_id": event.call_id}
        with bound_contextvars(**context):
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

    async def _until_redis_answers(self, operation: Callable[[], Awaitable[T]], event: DialplanEvent) -> T:
        delay = REDIS_RETRY_FIRST_S
        while True:
            try:
                return await operation()
            except RedisError as exc:
                log.error("Redis unreachable (%s); %s waits, retrying in %.1f s", exc, event, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, REDIS_RETRY_MAX_S)

    async def _consulting(self, call_id: str) -> bool:
        """The call's desk is consulting another (its consultative transfer rings or talks)."""
        transfer = await self.routing.transfer(call_id)
        return transfer.get("kind") == TransferKind.CONSULT and transfer.get("transfer_state") in (
            TransferState.RINGBACK, TransferState.ANSWERED)

    async def _apply(self, event: DialplanEvent) -> None:
        if isinstance(event, RingEnded):
            log.info("desk %s did not take call %s: %s", event.desk_id, event.call_id, event.status)
            await self.routing.offer_failed(event.call_id, event.desk_id, event.status, self.missed_limit)
        elif isinstance(event, DeskAnswered):
            log.info("desk %s answered call %s", event.desk_id, event.call_id)
            await self.routing.offer_answered(event.call_id, event.desk_id)
            if self.recorder is not None:
                await self.recorder.start(event.call_id)
        elif isinstance(event, CallerLeft):
            await self.hangups.record(event.call_id)
            if event.stage == HELD_STAGE and event.desk_leg and await self._consulting(event.call_id):
                # Gone while its desk dials or talks to another: one bridge's CallControl ends that.
                gone: dict[Any, Any] = {"action": "consult_caller_left", "call_id": event.call_id, "desk_id": "",
                                        "channel": "", "leg": event.desk_leg, "ms": str(self.routing.clock()),
                                        "result": ""}
                await self.redis.xadd(self.routing.keys.call_commands(), gone, maxlen=10_000, approximate=True)
        elif isinstance(event, WentToFallback):
            log.warning("call %s went to Asterisk's fallback queue (%s)", event.call_id, event.reason)
            if not await self.routing.call(event.call_id):
                await self.routing.arrive(event.call_id, event.caller, event.channel)
            await self.routing.fallback(event.call_id, reason=event.reason)
        elif isinstance(event, (HeldDeskLeft, ResumeFailed)):
            # Acted on over AMI by one bridge's CallControl (telephony/call_control.py), as a command.
            fields: dict[Any, Any] = {"action": "desk_left", "call_id": event.call_id, "desk_id": event.desk_id, "channel": "",
                      "ms": str(self.routing.clock()), "result": ""}
            if isinstance(event, HeldDeskLeft) and event.peer:
                fields["leg"] = event.peer
            if isinstance(event, ResumeFailed):
                log.warning("call %s: resume at desk %s failed (%s)", event.call_id, event.desk_id, event.result)
                fields.update(action="resume_failed", result=event.result)
            await self.redis.xadd(self.routing.keys.call_commands(), fields, maxlen=10_000, approximate=True)
        elif isinstance(event, (ConsultAnswered, ConsultEnded)):
            # A consultative transfer's target desk: one bridge's CallControl steps the transfer.
            status = event.status if isinstance(event, ConsultEnded) else "ANSWER"
            log.info("call %s: consulted desk %s %s", event.call_id, event.desk_id,
                     "answered" if isinstance(event, ConsultAnswered) else f"ended ({status})")
            command: dict[Any, Any] = {
                "action": "consult_answered" if isinstance(event, ConsultAnswered) else "consult_ended",
                "call_id": event.call_id, "desk_id": "", "target_desk": event.desk_id, "channel": "",
                "ms": str(self.routing.clock()), "result": status}
            await self.redis.xadd(self.routing.keys.call_commands(), command, maxlen=10_000, approximate=True)
        elif isinstance(event, ConferenceLeft):
            # A desk hung up in a three-way conference: one bridge's CallControl steps the transfer.
            log.info("call %s: desk %s left the conference", event.call_id, event.desk_id)
            left: dict[Any, Any] = {"action": "conference_left", "call_id": event.call_id, "desk_id": event.desk_id,
                                    "channel": "", "ms": str(self.routing.clock()), "result": ""}
            await self.redis.xadd(self.routing.keys.call_commands(), left, maxlen=10_000, approximate=True)
        elif isinstance(event, DeskPhoneIdle):
            if is_busy_outside(await self.routing.desk(event.desk_id)):
                log.info("desk %s is free again after a call outside hotline", event.desk_id)
                await self.routing.set_desk_state(event.desk_id, DeskState.READY)

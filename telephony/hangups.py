"""A caller's hang-up, wherever the bridge learns of it (the dialplan's event, a delivery
that found the channel gone, reconciliation): the call is closed in Redis, and an abandoned
caller gets a callback task."""

from __future__ import annotations

import asyncio
import logging

import redis.asyncio as aioredis

from queueing.results import Hangup
from queueing.routing import AsyncRouting
from queueing.states import CallOutcome, CallState

log = logging.getLogger("hotline.bridge.hangups")


class Hangups:
    def __init__(self, redis: aioredis.Redis, routing: AsyncRouting, wrap_up_ms: int):
        self.redis = redis
        self.routing = routing
        self.wrap_up_ms = wrap_up_ms

    async def record(self, call_id: str) -> None:
        """Close the call (abandoned, or ended with its desk to wrap-up); idempotent."""
        await self.after(await self.routing.hangup(call_id, self.wrap_up_ms))

    async def after(self, result: Hangup | None) -> None:
        """An abandoned caller gets a callback task: enqueue the rq job create_callback
        (queueing/jobs.py). Also when the hang-up was already recorded (result noop, state
        abandoned: the IVR records it first); the job is idempotent and deduplicated. If rq
        cannot be reached nothing is lost: call_hangup already listed the call on
        callbacks:{queue}, and the worker's sweep makes its task later."""
        if result is not None and result.state == CallState.ENDED and result.outcome == CallOutcome.ANSWERED:
            await self._enqueue_check(result.call_id)
        if result is None or result.state != CallState.ABANDONED:
            return
        try:
            from queueing.jobs import enqueue_create_callback, sync_client_like

            await asyncio.to_thread(enqueue_create_callback, sync_client_like(self.redis),
                                    result.call_id, self.routing.keys.prefix)
        except Exception as exc:
            log.error("could not enqueue the callback job for abandoned call %s (%s); it stays on "
                      "the callbacks list for the worker's sweep", result.call_id, exc)

    async def _enqueue_check(self, call_id: str) -> None:
        """An answered call's recording is checked once the call is over (queueing/recordings.py).
        rq unreachable: logged; the recording stays "recording" in the record, which says it was never checked."""
        try:
            from queueing.jobs import sync_client_like
            from queueing.recordings import enqueue_check_recording

            await asyncio.to_thread(enqueue_check_recording, sync_client_like(self.redis), call_id,
                                    self.routing.keys.prefix)
        except Exception as exc:
            log.error("could not enqueue the recording check of call %s (%s)", call_id, exc)

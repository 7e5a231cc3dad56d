"""The dispatcher: the best waiting caller to the longest-idle ready desk.

``claim_next`` picks caller and desk in one Lua call (so two bridges never offer the same
caller or book the same desk); delivering is one AMI Redirect of the caller to
``hotline-deliver``, which rings the desk.
"""

from __future__ import annotations

import asyncio
import logging
from enum import StrEnum

from redis.exceptions import RedisError
from structlog.contextvars import bound_contextvars

from queueing.results import Claim
from queueing.routing import AsyncRouting
from telephony.ami import AmiError, AmiLink, AmiNoReply, ChannelGone
from telephony.hangups import Hangups

log = logging.getLogger("hotline.bridge.dispatcher")

DISPATCH_TICK_S = 0.5  # wrap-ups end and missed wake-ups are caught at this pace


class Delivery(StrEnum):
    """What became of one claim."""

    RINGING = "ringing"  # the caller is on its way to the desk
    GONE = "gone"        # the caller had left: the call is closed
    RETRY = "retry"      # AMI could not move it: the caller is back at its place, the desk ready
    # The Redirect got no reply in time: it may still land, so the offer stays open (the ring's
    # end, the answer, or reconciliation settles it). Putting the caller back now could
    # offer it to a second desk while the first one rings.
    UNCONFIRMED = "unconfirmed"


class Dispatcher:
    def __init__(self, routing: AsyncRouting, ami: AmiLink, hangups: Hangups, wake: asyncio.Event, *,
                 agencies: list[str], ring_timeout_ms: int, overflow_after_ms: dict[str, int], missed_limit: int):
        self.routing = routing
        self.ami = ami
        self.hangups = hangups
        self.wake = wake
        self.agencies = agencies
        self.ring_timeout_ms = ring_timeout_ms
        self.overflow_after_ms = overflow_after_ms
        self.missed_limit = missed_limit

    async def run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self.wake.wait(), DISPATCH_TICK_S)
            except TimeoutError:
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
            if outcome in (Delivery.RETRY, Delivery.UNCONFIRMED):
                # The same caller and desk would be claimed again at once, or AMI is slow to
                # answer: wait for the next tick.
                break
            if outcome == Delivery.RINGING:
                delivered += 1
        return delivered

    async def deliver(self, claim: Claim) -> Delivery:
        """Move the claimed caller to its desk."""
        with bound_contextvars(call_id=claim.call_id):
            log.info("call %s (%s, queue %s) → desk %s", claim.call_id, claim.caller or "unknown", claim.queue, claim.desk_id)
            try:
                await self.ami.redirect(claim.channel, "hotline-deliver", claim.desk_id)
                return Delivery.RINGING
            except ChannelGone as exc:
                log.info("call %s left before its desk could ring (%s)", claim.call_id, exc)
                await self.hangups.record(claim.call_id)
                return Delivery.GONE
            except AmiNoReply as exc:
                log.warning("call %s → desk %s not confirmed (%s): the offer stays open until the ring ends "
                            "or reconciliation finds the caller still waiting", claim.call_id, claim.desk_id, exc)
                return Delivery.UNCONFIRMED
            except AmiError as exc:
                # Not the desk's fault: the caller goes back to its place, the desk stays ready.
                log.error("could not ring desk %s for call %s: %s", claim.desk_id, claim.call_id, exc)
                await self.routing.offer_failed(claim.call_id, claim.desk_id, "BRIDGE_ERROR", self.missed_limit)
                return Delivery.RETRY

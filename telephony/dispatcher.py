"""The dispatcher: the best waiting caller to the longest-idle ready desk.

``claim_next`` picks caller and desk in one Lua call (so two bridges never offer the same
caller or book the same desk); delivering is one AMI Redirect of the caller to
``hotline-deliver``, which rings the desk.

In a surge one call claims a batch of pairs and their Redirects go out together: a
Redirect's reply only acknowledges a scheduled goto, so waiting for each in turn would put
every caller behind the one before. The batch starts at one pair each round and doubles
while every Redirect is confirmed, so AMI trouble costs one claim, not a batch of them.
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
DISPATCH_BATCH = 16    # the most pairs claimed in one call (bench/redis_claim.py measures it)


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
                 agencies: list[str], ring_timeout_ms: int, overflow_after_ms: dict[str, int], missed_limit: int,
                 max_batch: int = DISPATCH_BATCH):
        self.routing = routing
        self.ami = ami
        self.hangups = hangups
        self.wake = wake
        self.agencies = agencies
        self.ring_timeout_ms = ring_timeout_ms
        self.overflow_after_ms = overflow_after_ms
        self.missed_limit = missed_limit
        self.max_batch = max_batch

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
        delivered, batch = 0, 1
        while self.ami.ready.is_set():
            claims = await self.routing.claim_batch(self.agencies, self.ring_timeout_ms, batch,
                                                    overflow_after_ms=self.overflow_after_ms)
            if not claims:
                break
            outcomes = await self.deliver_all(claims)
            delivered += outcomes.count(Delivery.RINGING)
            if Delivery.RETRY in outcomes or Delivery.UNCONFIRMED in outcomes:
                # The same caller and desk would be claimed again at once, or AMI is slow to
                # answer: wait for the next tick.
                break
            batch = min(batch * 2, self.max_batch)
        return delivered

    async def deliver_all(self, claims: list[Claim]) -> list[Delivery]:
        """Every claim's Redirect at once; each failure handled as :meth:`deliver` does. All of
        them are settled before an error (Redis down while recording one) is raised."""
        results = await asyncio.gather(*(self.deliver(claim) for claim in claims), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [result for result in results if isinstance(result, Delivery)]

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

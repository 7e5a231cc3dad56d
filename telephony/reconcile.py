"""Keeping Asterisk and Redis in agreement: find the drift (telephony/drift.py) and repair it.

AMI events missed while the link was down are gone, so this runs after every AMI (re)login
and every RECONCILE_EVERY_S. ``hotline drift`` uses the same finding and repair.
"""

from __future__ import annotations

import asyncio
import logging
import time

from redis.exceptions import RedisError
from structlog.contextvars import bound_contextvars

from config.settings import GENERAL_QUEUE, CitySettings
from queueing.errors import RoutingRefused
from queueing.routing import AsyncRouting
from queueing.states import CallState, DeskState
from telephony.ami import AmiError, AmiLink
from telephony.dialplan_events import is_busy_outside
from telephony.drift import Drift, DriftKind, find_drift
from telephony.hangups import Hangups

log = logging.getLogger("hotline.bridge.reconcile")

RECONCILE_EVERY_S = 10.0  # also after every AMI login


class Reconciler:
    def __init__(self, city: CitySettings, routing: AsyncRouting, ami: AmiLink, hangups: Hangups,
                 wake: asyncio.Event, *, missed_limit: int):
        self.city = city
        self.routing = routing
        self.ami = ami
        self.hangups = hangups
        self.wake = wake
        self.missed_limit = missed_limit

    async def run(self) -> None:
        while True:
            await asyncio.sleep(RECONCILE_EVERY_S)
            if self.ami.ready.is_set():
                await self.reconcile()

    async def reconcile(self) -> None:
        """Find where Redis and Asterisk disagree and repair it. Callers Asterisk's fallback
        queue holds while this bridge is healthy come back into hotline routing at their
        original place."""
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
            with bound_contextvars(**({"call_id": d.call_id} if d.call_id else {"desk_id": d.desk_id})):
                try:
                    await self._repair(d)
                except RoutingRefused as exc:  # the state moved on meanwhile: nothing to repair
                    log.info("drift %s %s needs no repair now: %s", d.kind, d.call_id or d.desk_id, exc)

    async def _repair(self, d: Drift) -> None:
        if d.kind == DriftKind.CALLER_GONE:
            await self.hangups.record(d.call_id)
        elif d.kind == DriftKind.TAKEN_BY_FALLBACK:
            if d.state == CallState.RINGING:
                await self.routing.offer_failed(d.call_id, d.desk_id, "LOST", self.missed_limit)
            await self.routing.fallback(d.call_id, reason="found-in-fallback")
        elif d.kind == DriftKind.OFFER_LOST:
            await self.routing.offer_failed(d.call_id, d.desk_id, "LOST", self.missed_limit)
        elif d.kind == DriftKind.ANSWER_MISSED:
            await self.routing.offer_answered(d.call_id, d.desk_id)
        elif d.kind == DriftKind.UNRECORDED_CALLER:
            await self.routing.arrive(d.call_id, d.caller, d.channel)
            await self.routing.fallback(d.call_id, reason="found-in-fallback")
        elif d.kind == DriftKind.CAN_REJOIN:
            position = await self.routing.rejoin(d.call_id, queue=GENERAL_QUEUE,
                                                 priority=self.city.ivr.general_priority)
            try:
                await self.ami.redirect(d.channel, "hotline-wait", "s")
            except AmiError as exc:
                # Still in the fallback queue: the dispatcher's Redirect will take it.
                log.warning("call %s rejoined in Redis but not moved yet: %s", d.call_id, exc)
            log.info("call %s rejoined hotline routing from the fallback queue (position %d)", d.call_id, position)
        elif d.kind == DriftKind.DESK_STUCK:
            await self.routing.release_desk(d.desk_id)

    async def _free_desks_idle_again(self) -> int:
        """A desk paused "busy outside hotline" whose phone is idle now: its DeviceStateChange
        may have come while the AMI link was down."""
        freed = 0
        for desk in self.city.desks:
            if not is_busy_outside(await self.routing.desk(desk.id)):
                continue
            if await self.ami.getvar("", f"DEVICE_STATE(PJSIP/{desk.id})") == "NOT_INUSE":
                await self.routing.set_desk_state(desk.id, DeskState.READY)
                freed += 1
        return freed

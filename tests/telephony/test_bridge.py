"""telephony.bridge.Bridge without Asterisk: the e2e city, the test Redis, and a fake AMI link
whose errors are the messages Asterisk 22 really sends (see test_ami.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time

import pytest
import redis.asyncio as aioredis

from config.settings import RuntimeSettings, load_settings
from hotline.lab.redis_server import start_redis_server
from queueing.audit import audit
from queueing.routing import wall_clock_ms
from queueing.script_timing import parse_snapshot
from telephony.ami import ACTION_DEADLINE_S, AmiError, AmiNoReply, refused
from telephony.ami_events import (
    CallerLeft,
    DeskAnswered,
    LiveChannel,
    RingEnded,
    WentToFallback,
    parse_channel_row,
    parse_user_event,
)
from telephony.bridge import Bridge
from telephony.dispatcher import Delivery
from telephony.drift import OFFER_IN_FLIGHT_MS
from tests.replay import E2E_CITY, ami_error_text, ami_reply, ami_user_events

CITY = load_settings(E2E_CITY)
DELIVER = "hotline-deliver"


class FakeAmi:
    """What Bridge uses of AmiLink; records every call."""

    def __init__(self):
        self.ready = asyncio.Event()
        self.ready.set()
        self.redirects: list[tuple[str, str, str]] = []
        self.gone: set[str] = set()  # channels Asterisk no longer has
        self.redirect_error: str | None = None  # any other failure, for every redirect
        self.live: list[LiveChannel] = []
        self.channels_error: str | None = None
        self.on_channels = None  # called after the snapshot is taken (a race in Asterisk)
        self.heartbeats: list[int] = []

    async def redirect(self, channel: str, context: str, exten: str) -> None:
        self.redirects.append((channel, context, exten))
        if channel in self.gone:
            # AmiLink.action's error for Asterisk's recorded reply (checked in test_ami.py)
            raise ami_failure(ami_error_text("Redirect", "Redirect_missing").replace("PJSIP/nonexistent-0001", channel))
        if self.redirect_error:
            raise ami_failure(self.redirect_error)

    async def channels(self) -> list[LiveChannel]:
        if self.channels_error:
            raise ami_failure(self.channels_error)
        snapshot = list(self.live)
        if self.on_channels:
            await self.on_channels()
        return snapshot

    async def put_heartbeat(self, epoch_s: int) -> None:
        self.heartbeats.append(epoch_s)


def ami_failure(text: str) -> AmiError:
    """The error AmiLink raises with this text: Asterisk's refusals are typed by their
    message (telephony.ami.refused), the link's own failures are plain AmiErrors."""
    action, sep, message = text.partition(": ")
    if " got no reply within " in text:
        return AmiNoReply(text)
    if sep and action.startswith("AMI "):
        return refused(action.removeprefix("AMI "), message)
    return AmiError(text)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(redis_url: str, scenario, *, redis_down: bool = False):
    async def main():
        url = f"redis://127.0.0.1:{closed_port()}/0" if redis_down else redis_url
        client = aioredis.Redis.from_url(url, decode_responses=True, socket_timeout=1, socket_connect_timeout=1)
        bridge = Bridge(CITY, RuntimeSettings(ami_secret="test-secret"), client, ami=FakeAmi())
        try:
            if not redis_down:
                await bridge._register_desks()
            return await asyncio.wait_for(scenario(bridge), 10)
        finally:
            await client.aclose()
    return asyncio.run(main())


@pytest.fixture
def r(redis_client):
    """The test Redis, flushed, for reading what the bridge wrote."""
    return redis_client


def call(r, call_id):
    return r.hgetall(f"hotline:call:{call_id}")


def desk(r, desk_id):
    return r.hgetall(f"hotline:desk:{desk_id}")


async def waiting(bridge, call_id, queue, *, priority=1, caller="0900000001", ago_ms=0):
    channel = f"PJSIP/citizens-{call_id}"
    now = wall_clock_ms() - ago_ms
    await bridge.routing.arrive(call_id, caller, channel, now_ms=now)
    await bridge.routing.enqueue(call_id, queue=queue, priority=priority, now_ms=now + 1)
    return channel


async def ready(bridge, desk_id, ago_ms=0):
    await bridge.routing.set_desk_state(desk_id, "ready", now_ms=wall_clock_ms() - ago_ms)


async def ringing(bridge, call_id, desk_id, queue="police", *, offered_ago_ms=0):
    """A caller in ``queue`` claimed for ``desk_id`` (its only ready desk), ``offered_ago_ms`` ago."""
    await waiting(bridge, call_id, queue, ago_ms=offered_ago_ms + 10)
    await ready(bridge, desk_id, ago_ms=offered_ago_ms + 5)
    claim = await bridge.routing.claim_next(bridge.agencies, bridge.ring_timeout_ms,
                                            now_ms=wall_clock_ms() - offered_ago_ms)
    assert (claim.call_id, claim.desk_id) == (call_id, desk_id)
    return claim


# --- dispatch ---------------------------------------------------------------------------------

def test_dispatch_once_redirects_the_best_caller_to_the_longest_idle_desk(redis_url, r):
    async def scenario(bridge):
        police = await waiting(bridge, "c-police", "police", priority=1, ago_ms=5_000)
        general = await waiting(bridge, "c-general", "general", priority=0, ago_ms=1_000)
        await waiting(bridge, "c-fire", "fire", priority=1, ago_ms=9_000)  # no fire desk is ready
        await ready(bridge, "desk-102", ago_ms=2_000)
        await ready(bridge, "desk-101", ago_ms=1_000)
        delivered = await bridge.dispatch_once()
        return police, general, delivered, bridge.ami.redirects

    police, general, delivered, redirects = run(redis_url, scenario)
    assert redirects == [(general, DELIVER, "desk-102"), (police, DELIVER, "desk-101")]
    assert delivered == 2
    assert (call(r, "c-general")["state"], call(r, "c-general")["desk"]) == ("ringing", "desk-102")
    assert (call(r, "c-police")["state"], call(r, "c-police")["desk"]) == ("ringing", "desk-101")
    assert (desk(r, "desk-102")["state"], desk(r, "desk-102")["call_id"]) == ("ringing", "c-general")
    assert (desk(r, "desk-101")["state"], desk(r, "desk-101")["call_id"]) == ("ringing", "c-police")
    assert call(r, "c-fire")["state"] == "queued"
    assert r.zrange("hotline:queue:fire", 0, -1) == ["c-fire"]
    assert audit(r) == []


def test_dispatch_once_does_nothing_while_ami_is_down(redis_url, r):
    async def scenario(bridge):
        await waiting(bridge, "c-1", "police")
        await ready(bridge, "desk-101")
        bridge.ami.ready.clear()
        return await bridge.dispatch_once(), bridge.ami.redirects

    delivered, redirects = run(redis_url, scenario)
    assert (delivered, redirects) == (0, [])
    assert call(r, "c-1")["state"] == "queued"
    assert desk(r, "desk-101")["state"] == "ready"


def test_dispatch_once_releases_ended_wrap_ups_first(redis_url, r):
    async def scenario(bridge):
        await ringing(bridge, "c-1", "desk-101")
        await bridge.routing.offer_answered("c-1", "desk-101")
        await bridge.routing.hangup("c-1", 0)  # wrap-up already over
        channel = await waiting(bridge, "c-2", "police")
        return channel, await bridge.dispatch_once(), bridge.ami.redirects

    channel, delivered, redirects = run(redis_url, scenario)
    assert (delivered, redirects) == (1, [(channel, DELIVER, "desk-101")])
    assert desk(r, "desk-101")["call_id"] == "c-2"


@pytest.mark.parametrize("recorded", ["Redirect_missing", "Getvar_missing"])
def test_a_caller_gone_before_the_redirect_is_closed_and_the_desk_ready_again(redis_url, r, recorded, caplog):
    caplog.set_level(logging.INFO, logger="hotline.bridge")

    async def scenario(bridge):
        gone = await waiting(bridge, "c-gone", "police", ago_ms=2_000)
        nxt = await waiting(bridge, "c-next", "police", ago_ms=1_000)
        await ready(bridge, "desk-101")
        if recorded == "Redirect_missing":
            bridge.ami.gone.add(gone)
            delivered = await bridge.dispatch_once()
            outcome = None  # dispatch_once went on to c-next
        else:  # Asterisk's other wording for a missing channel
            claim = await bridge.routing.claim_next(bridge.agencies, bridge.ring_timeout_ms)
            bridge.ami.redirect_error = ami_error_text("Redirect", "Getvar_missing")
            outcome = await bridge.deliver(claim)
            bridge.ami.redirect_error = None
            delivered = await bridge.dispatch_once()
        return gone, nxt, delivered, bridge.ami.redirects, outcome

    gone, nxt, delivered, redirects, outcome = run(redis_url, scenario)
    if recorded == "Getvar_missing":
        assert outcome == Delivery.GONE
    assert redirects == [(gone, DELIVER, "desk-101"), (nxt, DELIVER, "desk-101")]
    assert delivered == 1  # only c-next rings
    record = call(r, "c-gone")
    assert (record["state"], record["outcome"], record["abandon_stage"]) == ("abandoned", "abandoned", "ringing")
    assert r.zrange("hotline:callbacks:police", 0, -1) == ["c-gone"]
    assert desk(r, "desk-101")["misses"] == "0"  # not the call-taker's fault
    assert (desk(r, "desk-101")["state"], desk(r, "desk-101")["call_id"]) == ("ringing", "c-next")
    assert any("call c-gone left before its desk could ring" in m for m in caplog.messages)
    assert audit(r) == []


@pytest.mark.parametrize("problem", ["AMI Redirect: Permission denied", "AMI not connected; cannot Redirect"])
def test_another_ami_error_puts_the_caller_back_at_its_place(redis_url, r, problem, caplog):
    async def scenario(bridge):
        await waiting(bridge, "c-1", "police", ago_ms=3_000)
        await waiting(bridge, "c-2", "police", ago_ms=1_000)
        await ready(bridge, "desk-101")
        claim = await bridge.routing.claim_next(bridge.agencies, bridge.ring_timeout_ms)
        bridge.ami.redirect_error = problem
        return claim, await bridge.deliver(claim)

    claim, outcome = run(redis_url, scenario)
    assert outcome == Delivery.RETRY
    assert (claim.call_id, claim.desk_id) == ("c-1", "desk-101")
    record = call(r, "c-1")
    assert (record["state"], record["desk"], record["last_ring_status"]) == ("queued", "", "BRIDGE_ERROR")
    assert r.zrange("hotline:queue:police", 0, -1) == ["c-1", "c-2"]  # still first
    d = desk(r, "desk-101")
    assert (d["state"], d["call_id"], d["misses"]) == ("ready", "", "0")
    [error] = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert error.getMessage() == f"could not ring desk desk-101 for call c-1: {problem}"
    assert audit(r) == []


def test_a_redirect_without_reply_leaves_the_offer_open(redis_url, r, caplog):
    # The Redirect may still land: putting the caller back in its queue now could offer it to
    # a second desk while the first rings (or talks to it). The ring's end, the answer or
    # reconciliation settles the offer instead.
    async def scenario(bridge):
        await waiting(bridge, "c-1", "police", ago_ms=3_000)
        await waiting(bridge, "c-2", "police", ago_ms=1_000)
        await ready(bridge, "desk-101")
        await ready(bridge, "desk-102")
        bridge.ami.redirect_error = "AMI Redirect got no reply within 5 s"
        delivered = await bridge.dispatch_once()
        return delivered, list(bridge.ami.redirects)

    delivered, redirects = run(redis_url, scenario)
    assert delivered == 0
    assert [(ch, exten) for ch, _, exten in redirects] == [("PJSIP/citizens-c-1", "desk-101")]  # no second desk tried
    record = call(r, "c-1")
    assert (record["state"], record["desk"], record["last_ring_status"]) == ("ringing", "desk-101", "")
    assert (desk(r, "desk-101")["state"], desk(r, "desk-101")["call_id"]) == ("ringing", "c-1")
    assert r.zrange("hotline:queue:police", 0, -1) == ["c-2"]
    assert desk(r, "desk-102")["state"] == "ready"
    assert any("call c-1 → desk desk-101 not confirmed" in m for m in caplog.messages)


def test_dispatch_once_does_not_spin_on_a_lasting_ami_error(redis_url, r):
    async def scenario(bridge):
        await waiting(bridge, "c-1", "police")
        await ready(bridge, "desk-101")
        bridge.ami.redirect_error = "AMI Redirect: Permission denied"
        delivered = await asyncio.wait_for(bridge.dispatch_once(), 2)
        return delivered, len(bridge.ami.redirects)

    delivered, attempts = run(redis_url, scenario)
    assert (delivered, attempts) == (0, 1)  # the next tick tries again
    assert call(r, "c-1")["state"] == "queued"
    assert desk(r, "desk-101")["state"] == "ready"


DESKS = ["desk-101", "desk-102", "desk-201", "desk-301", "desk-401"]


def test_dispatch_once_claims_in_growing_batches_and_redirects_each_batch_at_once(redis_url, r):
    async def scenario(bridge):
        for n, desk_id in enumerate(DESKS):
            await waiting(bridge, f"c-{n}", "general", priority=0, ago_ms=9_000 - n * 1_000)
            await ready(bridge, desk_id, ago_ms=9_000 - n * 1_000)
        sizes, in_flight, most = [], 0, 0
        claim_batch, redirect = bridge.routing.claim_batch, bridge.ami.redirect

        async def counted_claim_batch(agencies, ring_timeout_ms, max_claims, **kwargs):
            sizes.append(max_claims)
            return await claim_batch(agencies, ring_timeout_ms, max_claims, **kwargs)

        async def slow_redirect(channel, context, exten):
            nonlocal in_flight, most
            in_flight += 1
            most = max(most, in_flight)
            await asyncio.sleep(0.05)  # AMI's reply to a Redirect takes a while
            in_flight -= 1
            await redirect(channel, context, exten)

        bridge.routing.claim_batch, bridge.ami.redirect = counted_claim_batch, slow_redirect
        delivered = await bridge.dispatch_once()
        return delivered, sizes, most, bridge.ami.redirects

    delivered, sizes, most, redirects = run(redis_url, scenario)
    assert delivered == 5
    assert sizes == [1, 2, 4, 8]  # 1 + 2 + 2 pairs, then nothing left to claim
    assert most == 2  # the second batch's two Redirects were out together
    assert sorted((channel, exten) for channel, _, exten in redirects) == [
        (f"PJSIP/citizens-c-{n}", desk_id) for n, desk_id in enumerate(DESKS)]
    assert all(call(r, f"c-{n}")["state"] == "ringing" for n in range(5))
    assert audit(r) == []


def test_each_claim_of_a_batch_is_settled_on_its_own(redis_url, r):
    # One batch, four Redirects: the caller left, AMI refused, AMI did not answer in time, rang.
    async def scenario(bridge):
        for n, desk_id in enumerate(DESKS[:4]):
            await waiting(bridge, f"c-{n}", "general", priority=0, ago_ms=9_000 - n * 1_000)
            await ready(bridge, desk_id, ago_ms=9_000 - n * 1_000)
        claims = await bridge.routing.claim_batch(bridge.agencies, bridge.ring_timeout_ms, 4)
        failures = {claims[1].channel: "AMI Redirect: Permission denied",
                    claims[2].channel: "AMI Redirect got no reply within 5 s"}
        bridge.ami.gone.add(claims[0].channel)
        redirect = bridge.ami.redirect

        async def failing_redirect(channel, context, exten):
            await redirect(channel, context, exten)
            if channel in failures:
                raise ami_failure(failures[channel])

        bridge.ami.redirect = failing_redirect
        return claims, await bridge.dispatcher.deliver_all(claims)

    claims, outcomes = run(redis_url, scenario)
    assert [(c.call_id, c.desk_id) for c in claims] == [(f"c-{n}", d) for n, d in enumerate(DESKS[:4])]
    assert outcomes == [Delivery.GONE, Delivery.RETRY, Delivery.UNCONFIRMED, Delivery.RINGING]
    assert (call(r, "c-0")["state"], desk(r, "desk-101")["state"]) == ("abandoned", "ready")
    assert (call(r, "c-1")["state"], call(r, "c-1")["last_ring_status"]) == ("queued", "BRIDGE_ERROR")
    assert (desk(r, "desk-102")["state"], desk(r, "desk-102")["misses"]) == ("ready", "0")
    assert (call(r, "c-2")["state"], desk(r, "desk-201")["call_id"]) == ("ringing", "c-2")  # offer left open
    assert (call(r, "c-3")["state"], desk(r, "desk-301")["call_id"]) == ("ringing", "c-3")
    assert r.zrange("hotline:queue:general", 0, -1) == ["c-1"]
    assert audit(r) == []


# --- what the dialplan reports ------------------------------------------------------------------

def recorded_event(user_event: str, call_id: str):
    [message] = [m for m in ami_user_events() if m["UserEvent"] == user_event and m["CallId"] == call_id]
    return parse_user_event(message)


def test_ring_ended_noanswer_requeues_and_counts_a_miss(redis_url, r):
    event = recorded_event("HotlineRingEnd", "hotline-rec3-1795594199.0")
    assert event == RingEnded("hotline-rec3-1795594199.0", "desk-201", "NOANSWER")

    async def scenario(bridge):
        await ringing(bridge, event.call_id, "desk-201", queue="fire")
        await bridge.on_dialplan_event(event)
        return bridge.wake.is_set()

    assert run(redis_url, scenario) is True
    record = call(r, event.call_id)
    assert (record["state"], record["desk"], record["last_ring_status"]) == ("queued", "", "NOANSWER")
    assert r.zrange("hotline:queue:fire", 0, -1) == [event.call_id]
    d = desk(r, "desk-201")
    assert (d["state"], d["misses"]) == ("ready", "1")
    assert audit(r) == []


def test_missed_calls_in_a_row_pause_the_desk(redis_url, r):
    limit = CITY.queueing.missed_calls_before_pause

    async def scenario(bridge):
        await waiting(bridge, "c-1", "police")
        await ready(bridge, "desk-101")
        for n in range(limit):  # each miss leaves the desk ready, until the last one
            claim = await bridge.routing.claim_next(bridge.agencies, bridge.ring_timeout_ms)
            assert claim.desk_id == "desk-101"
            await bridge.on_dialplan_event(RingEnded("c-1", "desk-101", "DESK_UNAVAILABLE" if n else "NOANSWER"))

    run(redis_url, scenario)
    d = desk(r, "desk-101")
    assert (d["state"], d["reason"], d["misses"]) == ("paused", "missed calls", str(limit))
    assert call(r, "c-1")["state"] == "queued"


def test_desk_answered_puts_call_and_desk_on_call(redis_url, r):
    event = recorded_event("HotlineAnswered", "hotline-rec-1795594136.0")
    assert event == DeskAnswered("hotline-rec-1795594136.0", "desk-101")

    async def scenario(bridge):
        await ringing(bridge, event.call_id, "desk-101")
        await bridge.on_dialplan_event(event)

    run(redis_url, scenario)
    record = call(r, event.call_id)
    assert (record["state"], record["desk"]) == ("on_call", "desk-101")
    assert int(record["answered_ms"]) >= int(record["arrived_ms"])
    assert (desk(r, "desk-101")["state"], desk(r, "desk-101")["call_id"]) == ("on_call", event.call_id)
    assert audit(r) == []


def test_caller_left_after_the_answer_ends_the_call_and_starts_wrap_up(redis_url, r):
    answered = recorded_event("HotlineAnswered", "hotline-rec-1795594136.0")
    left = recorded_event("HotlineHangup", "hotline-rec-1795594136.0")
    assert left == CallerLeft("hotline-rec-1795594136.0", "ringing", "ANSWER")

    async def scenario(bridge):
        await ringing(bridge, answered.call_id, "desk-101")
        await bridge.on_dialplan_event(answered)
        await bridge.on_dialplan_event(left)
        await bridge.on_dialplan_event(left)  # Asterisk may report a hang-up twice

    run(redis_url, scenario)
    record = call(r, left.call_id)
    assert (record["state"], record["outcome"]) == ("ended", "answered")
    d = desk(r, "desk-101")
    assert (d["state"], int(d["wrap_up_until_ms"]) - int(record["ended_ms"])) == ("wrap_up", CITY.queueing.wrap_up_s * 1000)
    assert r.smembers("hotline:calls:active") == set()
    assert audit(r) == []


def test_caller_left_while_waiting_is_abandoned(redis_url, r):
    async def scenario(bridge):
        await waiting(bridge, "c-1", "medical")
        await bridge.on_dialplan_event(CallerLeft("c-1", "queued", ""))

    run(redis_url, scenario)
    record = call(r, "c-1")
    assert (record["state"], record["abandon_stage"]) == ("abandoned", "queued")
    assert r.zrange("hotline:queue:medical", 0, -1) == []
    assert r.zrange("hotline:callbacks:medical", 0, -1) == ["c-1"]


def test_went_to_fallback_then_left(redis_url, r):
    fallback = recorded_event("HotlineFallback", "hotline-rec3-1795594210.3")
    left = recorded_event("HotlineHangup", "hotline-rec3-1795594210.3")
    assert fallback == WentToFallback("hotline-rec3-1795594210.3", "agi-FAILURE-none", "0900000006",
                                      "PJSIP/citizens-00000003")

    async def scenario(bridge):
        await bridge.routing.arrive(fallback.call_id, "0900000006", "PJSIP/citizens-00000003")
        await bridge.on_dialplan_event(fallback)
        after_fallback = await bridge.routing.call(fallback.call_id)
        await bridge.on_dialplan_event(left)
        return after_fallback

    after_fallback = run(redis_url, scenario)
    assert (after_fallback["state"], after_fallback["fallback_reason"]) == ("fallback", "agi-FAILURE-none")
    record = call(r, fallback.call_id)
    assert (record["state"], record["outcome"], record["fallback_reason"]) == ("ended", "fallback", "agi-FAILURE-none")
    assert audit(r) == []


def test_went_to_fallback_for_an_unknown_call_creates_its_record(redis_url, r):
    """The IVR never ran (the bridge was unreachable): the fallback event itself records the call."""
    fallback = recorded_event("HotlineFallback", "hotline-rec3-1795594210.3")
    left = recorded_event("HotlineHangup", "hotline-rec3-1795594210.3")

    async def scenario(bridge):
        assert await bridge.routing.call(fallback.call_id) == {}  # no record yet
        await bridge.on_dialplan_event(fallback)
        after_fallback = await bridge.routing.call(fallback.call_id)
        await bridge.on_dialplan_event(left)
        return after_fallback, bridge.wake.is_set()

    after_fallback, woken = run(redis_url, scenario)
    assert woken is True
    assert after_fallback["state"] == "fallback"
    assert after_fallback["fallback_reason"] == "agi-FAILURE-none"
    assert after_fallback["caller"] == "0900000006"
    assert after_fallback["channel"] == "PJSIP/citizens-00000003"
    record = call(r, fallback.call_id)
    assert (record["state"], record["outcome"], record["fallback_reason"]) == ("ended", "fallback", "agi-FAILURE-none")
    assert (record["caller"], record["channel"]) == ("0900000006", "PJSIP/citizens-00000003")
    assert r.smembers("hotline:calls:active") == set()
    assert audit(r) == []


def test_queued_caller_sent_to_fallback_by_the_watchdog_leaves_its_queue(redis_url, r):
    async def scenario(bridge):
        await waiting(bridge, "c-1", "police")
        await bridge.on_dialplan_event(WentToFallback("c-1", "bridge-silent"))

    run(redis_url, scenario)
    assert (call(r, "c-1")["state"], call(r, "c-1")["fallback_reason"]) == ("fallback", "bridge-silent")
    # the existing record is kept, not made anew from the event's (here empty) caller and channel
    assert (call(r, "c-1")["caller"], call(r, "c-1")["channel"]) == ("0900000001", "PJSIP/citizens-c-1")
    assert r.zrange("hotline:queue:police", 0, -1) == []


def test_event_for_an_unknown_call_is_logged_not_raised(redis_url, r, caplog):
    async def scenario(bridge):
        await bridge.on_dialplan_event(DeskAnswered("c-unknown", "desk-101"))
        return bridge.wake.is_set()

    assert run(redis_url, scenario) is True
    [error] = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert "could not apply DeskAnswered(call_id='c-unknown'" in error.getMessage()
    assert "unknown call c-unknown" in str(error.exc_info[1])
    assert desk(r, "desk-101")["state"] == "offline"


def test_an_event_waits_while_redis_is_down_and_is_applied_once_it_is_back(tmp_path, caplog):
    """Events come through one ordered queue; while Redis is unreachable the current one
    waits (and so do those behind it) instead of being dropped."""
    server = start_redis_server(tmp_path / "redis")

    async def main():
        client = aioredis.Redis.from_url(server.url, decode_responses=True, socket_timeout=1, socket_connect_timeout=1)
        bridge = Bridge(CITY, RuntimeSettings(ami_secret="test-secret"), client, ami=FakeAmi())
        await bridge._register_desks()
        server.stop()
        event = WentToFallback("c-1", "agi-FAILURE-none", "0900000009", "PJSIP/citizens-c-1")
        task = asyncio.create_task(bridge.on_dialplan_event(event, "sys|c-1|1.0|HotlineFallback"))
        await asyncio.sleep(1.0)
        assert not task.done()  # waiting, not dropped
        restarted = start_redis_server(tmp_path / "redis", port=server.port)
        try:
            await asyncio.wait_for(task, 10)
            record = await bridge.routing.call("c-1")
        finally:
            await client.aclose()
            restarted.stop()
        return record

    record = asyncio.run(main())
    assert (record["state"], record["caller"], record["fallback_reason"]) == ("fallback", "0900000009", "agi-FAILURE-none")
    waits = [rec for rec in caplog.records if "waits, retrying" in rec.getMessage()]
    assert waits and "WentToFallback(call_id='c-1'" in waits[0].getMessage()


# --- reconciliation ---------------------------------------------------------------------------

def live(call_id: str, context: str, application: str, *, bridged: bool = False, exten: str = "s",
         caller: str = "0900000001") -> LiveChannel:
    return LiveChannel(f"PJSIP/citizens-{call_id}", call_id, caller, context, exten, application, bridged)


def test_reconcile_closes_calls_whose_channel_is_gone(redis_url, r):
    async def scenario(bridge):
        await bridge.routing.arrive("c-ivr", "0900000001", "PJSIP/citizens-c-ivr")
        await waiting(bridge, "c-queued", "police")
        await ringing(bridge, "c-on-call", "desk-201", queue="fire")
        await bridge.routing.offer_answered("c-on-call", "desk-201")
        await bridge.reconcile()  # Asterisk has no channel at all
        return bridge.wake.is_set()

    assert run(redis_url, scenario) is True
    assert (call(r, "c-ivr")["state"], call(r, "c-ivr")["abandon_stage"]) == ("abandoned", "ivr")
    assert (call(r, "c-queued")["state"], call(r, "c-queued")["abandon_stage"]) == ("abandoned", "queued")
    assert (call(r, "c-on-call")["state"], call(r, "c-on-call")["outcome"]) == ("ended", "answered")
    assert desk(r, "desk-201")["state"] == "wrap_up"
    assert r.smembers("hotline:calls:active") == set()
    assert audit(r) == []


def test_an_offer_is_in_flight_for_twice_the_ami_reply_deadline():
    # A Redirect that got no reply within the deadline (the dispatcher leaves the offer open)
    # has had as long again to land before reconciliation calls the offer lost.
    assert OFFER_IN_FLIGHT_MS == 2 * ACTION_DEADLINE_S * 1000 == 10_000


def test_reconcile_requeues_a_stale_ringing_call_back_in_hotline_wait(redis_url, r):
    async def scenario(bridge):
        await ringing(bridge, "c-1", "desk-101", offered_ago_ms=OFFER_IN_FLIGHT_MS + 1000)
        bridge.ami.live = [live("c-1", "hotline-wait", "Wait")]
        await bridge.reconcile()

    run(redis_url, scenario)
    record = call(r, "c-1")
    assert (record["state"], record["desk"], record["last_ring_status"]) == ("queued", "", "LOST")
    assert r.zrange("hotline:queue:police", 0, -1) == ["c-1"]
    d = desk(r, "desk-101")
    assert (d["state"], d["call_id"], d["misses"]) == ("ready", "", "0")
    assert audit(r) == []


def test_reconcile_leaves_a_just_offered_ringing_call_in_hotline_wait_alone(redis_url, r):
    """Its AMI Redirect may still be on the way to Asterisk: not a lost offer (yet)."""
    async def scenario(bridge):
        claim = await ringing(bridge, "c-1", "desk-101")
        offered_ms = int((await bridge.routing.call("c-1"))["offered_ms"])
        assert abs(wall_clock_ms() - offered_ms) < OFFER_IN_FLIGHT_MS
        bridge.ami.live = [live("c-1", "hotline-wait", "Wait")]
        await bridge.reconcile()
        return claim

    run(redis_url, scenario)
    record = call(r, "c-1")
    assert (record["state"], record["desk"], record["last_ring_status"]) == ("ringing", "desk-101", "")
    assert r.zrange("hotline:queue:police", 0, -1) == []
    d = desk(r, "desk-101")
    assert (d["state"], d["call_id"], d["misses"]) == ("ringing", "c-1", "0")
    assert audit(r) == []


def test_reconcile_marks_a_bridged_ringing_call_on_call(redis_url, r):
    async def scenario(bridge):
        await ringing(bridge, "c-1", "desk-101")
        bridge.ami.live = [live("c-1", DELIVER, "Dial", bridged=True, exten="desk-101")]
        await bridge.reconcile()

    run(redis_url, scenario)
    assert call(r, "c-1")["state"] == "on_call"
    assert desk(r, "desk-101")["state"] == "on_call"


def test_reconcile_leaves_a_call_that_is_still_ringing(redis_url, r):
    # The recorded CoreShowChannels: caller in hotline-deliver (Dial), the desk phone ringing.
    rows = [parse_channel_row(m) for m in ami_reply("CoreShowChannels_waiting") if m.get("Event") == "CoreShowChannel"]
    call_id = rows[0].uniqueid

    async def scenario(bridge):
        await ringing(bridge, call_id, "desk-101")
        bridge.ami.live = rows
        await bridge.reconcile()

    run(redis_url, scenario)
    assert call(r, call_id)["state"] == "ringing"
    assert desk(r, "desk-101")["state"] == "ringing"
    assert r.hgetall(f"hotline:call:{rows[1].uniqueid}") == {}  # the desk's own channel is no call
    assert audit(r) == []


def test_reconcile_brings_callers_found_in_the_fallback_queue_back_in_place(redis_url, r):
    async def scenario(bridge):
        await bridge.routing.arrive("c-ivr", "0900000001", "PJSIP/citizens-c-ivr")
        await waiting(bridge, "c-queued", "police")
        await ringing(bridge, "c-ringing", "desk-201", queue="fire")
        bridge.ami.live = [live(c, "hotline-fallback", "Queue") for c in ("c-ivr", "c-queued", "c-ringing")]
        await bridge.reconcile()
        return bridge.ami.redirects

    redirects = run(redis_url, scenario)
    # Recorded as found in the fallback queue, then back in hotline routing: the one who
    # never chose in the general queue, the others in their own queue at their place.
    for call_id, queue in (("c-ivr", "general"), ("c-queued", "police"), ("c-ringing", "fire")):
        record = call(r, call_id)
        assert (record["state"], record["queue"], record["fallback_reason"]) == ("queued", queue, "found-in-fallback"), call_id
        assert r.zrange(f"hotline:queue:{queue}", 0, -1) == [call_id]
    assert sorted(redirects) == sorted((f"PJSIP/citizens-{c}", "hotline-wait", "s") for c in ("c-ivr", "c-queued", "c-ringing"))
    assert desk(r, "desk-201")["state"] == "ready"
    assert audit(r) == []


def test_a_caller_a_desk_is_talking_to_in_the_fallback_queue_is_left_there(redis_url, r):
    async def scenario(bridge):
        await waiting(bridge, "c-1", "police")
        bridge.ami.live = [live("c-1", "hotline-fallback", "Queue", bridged=True)]
        await bridge.reconcile()
        return bridge.ami.redirects

    assert run(redis_url, scenario) == []
    assert call(r, "c-1")["state"] == "fallback"


def test_reconcile_records_a_fallback_caller_nobody_recorded(redis_url, r):
    async def scenario(bridge):
        bridge.ami.live = [
            live("c-unrecorded", "hotline-fallback", "Queue", bridged=True, caller="0900000006"),
            live("c-other", "hotline-wait", "Wait"),  # no record, but not in the fallback: left alone
            LiveChannel("PJSIP/desk-101-0001", "d-1", "desk101", "hotline-desk", "desk-101", "AppDial", True),
        ]
        await bridge.reconcile()

    run(redis_url, scenario)
    record = call(r, "c-unrecorded")
    assert record["state"] == "fallback"
    assert record["fallback_reason"] == "found-in-fallback"
    assert record["caller"] == "0900000006"
    assert record["channel"] == "PJSIP/citizens-c-unrecorded"
    assert r.smembers("hotline:calls:active") == {"c-unrecorded"}
    assert call(r, "c-other") == {}
    assert call(r, "d-1") == {}
    assert audit(r) == []


def test_reconcile_leaves_a_call_that_arrives_meanwhile_alone(redis_url, r):
    """A caller reaching the IVR after Asterisk listed its channels is not in that list:
    reconciliation must not take it for a caller who is gone."""

    async def scenario(bridge):
        async def arrival_after_the_snapshot():
            await bridge.routing.arrive("c-new", "0900000009", "PJSIP/citizens-c-new")
        bridge.ami.on_channels = arrival_after_the_snapshot
        await bridge.reconcile()

    run(redis_url, scenario)
    assert call(r, "c-new")["state"] == "ivr"
    assert r.zrange("hotline:callbacks:general", 0, -1) == []


def test_reconcile_is_postponed_when_ami_fails(redis_url, r, caplog):
    async def scenario(bridge):
        await waiting(bridge, "c-1", "police")
        bridge.ami.channels_error = "AMI CoreShowChannels got no reply within 15 s"
        await bridge.reconcile()
        return bridge.wake.is_set()

    assert run(redis_url, scenario) is True
    assert call(r, "c-1")["state"] == "queued"
    [error] = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert error.getMessage() == "reconciliation postponed: AMI CoreShowChannels got no reply within 15 s"


# --- heartbeat -------------------------------------------------------------------------------

@pytest.mark.parametrize("redis_down", [False, True])
def test_heartbeat_only_while_redis_answers(redis_url, redis_down, caplog):
    async def scenario(bridge):
        task = asyncio.create_task(bridge._heartbeat_loop())
        await asyncio.sleep(0.2)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return bridge.ami.heartbeats

    before = int(time.time())
    beats = run(redis_url, scenario, redis_down=redis_down)
    if redis_down:
        assert beats == []
        assert any("heartbeat withheld" in m for m in caplog.messages)
    else:
        assert len(beats) == 1 and before <= beats[0] <= int(time.time())


def test_heartbeat_in_redis_says_ami_link_and_loop_lag(redis_url, r):
    """Each beat writes the bridge's record in ``bridges``; the AMI link going down is an event
    and restarts ``ami_since_ms``; a loop kept busy shows its lag."""
    async def scenario(bridge):
        task = asyncio.create_task(bridge._heartbeat_loop())
        await asyncio.sleep(0.2)
        first = await bridge.routing.bridges()
        bridge.ami.ready.clear()
        time.sleep(1.2)  # blocks the event loop past the next beat's wake-up (due ~1 s after the first)
        await asyncio.sleep(0.1)  # the late beat runs
        second = await bridge.routing.bridges()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return bridge.bridge_id, first, second

    bridge_id, [first], [second] = run(redis_url, scenario)
    assert (first["bridge_id"], first["ami_up"], first["loop_lag_ms"]) == (bridge_id, "1", "0")
    assert first["ami_since_ms"] == first["heartbeat_ms"]
    assert second["ami_up"] == "0" and int(second["heartbeat_ms"]) > int(first["heartbeat_ms"])
    assert second["ami_since_ms"] == second["heartbeat_ms"]  # the link went down at this beat
    assert int(second["loop_lag_ms"]) >= 150
    # The bridge's own Lua timings ride along: by the second beat, the first beat's script was timed.
    timed = parse_snapshot(json.loads(second["lua"]))
    assert timed["bridge_heartbeat"][0][-1] >= 1
    changes = [fields for _, fields in r.xrange("hotline:events") if fields["type"] == "bridge_ami"]
    assert [(e["bridge_id"], e["ami_up"], e["previous"]) for e in changes] == [(bridge_id, "1", ""), (bridge_id, "0", "1")]

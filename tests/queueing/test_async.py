"""AsyncRouting: the same operations over redis.asyncio, as the bridge uses them."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio

from queueing import AsyncRouting, Claim, DeskChange, RoutingRefused
from queueing.audit import audit

T0 = 1_700_000_000_000


def run(redis_url, scenario):
    async def main():
        client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
        try:
            return await scenario(AsyncRouting(client))
        finally:
            await client.aclose()
    return asyncio.run(main())


def test_a_call_from_arrival_to_release(redis_client, redis_url):
    async def scenario(routing):
        desk = await routing.register_desk("p-1", "police", now_ms=T0)
        await routing.set_desk_state("p-1", "ready", now_ms=T0)
        await routing.arrive("c-1", "+15550100", "PJSIP/t-1", now_ms=T0)
        await routing.enqueue("c-1", "police", 1, now_ms=T0 + 1_000)
        queue = await routing.queue("police")
        claim = await routing.claim_next(["police"], 20_000, now_ms=T0 + 2_000)
        answered = await routing.offer_answered("c-1", "p-1", now_ms=T0 + 3_000)
        active = await routing.active_calls()
        hangup = await routing.hangup("c-1", 5_000, now_ms=T0 + 60_000)
        released = await routing.release_wrapups(now_ms=T0 + 65_000)
        return (desk, queue, claim, answered, active, hangup, released,
                await routing.call("c-1"), await routing.active_calls())

    desk, queue, claim, answered, active, hangup, released, call, active_after = run(
        redis_url, scenario)

    assert desk == DeskChange("p-1", "police", "offline", "", True)
    assert queue == ["c-1"]
    assert claim == Claim("c-1", "p-1", "PJSIP/t-1", "police", "+15550100", T0 + 22_000)
    assert answered.wait_ms == 3_000
    assert [(c["call_id"], c["state"]) for c in active] == [("c-1", "on_call")]
    assert active_after == []
    assert (hangup.result, hangup.outcome, hangup.desk_state) == ("ended", "answered", "wrap_up")
    assert released == ["p-1"]
    assert (call["state"], call["outcome"]) == ("ended", "answered")
    assert audit(redis_client) == []


def test_refusals_raise_routing_refused(redis_url):
    async def scenario(routing):
        await routing.set_desk_state("desk-9", "ready", now_ms=T0)

    with pytest.raises(RoutingRefused, match="^unknown desk desk-9$"):
        run(redis_url, scenario)


def test_concurrent_claims_on_one_event_loop(redis_client, redis_url):
    async def scenario(routing):
        for n in range(3):
            await routing.register_desk(f"p-{n}", "police", now_ms=T0)
            await routing.set_desk_state(f"p-{n}", "ready", now_ms=T0 + n)
        for n in range(10):
            await routing.arrive(f"c-{n}", "+15550100", f"PJSIP/t-{n}", now_ms=T0 + n)
            await routing.enqueue(f"c-{n}", "police", 1, now_ms=T0 + n)
        return await asyncio.gather(
            *(routing.claim_next(["police"], 20_000, now_ms=T0 + 100) for _ in range(6)))

    claims = run(redis_url, scenario)

    matched = [(c.call_id, c.desk_id) for c in claims if c is not None]
    assert sorted(matched) == [("c-0", "p-0"), ("c-1", "p-1"), ("c-2", "p-2")]
    assert claims.count(None) == 3
    assert audit(redis_client) == []

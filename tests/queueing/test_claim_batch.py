"""claim_next in batches (claim_batch), the overflow search through desks:ready_for, the empty
claim, and the indexes the scripts keep for it (desks:ready_for, desks:logged_in). Batches from
8 threads at once: tests/queueing/test_concurrency.py."""

from __future__ import annotations

import random

import pytest
import redis

from queueing import Keys, Routing, RoutingRefused
from queueing.audit import audit

T0 = 1_700_000_000_000
AGENCIES = ["police", "fire", "medical"]
QUEUES = [*AGENCIES, "general"]
OVERFLOW = {"police": 30_000, "medical": 0}
RING_MS = 20_000
CLAIM_AT = T0 + 60_000


def random_floor(routing: Routing, redis_client: redis.Redis, seed: int) -> None:
    """Desks in every state, some cross-trained, callers of every queue with ties in priority
    and arrival, supervisors' picks, and stale entries in the queues and the ready indexes."""
    rng = random.Random(seed)
    keys = routing.keys
    desks = []
    for n in range(rng.randint(2, 14)):
        agency = rng.choice(AGENCIES)
        desk_id = f"{agency[0]}-{n}"
        others = [a for a in AGENCIES if a != agency]
        routing.register_desk(desk_id, agency, cross_trained=rng.sample(others, rng.randint(0, 2)), now_ms=T0)
        state = rng.choice(["ready", "ready", "ready", "login", "offline"])
        if state != "offline":
            routing.set_desk_state(desk_id, state, now_ms=T0 + rng.randint(0, 5) * 100)
        desks.append(desk_id)
    callers = []
    for n in range(rng.randint(0, 30)):
        call_id = f"c-{n:02d}"
        at = T0 + rng.randint(0, 8) * 1_000  # ties in arrival, broken by the id
        routing.arrive(call_id, f"+1555{n:07d}", f"PJSIP/trunk-{call_id}", now_ms=at)
        routing.enqueue(call_id, rng.choice(QUEUES), rng.randint(0, 2), now_ms=at)
        callers.append(call_id)
    for _ in range(rng.randint(0, 3)):
        if callers and desks:
            try:
                routing.pick(rng.choice(callers), rng.choice(desks), picked_by="sup-1", now_ms=T0 + 9_000)
            except RoutingRefused:
                pass  # not a ready desk serving the caller's queue
    if rng.random() < 0.5:
        redis_client.zadd(keys.queue(rng.choice(QUEUES)), {"ghost": 0})
    if desks and rng.random() < 0.5:
        stale = rng.choice(desks)
        redis_client.zadd(keys.desks_ready_for(rng.choice(AGENCIES)), {stale: 0})
        redis_client.zadd(keys.desks_ready(routing.desk(stale)["agency"]), {stale: 0})


def dump(redis_client: redis.Redis, prefix: str) -> dict[str, object]:
    """Everything under the prefix, the prefix stripped; events without their stream ids."""
    found: dict[str, object] = {}
    for key in redis_client.scan_iter(match=f"{prefix}*"):
        kind = redis_client.type(key)
        name = key.removeprefix(prefix)
        if kind == "hash":
            found[name] = redis_client.hgetall(key)
        elif kind == "zset":
            found[name] = redis_client.zrange(key, 0, -1, withscores=True)
        elif kind == "set":
            found[name] = sorted(redis_client.smembers(key))
        elif kind == "stream":
            found[name] = [fields for _, fields in redis_client.xrange(key)]
        else:
            found[name] = redis_client.get(key)
    return found


@pytest.mark.parametrize("seed", range(40))
def test_a_batch_claims_what_as_many_single_claims_would(redis_client, seed):
    batched, single = Routing(redis_client, prefix="batch:"), Routing(redis_client, prefix="single:")
    random_floor(batched, redis_client, seed)
    random_floor(single, redis_client, seed)

    claims = batched.claim_batch(AGENCIES, RING_MS, 50, overflow_after_ms=OVERFLOW, now_ms=CLAIM_AT)
    one_by_one = []
    while (claim := single.claim_next(AGENCIES, RING_MS, overflow_after_ms=OVERFLOW, now_ms=CLAIM_AT)) is not None:
        one_by_one.append(claim)

    assert claims == one_by_one
    assert dump(redis_client, "batch:") == dump(redis_client, "single:")  # events included


def test_a_batch_stops_at_its_size_and_the_next_call_goes_on(redis_client):
    routing = Routing(redis_client)
    for n in range(5):
        routing.register_desk(f"p-{n}", "police", now_ms=T0)
        routing.set_desk_state(f"p-{n}", "ready", now_ms=T0 + n)
        routing.arrive(f"c-{n}", "0900", f"PJSIP/trunk-{n}", now_ms=T0 + n)
        routing.enqueue(f"c-{n}", "police", 1, now_ms=T0 + n)

    first = routing.claim_batch(["police"], RING_MS, 3, now_ms=T0 + 100)
    rest = routing.claim_batch(["police"], RING_MS, 3, now_ms=T0 + 100)

    assert [(c.call_id, c.desk_id) for c in first] == [("c-0", "p-0"), ("c-1", "p-1"), ("c-2", "p-2")]
    assert [(c.call_id, c.desk_id) for c in rest] == [("c-3", "p-3"), ("c-4", "p-4")]
    assert routing.claim_batch(["police"], RING_MS, 3, now_ms=T0 + 100) == []
    assert audit(redis_client) == []


@pytest.mark.parametrize("size", [0, 1001, "x"])
def test_a_batch_size_out_of_range_is_refused(redis_client, size):
    routing = Routing(redis_client)
    with pytest.raises(RoutingRefused, match="max_claims must be"):
        routing.claim_batch(["police"], RING_MS, size, now_ms=T0)


def test_the_empty_claim_finds_nothing_and_writes_nothing(redis_client):
    routing = Routing(redis_client)
    assert routing.claim_next(AGENCIES, RING_MS, overflow_after_ms=OVERFLOW, now_ms=T0) is None
    assert routing.claim_batch(AGENCIES, RING_MS, 16, overflow_after_ms=OVERFLOW, now_ms=T0) == []
    assert list(redis_client.scan_iter(match="hotline:*")) == []


def overflow_floor(routing: Routing, trained: dict[str, int]) -> None:
    """A police caller and no police desk logged in; 300 ready desks of fire and medical, idle
    the longest first; ``trained``: desk id -> the desk cross-trained for police."""
    for n in range(300):
        desk_id = f"o-{n:03d}"
        routing.register_desk(desk_id, ["fire", "medical"][n % 2],
                              cross_trained=["police"] if desk_id in trained else [], now_ms=T0)
        routing.set_desk_state(desk_id, "ready", now_ms=T0 + trained.get(desk_id, n))
    routing.register_desk("p-1", "police", now_ms=T0)  # registered, never logged in
    routing.arrive("c-1", "0900", "PJSIP/trunk-c-1", now_ms=T0 + 400)
    routing.enqueue("c-1", "police", 1, now_ms=T0 + 400)


def test_overflow_with_300_ready_desks_of_other_agencies_none_cross_trained(redis_client):
    routing = Routing(redis_client)
    overflow_floor(routing, {})
    events_before = len(routing.events(10_000))

    claims = routing.claim_batch(AGENCIES, RING_MS, 16, overflow_after_ms={"police": 60_000}, now_ms=T0 + 500)

    assert claims == []
    assert routing.queue("police") == ["c-1"]
    assert redis_client.zcard(Keys().desks_ready("fire")) + redis_client.zcard(Keys().desks_ready("medical")) == 300
    assert len(routing.events(10_000)) == events_before  # nothing dropped, nothing offered
    assert audit(redis_client) == []


def test_overflow_takes_the_longest_idle_cross_trained_desk_among_300(redis_client):
    routing = Routing(redis_client)
    overflow_floor(routing, {"o-250": 290, "o-031": 299, "o-120": 295})  # o-250 ready since T0 + 290

    claim = routing.claim_next(AGENCIES, RING_MS, overflow_after_ms={"police": 60_000}, now_ms=T0 + 500)

    assert (claim.call_id, claim.desk_id, claim.queue) == ("c-1", "o-250", "police")
    assert redis_client.zrange(Keys().desks_ready_for("police"), 0, -1) == ["o-120", "o-031"]
    assert audit(redis_client) == []


def test_a_cross_trained_desk_of_an_agency_not_served_is_skipped_not_dropped(redis_client):
    routing = Routing(redis_client)
    routing.register_desk("m-1", "medical", cross_trained=["police"], now_ms=T0)
    routing.set_desk_state("m-1", "ready", now_ms=T0)  # idlest, but this bridge serves no medical
    routing.register_desk("f-1", "fire", cross_trained=["police"], now_ms=T0)
    routing.set_desk_state("f-1", "ready", now_ms=T0 + 1)
    routing.arrive("c-1", "0900", "PJSIP/trunk-c-1", now_ms=T0)
    routing.enqueue("c-1", "police", 1, now_ms=T0)

    claim = routing.claim_next(["police", "fire"], RING_MS, overflow_after_ms={"police": 0}, now_ms=T0 + 5)

    assert claim.desk_id == "f-1"
    assert redis_client.zrange(Keys().desks_ready_for("police"), 0, -1) == ["m-1"]
    assert audit(redis_client) == []


def test_a_stale_cross_trained_entry_is_dropped_with_an_event(redis_client):
    routing = Routing(redis_client)
    routing.register_desk("f-1", "fire", cross_trained=["police"], now_ms=T0)
    routing.set_desk_state("f-1", "ready", now_ms=T0 + 1)
    routing.register_desk("f-2", "fire", now_ms=T0)  # offline, not trained for police
    redis_client.zadd(Keys().desks_ready_for("police"), {"f-2": 0})
    routing.arrive("c-1", "0900", "PJSIP/trunk-c-1", now_ms=T0)
    routing.enqueue("c-1", "police", 1, now_ms=T0)

    claim = routing.claim_next(["police", "fire"], RING_MS, overflow_after_ms={"police": 0}, now_ms=T0 + 5)

    assert claim.desk_id == "f-1"
    dropped = [e for e in routing.events() if e["type"] == "ready_entry_dropped"]
    assert [(e["desk_id"], e["agency"], e["state"], e["ready_for"]) for e in dropped] == [
        ("f-2", "fire", "offline", "police")]
    assert audit(redis_client) == []


# --- the indexes follow every script that changes readiness or cross-training -----------------


def ready_for(redis_client, queue):
    return redis_client.zrange(Keys().desks_ready_for(queue), 0, -1, withscores=True)


def logged_in(redis_client, agency):
    return sorted(redis_client.smembers(Keys().desks_logged_in(agency)))


def test_desk_states_keep_the_indexes(redis_client):
    routing = Routing(redis_client)
    routing.register_desk("f-1", "fire", cross_trained=["police", "medical"], now_ms=T0)
    assert (logged_in(redis_client, "fire"), ready_for(redis_client, "police")) == ([], [])

    routing.set_desk_state("f-1", "login", now_ms=T0 + 1)
    assert (logged_in(redis_client, "fire"), ready_for(redis_client, "police")) == (["f-1"], [])
    routing.set_desk_state("f-1", "ready", now_ms=T0 + 2)
    assert ready_for(redis_client, "police") == ready_for(redis_client, "medical") == [("f-1", T0 + 2)]
    routing.set_desk_state("f-1", "paused", now_ms=T0 + 3)
    assert (logged_in(redis_client, "fire"), ready_for(redis_client, "police")) == (["f-1"], [])
    routing.set_desk_state("f-1", "ready", now_ms=T0 + 4)
    routing.set_desk_state("f-1", "offline", now_ms=T0 + 5)
    assert (logged_in(redis_client, "fire"), ready_for(redis_client, "medical")) == ([], [])
    assert audit(redis_client) == []


def test_registering_again_moves_a_ready_desk_between_cross_trained_queues(redis_client):
    routing = Routing(redis_client)
    routing.register_desk("f-1", "fire", cross_trained=["police"], now_ms=T0)
    routing.set_desk_state("f-1", "ready", now_ms=T0 + 7)

    routing.register_desk("f-1", "fire", cross_trained=["medical"], now_ms=T0 + 20)

    assert ready_for(redis_client, "police") == []
    assert ready_for(redis_client, "medical") == [("f-1", T0 + 7)]  # keeps its place in the idle order
    assert audit(redis_client) == []


def test_registering_again_restores_missing_index_entries(redis_client):
    # Data written before the indexes existed: a bridge's start registers every desk again.
    routing = Routing(redis_client)
    routing.register_desk("f-1", "fire", cross_trained=["police"], now_ms=T0)
    routing.set_desk_state("f-1", "ready", now_ms=T0 + 7)
    routing.register_desk("f-2", "fire", now_ms=T0)
    routing.set_desk_state("f-2", "login", now_ms=T0 + 8)
    redis_client.delete(Keys().desks_ready_for("police"), Keys().desks_logged_in("fire"))

    routing.register_desk("f-1", "fire", cross_trained=["police"], now_ms=T0 + 20)
    routing.register_desk("f-2", "fire", now_ms=T0 + 20)

    assert ready_for(redis_client, "police") == [("f-1", T0 + 7)]
    assert logged_in(redis_client, "fire") == ["f-1", "f-2"]
    assert audit(redis_client) == []


def test_moving_an_offline_desk_to_another_agency(redis_client):
    routing = Routing(redis_client)
    routing.register_desk("d-1", "fire", cross_trained=["police"], now_ms=T0)
    routing.register_desk("d-1", "medical", cross_trained=["fire"], now_ms=T0 + 1)
    routing.set_desk_state("d-1", "ready", now_ms=T0 + 2)
    assert (logged_in(redis_client, "fire"), logged_in(redis_client, "medical")) == ([], ["d-1"])
    assert (ready_for(redis_client, "police"), ready_for(redis_client, "fire")) == ([], [("d-1", T0 + 2)])
    assert audit(redis_client) == []


def test_an_offer_and_its_end_take_the_desk_out_of_and_back_into_the_cross_trained_index(redis_client):
    routing = Routing(redis_client)
    routing.register_desk("f-1", "fire", cross_trained=["police"], now_ms=T0)
    routing.set_desk_state("f-1", "ready", now_ms=T0)
    routing.arrive("c-1", "0900", "PJSIP/trunk-c-1", now_ms=T0)
    routing.enqueue("c-1", "police", 1, now_ms=T0)
    assert routing.claim_next(["police", "fire"], RING_MS, overflow_after_ms={"police": 0}, now_ms=T0 + 1)
    assert ready_for(redis_client, "police") == []

    routing.offer_failed("c-1", "f-1", "NOANSWER", 3, now_ms=T0 + 2)  # ready again, at the back
    assert ready_for(redis_client, "police") == [("f-1", T0 + 2)]
    routing.claim_next(["police", "fire"], RING_MS, overflow_after_ms={"police": 0}, now_ms=T0 + 3)
    routing.offer_answered("c-1", "f-1", now_ms=T0 + 4)
    routing.hangup("c-1", 0, now_ms=T0 + 5)
    assert ready_for(redis_client, "police") == []  # in wrap-up
    routing.release_wrapups(now_ms=T0 + 6)
    assert ready_for(redis_client, "police") == [("f-1", T0 + 6)]
    assert audit(redis_client) == []

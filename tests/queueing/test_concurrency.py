"""Several dispatchers calling claim_next at once, one claim or a batch per call: never one
caller at two desks, never two callers at one desk, nobody lost."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
import redis

from queueing import Routing
from queueing.audit import audit

AGENCIES = ["police", "fire"]
DESKS = {"p-1": "police", "p-2": "police", "p-3": "police", "f-1": "fire", "f-2": "fire"}
QUEUES = ["police", "fire", "general"]
CALLERS = 50
THREADS = 8


def setup_floor(routing):
    for desk_id, agency in DESKS.items():
        routing.register_desk(desk_id, agency)
        routing.set_desk_state(desk_id, "ready")
    call_ids = [f"c-{n:02d}" for n in range(CALLERS)]
    for n, call_id in enumerate(call_ids):
        routing.arrive(call_id, f"+1555{n:07d}", f"PJSIP/trunk-{n}")
        routing.enqueue(call_id, QUEUES[n % len(QUEUES)], n % 3)
    return call_ids


def run_dispatchers(redis_url, desk_answers, batch=0):
    """THREADS threads claim in a loop until every caller was answered, one pair per call
    (claim_next) or up to ``batch`` (claim_batch).

    ``desk_answers(claim)`` says whether the desk picks up (else the offer fails, NOANSWER).
    """
    answered: Counter[str] = Counter()
    desk_holder: dict[str, str] = {}
    caller_holder: dict[str, str] = {}
    lock = threading.Lock()
    errors: list[str] = []
    deadline = time.monotonic() + 60

    def dispatcher():
        client = redis.Redis.from_url(redis_url, decode_responses=True)
        routing = Routing(client)
        try:
            while time.monotonic() < deadline:
                with lock:
                    if sum(answered.values()) >= CALLERS or errors:
                        return
                if batch:
                    claims = routing.claim_batch(AGENCIES, 20_000, batch)
                else:
                    claims = [c for c in [routing.claim_next(AGENCIES, 20_000)] if c is not None]
                if not claims:
                    time.sleep(0.001)
                    continue
                with lock:
                    for claim in claims:
                        if claim.desk_id in desk_holder:
                            errors.append(f"desk {claim.desk_id} got {claim.call_id} while holding "
                                          f"{desk_holder[claim.desk_id]}")
                        if claim.call_id in caller_holder:
                            errors.append(f"caller {claim.call_id} offered to {claim.desk_id} while "
                                          f"ringing at {caller_holder[claim.call_id]}")
                        if DESKS[claim.desk_id] != claim.queue and claim.queue != "general":
                            errors.append(f"{claim.desk_id} took a {claim.queue} caller")
                        desk_holder[claim.desk_id] = claim.call_id
                        caller_holder[claim.call_id] = claim.desk_id
                for claim in claims:
                    takes_it = desk_answers(claim)
                    if takes_it:
                        routing.offer_answered(claim.call_id, claim.desk_id)
                    # Forget the holders before Redis frees the desk or requeues the caller:
                    # another thread may claim them right after.
                    with lock:
                        del desk_holder[claim.desk_id]
                        del caller_holder[claim.call_id]
                        if takes_it:
                            answered[claim.call_id] += 1
                    if takes_it:
                        routing.hangup(claim.call_id, 0)
                        routing.set_desk_state(claim.desk_id, "ready")
                    else:
                        routing.offer_failed(claim.call_id, claim.desk_id, "NOANSWER", 1_000)
        except Exception as error:  # surfaced by the assertion below
            with lock:
                errors.append(repr(error))
        finally:
            client.close()

    threads = [threading.Thread(target=dispatcher) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answered, errors


@pytest.mark.timeout(120)
@pytest.mark.parametrize("batch", [0, 4], ids=["single", "batches of 4"])
def test_each_caller_is_claimed_once_and_each_desk_holds_one_caller(redis_client, redis_url, batch):
    call_ids = setup_floor(Routing(redis_client))

    answered, errors = run_dispatchers(redis_url, lambda claim: True, batch)

    assert errors == []
    assert answered == Counter({call_id: 1 for call_id in call_ids})
    routing = Routing(redis_client)
    assert [e["type"] for e in routing.events(10_000)].count("offered") == CALLERS
    assert all(routing.call(c)["ring_attempts"] == "1" for c in call_ids)
    assert all(routing.queue(q) == [] for q in QUEUES)
    assert audit(redis_client) == []


@pytest.mark.timeout(120)
@pytest.mark.parametrize("batch", [0, 4], ids=["single", "batches of 4"])
def test_failed_offers_under_concurrency_lose_nobody(redis_client, redis_url, batch):
    call_ids = setup_floor(Routing(redis_client))
    tries = Counter()
    tries_lock = threading.Lock()

    def every_first_offer_fails(claim):
        with tries_lock:
            tries[claim.call_id] += 1
            return tries[claim.call_id] > 1

    answered, errors = run_dispatchers(redis_url, every_first_offer_fails, batch)

    assert errors == []
    assert answered == Counter({call_id: 1 for call_id in call_ids})
    routing = Routing(redis_client)
    assert all(routing.call(c)["ring_attempts"] == "2" for c in call_ids)
    assert all(routing.call(c)["state"] == "ended" for c in call_ids)
    assert audit(redis_client) == []

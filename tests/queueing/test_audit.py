"""The audit finds records and index sets that disagree."""

from __future__ import annotations

import pytest

from queueing import Keys, Routing
from queueing.audit import audit

T0 = 1_700_000_000_000
KEYS = Keys()


@pytest.fixture
def routing(redis_client):
    routing = Routing(redis_client)
    routing.register_desk("p-1", "police", now_ms=T0)
    routing.set_desk_state("p-1", "ready", now_ms=T0)
    routing.register_desk("p-2", "police", now_ms=T0)
    routing.set_desk_state("p-2", "ready", now_ms=T0 + 1)
    for n in range(3):
        routing.arrive(f"c-{n}", "+15550100", f"PJSIP/t-{n}", now_ms=T0 + n)
        routing.enqueue(f"c-{n}", "police", 1, now_ms=T0 + n)
    routing.claim_next(["police"], 20_000, now_ms=T0 + 10)  # c-0 ringing at p-1
    return routing


@pytest.mark.parametrize(
    ("corrupt", "expected"),
    [
        (lambda r: r.zrem(KEYS.queue("police"), "c-1"),
         "queued call c-1 of queue police waits in []"),
        (lambda r: r.zadd(KEYS.queue("fire"), {"c-2": 1}),
         "queued call c-2 of queue police waits in ['fire', 'police']"),
        (lambda r: r.zadd(KEYS.queue("police"), {"c-2": 5}),
         "call c-2 waits with a score other than its queue_score"),
        (lambda r: r.zrem(KEYS.offers(), "c-0"), "call c-0 is ringing but offers says otherwise"),
        (lambda r: r.hset(KEYS.desk("p-1"), "call_id", "c-9"),
         "call c-0 is ringing at desk p-1, which is ringing with call c-9"),
        (lambda r: r.zadd(KEYS.desks_ready("fire"), {"p-2": 1}),
         "ready desk p-2 of police is in ready sets ['fire', 'police']"),
        (lambda r: r.hset(KEYS.desk("p-2"), "state", "paused"),
         "desk p-2 is paused but in ready sets ['police']"),
        (lambda r: r.srem(KEYS.calls_active(), "c-1"),
         "call c-1 is queued but calls:active says otherwise"),
        (lambda r: r.zadd(KEYS.wrapups(), {"p-2": 1}),
         "desk p-2 is ready but wrapups says otherwise"),
    ],
)
def test_audit_reports_each_inconsistency(routing, redis_client, corrupt, expected):
    assert audit(redis_client) == []
    corrupt(redis_client)
    assert expected in audit(redis_client)

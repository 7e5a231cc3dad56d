"""offer_answered and offer_failed: the two ends of a ringing desk."""

from __future__ import annotations

import pytest

from queueing import Answered, Keys, OfferFailed, Routing, RoutingRefused, queue_score
from queueing.audit import audit

T0 = 1_700_000_000_000
RING_MS = 20_000


@pytest.fixture
def routing(redis_client):
    return Routing(redis_client)


def caller(routing, call_id, queue="police", priority=1, arrived=0):
    routing.arrive(call_id, "+15550100", f"PJSIP/trunk-{call_id}", now_ms=T0 + arrived)
    routing.enqueue(call_id, queue, priority, now_ms=T0 + arrived)


def ready_desk(routing, desk_id, agency="police", ready_since=0):
    routing.register_desk(desk_id, agency, now_ms=T0)
    routing.set_desk_state(desk_id, "ready", now_ms=T0 + ready_since)


def ring(routing, now=1_000):
    return routing.claim_next(["police", "fire"], RING_MS, now_ms=T0 + now)


# -- answered ------------------------------------------------------------------------------

def test_answered_puts_call_and_desk_on_call(routing, redis_client):
    caller(routing, "c-1", arrived=0)
    ready_desk(routing, "p-1")
    ring(routing, now=4_000)

    result = routing.offer_answered("c-1", "p-1", now_ms=T0 + 9_000)

    assert result == Answered(call_id="c-1", desk_id="p-1", wait_ms=9_000)
    call, desk = routing.call("c-1"), routing.desk("p-1")
    assert (call["state"], call["answered_ms"], call["wait_ms"], call["desk"]) == (
        "on_call", str(T0 + 9_000), "9000", "p-1")
    assert (desk["state"], desk["call_id"]) == ("on_call", "c-1")
    assert redis_client.zcard(Keys().offers()) == 0
    assert audit(redis_client) == []


def test_answer_resets_the_run_of_misses(routing):
    caller(routing, "c-1")
    ready_desk(routing, "p-1")
    ring(routing)
    routing.offer_failed("c-1", "p-1", "NOANSWER", 3, now_ms=T0 + 2_000)
    assert routing.desk("p-1")["misses"] == "1"
    ring(routing, now=3_000)
    routing.offer_answered("c-1", "p-1", now_ms=T0 + 4_000)
    assert routing.desk("p-1")["misses"] == "0"


@pytest.mark.parametrize(
    ("call_id", "desk_id", "message"),
    [
        ("c-1", "p-2", "^call c-1 is ringing, not ringing at desk p-2$"),
        ("c-2", "p-1", "^call c-2 is queued, not ringing at desk p-1$"),
        ("c-404", "p-1", "^unknown call c-404$"),
        ("c-1", "p-404", "^unknown desk p-404$"),
    ],
)
def test_answered_is_refused_unless_ringing_at_that_desk(routing, call_id, desk_id, message):
    caller(routing, "c-1", arrived=0)
    caller(routing, "c-2", arrived=5)
    ready_desk(routing, "p-1", ready_since=0)
    routing.register_desk("p-2", "police", now_ms=T0)
    ring(routing)

    with pytest.raises(RoutingRefused, match=message):
        routing.offer_answered(call_id, desk_id, now_ms=T0 + 2_000)
    assert routing.call("c-1")["state"] == "ringing"
    assert routing.desk("p-1")["state"] == "ringing"


def test_answered_after_the_caller_hung_up_is_refused(routing):
    caller(routing, "c-1")
    ready_desk(routing, "p-1")
    ring(routing)
    routing.hangup("c-1", 30_000, now_ms=T0 + 1_500)

    with pytest.raises(RoutingRefused, match="^call c-1 is abandoned, not ringing at desk p-1$"):
        routing.offer_answered("c-1", "p-1", now_ms=T0 + 1_600)
    assert routing.desk("p-1")["state"] == "ready"


# -- failed --------------------------------------------------------------------------------

def test_requeued_caller_keeps_its_place_at_the_head(routing, redis_client):
    caller(routing, "first", arrived=0)
    ready_desk(routing, "p-1")
    ring(routing, now=1_000)
    # Two callers arrive while the first one is ringing.
    caller(routing, "second", arrived=2_000)
    caller(routing, "third", arrived=3_000)

    result = routing.offer_failed("first", "p-1", "NOANSWER", 3, now_ms=T0 + 21_000)

    assert result.requeued and result.position == 1
    assert routing.queue("police") == ["first", "second", "third"]
    assert redis_client.zscore(Keys().queue("police"), "first") == queue_score(1, T0)
    call = routing.call("first")
    assert (call["state"], call["desk"], call["last_ring_status"], call["ring_attempts"]) == (
        "queued", "", "NOANSWER", "1")
    # ... and is the next one offered.
    assert ring(routing, now=22_000).call_id == "first"
    assert routing.call("first")["ring_attempts"] == "2"


def test_a_desk_that_misses_goes_to_the_back_of_the_idle_order(routing):
    ready_desk(routing, "p-1", ready_since=0)
    ready_desk(routing, "p-2", ready_since=500)
    caller(routing, "c-1")
    assert ring(routing).desk_id == "p-1"

    result = routing.offer_failed("c-1", "p-1", "NOANSWER", 3, now_ms=T0 + 21_000)

    assert result == OfferFailed(call_id="c-1", desk_id="p-1", requeued=True, queue="police",
                                 position=1, desk_state="ready", misses=1, missed=True)
    desk = routing.desk("p-1")
    assert (desk["state"], desk["call_id"], desk["since_ms"]) == ("ready", "", str(T0 + 21_000))
    assert ring(routing, now=22_000).desk_id == "p-2"


@pytest.mark.parametrize(
    ("status", "counts_a_miss"),
    [
        ("NOANSWER", True),
        ("BUSY", True),
        ("CHANUNAVAIL", True),
        ("CONGESTION", True),
        ("DESK_UNAVAILABLE", True),  # the desk phone is not registered
        ("DESK_INVALID", True),
        ("TIMEOUT", True),
        ("noanswer", True),
        ("REDIRECT_FAILED", False),
        ("BRIDGE_ERROR", False),
        ("LOST", False),
        ("CANCEL", False),
    ],
)
def test_which_statuses_count_a_miss(routing, status, counts_a_miss):
    caller(routing, "c-1")
    ready_desk(routing, "p-1")
    ring(routing)

    result = routing.offer_failed("c-1", "p-1", status, 5, now_ms=T0 + 2_000)

    assert result.missed is counts_a_miss
    assert routing.desk("p-1")["misses"] == ("1" if counts_a_miss else "0")
    assert routing.desk("p-1")["state"] == "ready"
    assert routing.call("c-1")["last_ring_status"] == status.upper()


@pytest.mark.parametrize("status", ["DESK_INUSE", "DESK_BUSY", "DESK_RINGING", "DESK_RINGINUSE", "DESK_ONHOLD"])
def test_a_desk_busy_outside_hotline_is_paused_without_a_miss(routing, status):
    caller(routing, "c-1")
    ready_desk(routing, "p-1")
    ring(routing)

    result = routing.offer_failed("c-1", "p-1", status, 5, now_ms=T0 + 2_000)

    assert (result.requeued, result.missed, result.desk_state) == (True, False, "paused")
    desk = routing.desk("p-1")
    assert (desk["state"], desk["reason"], desk["misses"]) == ("paused", "busy outside hotline", "0")
    assert routing.queue("police") == ["c-1"]


def test_misses_in_a_row_pause_the_desk(routing, redis_client):
    ready_desk(routing, "p-1")
    caller(routing, "c-1")
    states = []
    for attempt in range(3):
        now = 1_000 + attempt * 30_000
        assert ring(routing, now=now).desk_id == "p-1"
        result = routing.offer_failed("c-1", "p-1", "NOANSWER", 3, now_ms=T0 + now + 20_000)
        states.append((result.desk_state, result.misses))

    assert states == [("ready", 1), ("ready", 2), ("paused", 3)]
    desk = routing.desk("p-1")
    assert (desk["state"], desk["reason"], desk["call_id"]) == ("paused", "missed calls", "")
    assert redis_client.zcard(Keys().desks_ready("police")) == 0
    assert ring(routing, now=200_000) is None
    assert routing.queue("police") == ["c-1"]
    assert audit(redis_client) == []


def test_failure_after_the_caller_hung_up_changes_nothing_and_says_so(routing, redis_client):
    caller(routing, "c-1")
    ready_desk(routing, "p-1")
    ring(routing)
    routing.hangup("c-1", 30_000, now_ms=T0 + 1_500)
    events_before = len(routing.events())

    result = routing.offer_failed("c-1", "p-1", "CANCEL", 3, now_ms=T0 + 1_600)

    assert result == OfferFailed(
        call_id="c-1", desk_id="p-1", requeued=False,
        note="call c-1 is abandoned, not ringing at desk p-1; nothing changed")
    assert routing.call("c-1")["state"] == "abandoned"
    assert routing.queue("police") == []
    assert routing.desk("p-1")["misses"] == "0"
    assert len(routing.events()) == events_before
    assert audit(redis_client) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("c-1", "p-1", "", 3), "^status is required$"),
        (("c-1", "p-1", "NOANSWER", 0), "^missed_limit must be between 1 and any, got 0$"),
        (("c-404", "p-1", "NOANSWER", 3), "^unknown call c-404$"),
        (("c-1", "p-404", "NOANSWER", 3), "^unknown desk p-404$"),
    ],
)
def test_failed_refuses_bad_input(routing, args, message):
    caller(routing, "c-1")
    ready_desk(routing, "p-1")
    ring(routing)
    with pytest.raises(RoutingRefused, match=message):
        routing.offer_failed(*args, now_ms=T0 + 2_000)
    assert routing.call("c-1")["state"] == "ringing"

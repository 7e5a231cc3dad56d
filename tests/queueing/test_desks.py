"""desk_register, desk_set_state and wrapups_release."""

from __future__ import annotations

import pytest

from config.settings import Desk
from queueing import DeskChange, Keys, Routing, RoutingRefused
from queueing.audit import audit
from queueing.desks import register_and_set_state

T0 = 1_700_000_000_000
DESK_FIELDS = {"cross_trained", "desk_id", "agency", "state", "call_id", "since_ms", "reason", "misses",
               "wrap_up_until_ms"}


@pytest.fixture
def routing(redis_client):
    return Routing(redis_client)


def desk_in_state(routing, state, desk_id="p-1"):
    """Desk p-1 (police) in ``state``; ringing/on_call/wrap_up go through a real call c-1."""
    routing.register_desk(desk_id, "police", now_ms=T0)
    if state == "offline":
        return
    if state == "paused":
        routing.set_desk_state(desk_id, "login", now_ms=T0 + 50)
    if state in ("ready", "paused"):
        routing.set_desk_state(desk_id, state, reason="lunch", now_ms=T0 + 100)
        return
    routing.set_desk_state(desk_id, "ready", now_ms=T0 + 100)
    routing.arrive("c-1", "+15550100", "PJSIP/trunk-1", now_ms=T0)
    routing.enqueue("c-1", "police", 1, now_ms=T0)
    routing.claim_next(["police"], 20_000, now_ms=T0 + 1_000)
    if state == "ringing":
        return
    routing.offer_answered("c-1", desk_id, now_ms=T0 + 2_000)
    if state == "on_call":
        return
    routing.hangup("c-1", 30_000, now_ms=T0 + 10_000)


# -- register ------------------------------------------------------------------------------

def test_a_new_desk_is_offline(routing, redis_client):
    result = routing.register_desk("p-1", "police", now_ms=T0)

    assert result == DeskChange("p-1", "police", "offline", previous="", changed=True)
    desk = routing.desk("p-1")
    assert set(desk) == DESK_FIELDS
    assert (desk["state"], desk["agency"], desk["misses"], desk["since_ms"]) == (
        "offline", "police", "0", str(T0))
    assert redis_client.smembers(Keys().desks()) == {"p-1"}
    assert redis_client.smembers(Keys().desks_of("police")) == {"p-1"}


def test_cross_training_is_kept_and_can_change(routing):
    routing.register_desk("p-1", "police", cross_trained=["fire", "medical"], now_ms=T0)
    assert routing.desk("p-1")["cross_trained"] == "fire,medical"
    assert routing.register_desk("p-1", "police", cross_trained=["fire"], now_ms=T0).changed
    assert routing.desk("p-1")["cross_trained"] == "fire"
    assert not routing.register_desk("p-1", "police", cross_trained=["fire"], now_ms=T0).changed


def test_a_desk_cannot_be_cross_trained_for_its_own_agency(routing):
    with pytest.raises(RoutingRefused, match="cannot be cross-trained for its own agency police"):
        routing.register_desk("p-1", "police", cross_trained=["police"], now_ms=T0)


def test_registering_again_keeps_the_state(routing):
    desk_in_state(routing, "ready")
    result = routing.register_desk("p-1", "police", now_ms=T0 + 5_000)

    assert result == DeskChange("p-1", "police", "ready", previous="ready", changed=False)
    assert routing.desk("p-1")["since_ms"] == str(T0 + 100)


def test_agency_changes_while_offline(routing, redis_client):
    desk_in_state(routing, "offline")
    result = routing.register_desk("p-1", "fire", now_ms=T0 + 5_000)

    assert result == DeskChange("p-1", "fire", "offline", previous="offline", changed=True)
    routing.set_desk_state("p-1", "ready", now_ms=T0 + 6_000)
    assert redis_client.zrange(Keys().desks_ready("fire"), 0, -1) == ["p-1"]
    assert redis_client.zcard(Keys().desks_ready("police")) == 0


@pytest.mark.parametrize("state", ["ready", "paused", "ringing", "on_call", "wrap_up"])
def test_agency_change_is_refused_unless_offline(routing, state):
    desk_in_state(routing, state)
    with pytest.raises(RoutingRefused,
                       match=f"^desk p-1 is {state}; set it offline before moving it "
                             f"from police to fire$"):
        routing.register_desk("p-1", "fire", now_ms=T0 + 50_000)
    assert routing.desk("p-1")["agency"] == "police"


def test_general_is_not_an_agency(routing):
    with pytest.raises(RoutingRefused, match='"general" is a queue, not an agency'):
        routing.register_desk("g-1", "general", now_ms=T0)
    assert routing.desk("g-1") == {}


# -- set state -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("start", "target", "expected_state", "changed"),
    [
        ("offline", "ready", "ready", True),
        ("offline", "login", "paused", True),
        ("offline", "offline", "offline", False),
        ("ready", "paused", "paused", True),
        ("ready", "offline", "offline", True),
        ("ready", "ready", "ready", False),
        ("paused", "ready", "ready", True),
        ("paused", "paused", "paused", True),
        ("wrap_up", "ready", "ready", True),
        ("wrap_up", "offline", "offline", True),
        ("wrap_up", "paused", "paused", True),
    ],
)
def test_allowed_transitions(routing, redis_client, start, target, expected_state, changed):
    desk_in_state(routing, start)

    result = routing.set_desk_state("p-1", target, reason="shift", now_ms=T0 + 60_000)

    assert (result.state, result.previous, result.changed) == (expected_state, start, changed)
    desk = routing.desk("p-1")
    assert desk["state"] == expected_state
    ready = redis_client.zrange(Keys().desks_ready("police"), 0, -1)
    assert ready == (["p-1"] if expected_state == "ready" else [])
    assert redis_client.zcard(Keys().wrapups()) == 0
    assert audit(redis_client) == []


def test_ready_again_keeps_the_idle_place(routing, redis_client):
    desk_in_state(routing, "ready")
    routing.set_desk_state("p-1", "ready", now_ms=T0 + 60_000)
    assert redis_client.zscore(Keys().desks_ready("police"), "p-1") == T0 + 100


def test_ready_from_wrap_up_ends_the_wrap_up_early(routing, redis_client):
    desk_in_state(routing, "wrap_up")
    routing.set_desk_state("p-1", "ready", now_ms=T0 + 15_000)

    desk = routing.desk("p-1")
    assert (desk["state"], desk["call_id"], desk["wrap_up_until_ms"]) == ("ready", "", "")
    assert redis_client.zscore(Keys().desks_ready("police"), "p-1") == T0 + 15_000
    assert routing.release_wrapups(now_ms=T0 + 100_000) == []


def test_ready_after_a_missed_calls_pause_starts_a_new_run(routing):
    desk_in_state(routing, "ringing")
    routing.offer_failed("c-1", "p-1", "NOANSWER", 1, now_ms=T0 + 21_000)
    assert routing.desk("p-1")["reason"] == "missed calls"

    routing.set_desk_state("p-1", "ready", now_ms=T0 + 60_000)

    desk = routing.desk("p-1")
    assert (desk["state"], desk["misses"], desk["reason"]) == ("ready", "0", "")


def test_pause_reason_is_kept(routing):
    desk_in_state(routing, "ready")
    routing.set_desk_state("p-1", "paused", reason="briefing", now_ms=T0 + 1_000)
    assert routing.desk("p-1")["reason"] == "briefing"
    routing.set_desk_state("p-1", "paused", reason="break", now_ms=T0 + 2_000)
    assert routing.desk("p-1")["reason"] == "break"


@pytest.mark.parametrize(
    ("start", "target", "message"),
    [
        ("ringing", "ready", "^desk p-1 is ringing; cannot set ready$"),
        ("ringing", "offline", "^desk p-1 is ringing; cannot set offline$"),
        ("on_call", "paused", "^desk p-1 is on_call; cannot set paused$"),
        ("on_call", "ready", "^desk p-1 is on_call; cannot set ready$"),
        ("ready", "on_call",
         "^desk state on_call cannot be set by hand; allowed: offline, ready, paused, login$"),
        ("ready", "wrap_up",
         "^desk state wrap_up cannot be set by hand; allowed: offline, ready, paused, login$"),
        ("ready", "sleepy", '^unknown desk state "sleepy"; allowed: offline, ready, paused, login$'),
        ("ready", "", '^unknown desk state ""; allowed: offline, ready, paused, login$'),
        ("ready", "login", r"^desk p-1 is already logged in \(ready\)$"),
        ("paused", "login", r"^desk p-1 is already logged in \(paused\)$"),
        ("offline", "paused", "^desk p-1 is not logged in: log in first$"),
    ],
)
def test_refusals_are_clear_and_change_nothing(routing, start, target, message):
    desk_in_state(routing, start)
    before = routing.desk("p-1")

    with pytest.raises(RoutingRefused, match=message):
        routing.set_desk_state("p-1", target, now_ms=T0 + 60_000)
    assert routing.desk("p-1") == before


def test_unknown_desk_is_named(routing):
    with pytest.raises(RoutingRefused, match="^unknown desk desk-9$"):
        routing.set_desk_state("desk-9", "ready", now_ms=T0)


# -- wrap-up release -----------------------------------------------------------------------

def test_release_frees_only_desks_whose_wrap_up_ended(routing, redis_client):
    keys = Keys()
    for n, wrap_up_ms in enumerate([10_000, 30_000, 20_000]):
        desk_id, call_id = f"p-{n}", f"c-{n}"
        routing.register_desk(desk_id, "police", now_ms=T0)
        routing.set_desk_state(desk_id, "ready", now_ms=T0)
        routing.arrive(call_id, "+15550100", f"PJSIP/trunk-{n}", now_ms=T0)
        routing.enqueue(call_id, "police", 1, now_ms=T0)
        assert routing.claim_next(["police"], 20_000, now_ms=T0).desk_id == desk_id
        routing.offer_answered(call_id, desk_id, now_ms=T0)
        routing.hangup(call_id, wrap_up_ms, now_ms=T0)

    assert routing.release_wrapups(now_ms=T0 + 9_999) == []
    assert routing.release_wrapups(now_ms=T0 + 20_000) == ["p-0", "p-2"]
    assert routing.desk("p-0")["state"] == "ready"
    assert routing.desk("p-1")["state"] == "wrap_up"
    assert redis_client.zrange(keys.wrapups(), 0, -1) == ["p-1"]
    assert redis_client.zrange(keys.desks_ready("police"), 0, -1, withscores=True) == [
        ("p-0", T0 + 20_000), ("p-2", T0 + 20_000)]
    desk = routing.desk("p-2")
    assert (desk["call_id"], desk["wrap_up_until_ms"], desk["since_ms"]) == (
        "", "", str(T0 + 20_000))
    assert routing.release_wrapups(now_ms=T0 + 30_000) == ["p-1"]
    assert routing.release_wrapups(now_ms=T0 + 90_000) == []
    assert audit(redis_client) == []


def test_a_released_desk_takes_the_next_caller(routing):
    desk_in_state(routing, "wrap_up")
    routing.arrive("c-2", "+15550102", "PJSIP/trunk-2", now_ms=T0 + 20_000)
    routing.enqueue("c-2", "police", 1, now_ms=T0 + 20_000)
    assert routing.claim_next(["police"], 20_000, now_ms=T0 + 20_000) is None

    routing.release_wrapups(now_ms=T0 + 40_000)

    claim = routing.claim_next(["police"], 20_000, now_ms=T0 + 40_000)
    assert (claim.call_id, claim.desk_id) == ("c-2", "p-1")


def test_release_frees_a_desk_stuck_with_a_call_that_is_over(routing, redis_client):
    desk_in_state(routing, "ringing")  # ringing with c-1
    redis_client.hset(Keys().call("c-1"), mapping={"state": "abandoned", "desk": ""})  # an event lost for good
    change = routing.release_desk("p-1", now_ms=T0 + 50_000)
    assert (change.state, change.previous, change.changed) == ("ready", "ringing", True)
    assert redis_client.zrange(Keys().desks_ready("police"), 0, -1) == ["p-1"]


def test_release_refuses_a_desk_really_busy(routing):
    desk_in_state(routing, "on_call")
    with pytest.raises(RoutingRefused, match="^desk p-1 is really on_call with call c-1$"):
        routing.release_desk("p-1", now_ms=T0 + 50_000)


def test_release_leaves_other_states_alone(routing):
    desk_in_state(routing, "paused")
    assert routing.release_desk("p-1", now_ms=T0 + 50_000).changed is False


# -- register, then set state (API, CLI) ---------------------------------------------------

def test_register_and_set_state_makes_a_desk_redis_lost(routing, redis_client):
    desk = Desk(id="f-1", agency="fire", cross_trained=["police"])

    change = register_and_set_state(routing, desk, "ready", now_ms=T0)

    assert change == DeskChange("f-1", "fire", "ready", previous="offline", changed=True)
    record = routing.desk("f-1")
    assert (record["state"], record["agency"], record["cross_trained"]) == ("ready", "fire", "police")
    assert redis_client.zrange(Keys().desks_ready("fire"), 0, -1) == ["f-1"]
    assert audit(redis_client) == []


def test_register_and_set_state_keeps_a_known_desks_place(routing, redis_client):
    desk_in_state(routing, "ready")

    change = register_and_set_state(routing, Desk(id="p-1", agency="police"), "paused", reason="lunch",
                                    now_ms=T0 + 5_000)

    assert (change.previous, change.state) == ("ready", "paused")
    assert (routing.desk("p-1")["reason"], routing.desk("p-1")["since_ms"]) == ("lunch", str(T0 + 5_000))


def test_register_and_set_state_refused_leaves_the_desk_as_it_was(routing):
    desk_in_state(routing, "ringing")

    with pytest.raises(RoutingRefused, match="^desk p-1 is ringing; cannot set paused$"):
        register_and_set_state(routing, Desk(id="p-1", agency="police"), "paused", now_ms=T0 + 5_000)

    assert (routing.desk("p-1")["state"], routing.desk("p-1")["call_id"]) == ("ringing", "c-1")

"""Repeat callers (call_arrive), per-number policies (number_set_policy, call_enqueue) and the
nuisance score, against the real redis-server."""

from __future__ import annotations

import pytest

from queueing import Keys, Routing, RoutingRefused
from queueing.audit import audit
from queueing.numbers import NuisanceRules, Numbers, callable_number, nuisance, nuisance_kind

T0 = 1_700_000_000_000
WINDOW = 600_000
RULES = NuisanceRules()  # 10 s short, 24 h window, 6 h half-life, threshold 3


@pytest.fixture
def routing(redis_client):
    return Routing(redis_client)


@pytest.fixture
def numbers(redis_client):
    return Numbers(redis_client)


def arrive(routing, call_id, caller="0912345678", at=T0, window=WINDOW):
    routing.arrive(call_id, caller, f"PJSIP/citizens-{call_id}", repeat_window_ms=window, now_ms=at)
    return routing.call(call_id)


# --- repeat callers ------------------------------------------------------------------------------

def test_calls_within_the_window_are_linked_and_counted(routing, redis_client):
    first = arrive(routing, "c-1", at=T0)
    second = arrive(routing, "c-2", at=T0 + 60_000)
    third = arrive(routing, "c-3", at=T0 + 60_000 + WINDOW)  # exactly at the window's end

    assert (first["previous_call_id"], first["repeat_count"]) == ("", "0")
    assert (second["previous_call_id"], second["repeat_count"]) == ("c-1", "1")
    assert (third["previous_call_id"], third["repeat_count"]) == ("c-2", "2")
    keys = Keys()
    assert redis_client.zrange(keys.number_calls("0912345678"), 0, -1) == ["c-1", "c-2", "c-3"]
    assert redis_client.hget(keys.number("0912345678"), "last_call_id") == "c-3"
    assert 0 < redis_client.pttl(keys.number("0912345678")) <= 7 * 86_400_000
    assert 0 < redis_client.pttl(keys.number_calls("0912345678")) <= 7 * 86_400_000
    arrived = [e for e in routing.events() if e["type"] == "call_arrived"]
    assert [e["repeat_count"] for e in arrived] == ["0", "1", "2"]


def test_a_call_after_the_window_starts_a_new_run(routing):
    arrive(routing, "c-1", at=T0)
    arrive(routing, "c-2", at=T0 + 60_000)
    late = arrive(routing, "c-3", at=T0 + 60_000 + WINDOW + 1)
    assert (late["previous_call_id"], late["repeat_count"]) == ("", "0")


def test_the_window_comes_from_the_caller(routing):
    arrive(routing, "c-1", at=T0)
    assert arrive(routing, "c-2", at=T0 + 5_000, window=0)["repeat_count"] == "0"
    assert arrive(routing, "c-3", at=T0 + 5_000, window=5_000)["previous_call_id"] == "c-2"


def test_the_default_window_is_ten_minutes(routing):
    routing.arrive("c-1", "0912345678", "PJSIP/a", now_ms=T0)
    routing.arrive("c-2", "0912345678", "PJSIP/b", now_ms=T0 + 600_000)
    routing.arrive("c-3", "0912345678", "PJSIP/c", now_ms=T0 + 1_200_001)
    assert [routing.call(c)["repeat_count"] for c in ("c-1", "c-2", "c-3")] == ["0", "1", "0"]


@pytest.mark.parametrize("caller", ["", "anonymous", "unknown", "12", "09-12", "1" * 21])
def test_withheld_and_odd_numbers_are_never_linked(routing, redis_client, caller):
    arrive(routing, "c-1", caller=caller, at=T0)
    second = arrive(routing, "c-2", caller=caller, at=T0 + 1_000)
    assert (second["previous_call_id"], second["repeat_count"]) == ("", "0")
    assert redis_client.keys("hotline:number:*") == []


def test_only_the_newest_200_calls_are_kept(routing, redis_client):
    for i in range(205):
        arrive(routing, f"c-{i}", at=T0 + i * 1_000_000)
    ids = redis_client.zrange(Keys().number_calls("0912345678"), 0, -1)
    assert len(ids) == 200 and ids[0] == "c-5" and ids[-1] == "c-204"


def test_arrive_refuses_a_bad_window_before_writing(routing, redis_client):
    with pytest.raises(RoutingRefused, match="repeat_window_ms must be"):
        routing.arrive("c-1", "0912345678", "PJSIP/a", repeat_window_ms=-1, now_ms=T0)
    assert redis_client.keys("hotline:*") == []


@pytest.mark.parametrize(("number", "ok"), [
    ("0912345678", True), ("+84912345678", True), ("113", True), ("12", False), ("", False),
    ("anonymous", False), ("+", False), ("09 12", False), ("1" * 20, True), ("1" * 21, False),
])
def test_callable_number_matches_lua(routing, redis_client, number, ok):
    assert callable_number(number) is ok
    routing.arrive("c-1", number, "PJSIP/a", now_ms=T0)
    assert bool(redis_client.keys("hotline:number:*")) is ok


# --- policies -------------------------------------------------------------------------------------

def enqueue(routing, call_id, caller, queue="police", priority=1, at=T0):
    routing.arrive(call_id, caller, f"PJSIP/citizens-{call_id}", now_ms=at)
    return routing.enqueue(call_id, queue, priority, choice="1", route_reason="chosen", now_ms=at + 1_000)


def test_lower_priority_adds_its_delta_at_enqueue(routing, numbers, redis_client):
    numbers.set_policy("0912345678", "lower_priority", priority_delta=3, set_by="sup-1",
                       note="many silent calls", now_ms=T0)
    enqueued = enqueue(routing, "c-1", "0912345678", priority=1)
    other = enqueue(routing, "c-2", "0987654321", priority=1, at=T0 + 5_000)

    call = routing.call("c-1")
    assert (call["priority"], call["policy_applied"], call["queue"]) == ("4", "lower_priority", "police")
    assert enqueued.queue_score == 4 * 10**13 + T0
    assert routing.call("c-2")["policy_applied"] == ""
    assert routing.queue("police") == ["c-2", "c-1"]  # later, but not lowered
    assert other.position == 1
    assert audit(redis_client) == []


def test_lower_priority_stops_at_99(routing, numbers):
    numbers.set_policy("0912345678", "lower_priority", priority_delta=9, set_by="sup-1", now_ms=T0)
    enqueue(routing, "c-1", "0912345678", priority=95)
    assert routing.call("c-1")["priority"] == "99"


def test_general_only_sends_the_caller_to_the_general_queue(routing, numbers, redis_client):
    numbers.set_policy("+84912345678", "general_only", set_by="sup-1", now_ms=T0)
    enqueued = enqueue(routing, "c-1", "+84912345678", queue="police", priority=1)

    assert (enqueued.queue, routing.call("c-1")["queue"]) == ("general", "general")
    assert routing.call("c-1")["priority"] == "1"  # the priority it had
    assert routing.call("c-1")["policy_applied"] == "general_only"
    assert routing.queue("general") == ["c-1"] and routing.queue("police") == []
    queued = [e for e in routing.events() if e["type"] == "call_queued"][-1]
    assert (queued["queue"], queued["policy_applied"]) == ("general", "general_only")
    assert audit(redis_client) == []


def test_removing_a_policy(routing, numbers, redis_client):
    numbers.set_policy("0912345678", "general_only", set_by="sup-1", now_ms=T0)
    removed = numbers.set_policy("0912345678", "none", set_by="sup-2", now_ms=T0 + 1)
    assert (removed["policy"], removed["previous"]) == ("none", "general_only")
    assert numbers.policy("0912345678") == {"policy": "none"}
    assert numbers.policies() == []
    enqueue(routing, "c-1", "0912345678")
    assert routing.call("c-1")["queue"] == "police"


def test_policy_record_and_listing(numbers):
    numbers.set_policy("0911111111", "general_only", set_by="sup-1", note="pranks", now_ms=T0)
    numbers.set_policy("0922222222", "lower_priority", priority_delta=2, set_by="sup-2", now_ms=T0 + 5)
    assert numbers.policy("0911111111") == {
        "number": "0911111111", "policy": "general_only", "priority_delta": "0",
        "set_by": "sup-1", "set_ms": str(T0), "note": "pranks"}
    assert [p["number"] for p in numbers.policies()] == ["0922222222", "0911111111"]


@pytest.mark.parametrize(("number", "policy", "delta", "set_by", "message"), [
    ("anonymous", "general_only", 1, "sup", 'number "anonymous" is not a caller number'),
    ("0912345678", "block", 1, "sup", 'unknown policy "block"'),
    ("0912345678", "lower_priority", 0, "sup", "priority_delta must be between 1 and 9"),
    ("0912345678", "lower_priority", 10, "sup", "priority_delta must be between 1 and 9"),
    ("0912345678", "general_only", 1, "", "set_by is required"),
])
def test_set_policy_refuses_bad_input_before_writing(numbers, redis_client, number, policy, delta,
                                                     set_by, message):
    with pytest.raises(RoutingRefused, match=message):
        numbers.set_policy(number, policy, priority_delta=delta, set_by=set_by, now_ms=T0)
    assert redis_client.keys("hotline:*") == []


# --- nuisance score ---------------------------------------------------------------------------

def record(call_id, arrived, duration_ms, outcome="answered", choice="1", route_reason="chosen"):
    return {"call_id": call_id, "arrived_ms": str(arrived), "ended_ms": str(arrived + duration_ms),
            "state": "abandoned" if outcome == "abandoned" else "ended", "outcome": outcome,
            "choice": choice, "route_reason": route_reason}


@pytest.mark.parametrize(("call", "kind"), [
    (record("c", T0, 4_000), "short"),                                     # 4 s, answered or not
    (record("c", T0, 9_999, outcome="abandoned"), "short"),
    (record("c", T0, 10_000), None),                                       # a 10 s call is fine
    (record("c", T0, 40_000, outcome="abandoned", choice="", route_reason=""), "silent"),
    (record("c", T0, 70_000, outcome="abandoned", choice="", route_reason="no_input"), "silent"),
    (record("c", T0, 70_000, outcome="abandoned", choice="7", route_reason="invalid"), None),
    (record("c", T0, 70_000, outcome="abandoned"), None),                 # chose, then gave up
    (record("c", T0, 70_000, outcome="answered", choice="", route_reason="no_input"), None),
    ({"call_id": "c", "arrived_ms": str(T0), "ended_ms": "", "state": "queued"}, None),
])
def test_nuisance_kind(call, kind):
    assert nuisance_kind(call, 10_000) == kind


def disposed(call, disposition):
    return call | {"disposition": disposition}


@pytest.mark.parametrize(("call", "kind"), [
    (disposed(record("c", T0, 120_000), "prank"), "prank"),                 # a long call the call-taker judged
    (disposed(record("c", T0, 120_000), "false_call"), "false_call"),
    (disposed(record("c", T0, 3_000), "prank"), "prank"),                    # the disposition wins over "short"
    (disposed(record("c", T0, 120_000), "dispatched"), None),                # a real emergency
    (disposed(record("c", T0, 3_000), "advice_given"), "short"),             # not a nuisance disposition: length rules
    (disposed(record("c", T0, 120_000), "duplicate"), None),
    ({"call_id": "c", "arrived_ms": str(T0), "ended_ms": "", "state": "on_call", "disposition": "prank"}, None),
])
def test_nuisance_kind_learns_from_dispositions(call, kind):
    assert nuisance_kind(call, 10_000) == kind


@pytest.mark.parametrize(("dispositions", "score", "false_calls", "pranks"), [
    (["prank"], 2.0, 0, 1),
    (["false_call"], 1.0, 1, 0),
    (["prank", "false_call"], 3.0, 1, 1),
    (["dispatched", "advice_given"], 0.0, 0, 0),
])
def test_dispositions_weigh_in_the_score(dispositions, score, false_calls, pranks):
    calls = [disposed(record(f"c-{i}", T0 + i, 60_000), d) for i, d in enumerate(dispositions)]
    found = nuisance(calls, T0 + 60_000 + len(calls), RULES)
    assert found.score == pytest.approx(score, abs=0.01)
    assert (found.false_calls, found.pranks) == (false_calls, pranks)
    assert found.likely == (score >= 3)


def test_nuisance_score_halves_every_half_life_and_ignores_old_calls():
    hour = 3_600_000
    now = T0 + 30 * hour
    calls = [
        record("c-now", now - 5_000, 3_000),                   # counts ~1
        record("c-6h", now - 6 * hour, 2_000),                 # counts ~0.5
        record("c-12h", now - 12 * hour, 40_000, outcome="abandoned", choice="", route_reason="no_input"),
        record("c-ok", now - 2 * hour, 120_000),               # a real call: 0
        record("c-25h", now - 25 * hour, 1_000),               # outside the 24 h window
    ]
    score = nuisance(calls, now, RULES)
    assert score.score == pytest.approx(1 + 0.5 + 0.25, abs=0.01)
    assert (score.short_calls, score.silent_calls, score.calls, score.likely) == (2, 1, 4, False)
    assert score.flagged == [("c-now", "short"), ("c-6h", "short"), ("c-12h", "silent")]


def test_many_recent_short_calls_make_a_likely_nuisance():
    calls = [record(f"c-{i}", T0 + i * 60_000, 2_000) for i in range(4)]
    score = nuisance(calls, T0 + 10 * 60_000, RULES)
    assert score.likely and score.score >= 3
    assert not nuisance(calls[:2], T0 + 10 * 60_000, RULES).likely


def test_number_view_from_redis(routing, numbers):
    # Three 3-second hang-ups in the IVR, then a real call answered by a desk.
    for i in range(3):
        routing.arrive(f"c-{i}", "0912345678", "PJSIP/a", now_ms=T0 + i * 60_000)
        routing.hangup(f"c-{i}", 10_000, now_ms=T0 + i * 60_000 + 3_000)
    routing.register_desk("p-1", "police", now_ms=T0)
    routing.set_desk_state("p-1", "ready", now_ms=T0)
    routing.arrive("c-3", "0912345678", "PJSIP/a", now_ms=T0 + 200_000)
    routing.enqueue("c-3", "police", 1, choice="1", route_reason="chosen", now_ms=T0 + 205_000)
    routing.claim_next(["police"], 20_000, now_ms=T0 + 206_000)
    routing.offer_answered("c-3", "p-1", now_ms=T0 + 208_000)
    numbers.set_policy("0912345678", "lower_priority", priority_delta=2, set_by="sup-1", now_ms=T0)

    view = numbers.view("0912345678", RULES, now_ms=T0 + 300_000)

    assert view["tracked"] and view["repeat_count"] == 3 and view["last_call_id"] == "c-3"
    assert view["last_answered_call"] == "c-3"
    assert view["nuisance"]["short_calls"] == 3 and view["nuisance"]["silent_calls"] == 0
    assert view["nuisance"]["score"] == pytest.approx(3, abs=0.05)
    assert view["nuisance"]["likely_nuisance"] is False  # 2.99…: just under
    assert "halving every 6 h" in view["nuisance"]["formula"]
    assert view["policy"]["policy"] == "lower_priority"
    assert [c["call_id"] for c in view["recent_calls"]] == ["c-3", "c-2", "c-1", "c-0"]
    assert [c["nuisance"] for c in view["recent_calls"]] == ["", "short", "short", "short"]
    assert view["recent_calls"][1]["previous_call_id"] == "c-1"


def test_an_untracked_number_says_so(numbers):
    assert numbers.view("anonymous", RULES, now_ms=T0)["tracked"] is False

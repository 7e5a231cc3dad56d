"""callback_create, callback_claim, callback_outcome and offer_answered's closing of a
repeat caller's callback, against the real redis-server."""

from __future__ import annotations

import pytest

from queueing import Keys, Routing, RoutingRefused
from queueing.audit import audit
from queueing.callbacks import Callbacks, CallbackStatus, Outcome, RetryRules

T0 = 1_700_000_000_000
RULES = RetryRules(retry_after_ms=300_000, max_attempts=3, desk_retry_ms=30_000)
AGENCIES = ["police", "fire"]


@pytest.fixture
def routing(redis_client):
    return Routing(redis_client)


@pytest.fixture
def cb(redis_client):
    return Callbacks(redis_client)


def abandon(routing, call_id, caller="0912345678", queue="police", priority=1, at=T0,
            stage="queued"):
    """A call that arrived at ``at`` and hung up 30 s later in ``stage``."""
    routing.arrive(call_id, caller, f"PJSIP/citizens-{call_id}", now_ms=at)
    if stage == "queued":
        routing.enqueue(call_id, queue, priority, now_ms=at + 5_000)
    result = routing.hangup(call_id, 10_000, now_ms=at + 30_000)
    assert result.result == "abandoned"


def events_of(routing, kind):
    return [e for e in routing.events(1000) if e["type"] == kind]


def ready(routing, desk_id, agency, at):
    routing.register_desk(desk_id, agency, now_ms=T0)
    routing.set_desk_state(desk_id, "ready", now_ms=at)


# --- callback_create ---------------------------------------------------------------------------

def test_an_abandoned_call_becomes_a_pending_task_on_its_queue(routing, cb, redis_client):
    abandon(routing, "c-1", priority=2)
    task = cb.create("c-1", now_ms=T0 + 40_000)

    assert task.created
    assert (task.status, task.queue, task.number, task.priority, task.attempts) == (
        CallbackStatus.PENDING, "police", "0912345678", 2, 0)
    assert task.abandoned_ms == T0 + 30_000
    assert task.next_attempt_ms == T0 + 40_000  # due now
    assert task.record["abandon_stage"] == "queued"
    keys = Keys()
    assert redis_client.zscore(keys.callback_tasks("police"), "c-1") == 2 * 10**13 + T0 + 30_000
    assert redis_client.hget(keys.number("0912345678"), "open_callback") == "c-1"
    assert [e["status"] for e in events_of(routing, "callback_created")] == ["pending"]
    assert audit(redis_client) == []


def test_create_is_idempotent(routing, cb, redis_client):
    abandon(routing, "c-1")
    first = cb.create("c-1", now_ms=T0 + 40_000)
    second = cb.create("c-1", now_ms=T0 + 90_000)

    assert (first.created, second.created) == (True, False)
    assert second.record == first.record  # unchanged, not re-created at 90 s
    assert redis_client.zcard(Keys().callback_tasks("police")) == 1
    assert len(events_of(routing, "callback_created")) == 1


def test_a_caller_who_never_chose_is_called_back_from_general_at_top_priority(routing, cb):
    abandon(routing, "c-1", stage="ivr")
    task = cb.create("c-1", now_ms=T0 + 40_000)
    assert (task.queue, task.priority, task.record["abandon_stage"]) == ("general", 0, "ivr")


@pytest.mark.parametrize(
    ("caller", "reason"),
    [("", "number withheld"), ("anonymous", 'number "anonymous" cannot be dialled'),
     ("12", 'number "12" cannot be dialled')],
)
def test_withheld_or_undialable_numbers_are_not_possible(routing, cb, redis_client, caller, reason):
    abandon(routing, "c-1", caller=caller)
    task = cb.create("c-1", now_ms=T0 + 40_000)

    assert (task.status, task.reason) == (CallbackStatus.NOT_POSSIBLE, reason)
    assert task.next_attempt_ms is None
    assert redis_client.zcard(Keys().callback_tasks("police")) == 0
    assert cb.open_tasks("police") == []


def test_one_open_task_per_number_the_second_abandonment_is_counted_on_it(routing, cb):
    abandon(routing, "c-1", at=T0)
    abandon(routing, "c-2", at=T0 + 60_000)
    first = cb.create("c-1", now_ms=T0 + 40_000)
    second = cb.create("c-2", now_ms=T0 + 100_000)

    assert second.status == CallbackStatus.NOT_NEEDED
    assert second.reason == "the number already has callback c-1"
    assert cb.task("c-1").record["abandons"] == "2"
    assert [t["call_id"] for t in cb.open_tasks("police")] == [first.call_id]


@pytest.mark.parametrize(("state", "message"), [
    ("unknown", "unknown call c-9"),
    ("queued", "call c-1 is queued; only an abandoned call gets a callback"),
])
def test_create_refuses_a_call_that_is_not_abandoned(routing, cb, redis_client, state, message):
    if state == "queued":
        routing.arrive("c-1", "0912345678", "PJSIP/t", now_ms=T0)
        routing.enqueue("c-1", "police", 1, now_ms=T0)
    with pytest.raises(RoutingRefused, match=message):
        cb.create("c-9" if state == "unknown" else "c-1", now_ms=T0)
    assert not redis_client.keys("hotline:callback:*")


# --- a repeat caller who got through -----------------------------------------------------------

def answered(routing, call_id, caller, desk_id="p-1", at=T0 + 100_000):
    ready(routing, desk_id, "police", at)
    routing.arrive(call_id, caller, f"PJSIP/citizens-{call_id}", now_ms=at)
    routing.enqueue(call_id, "police", 1, now_ms=at + 1_000)
    claim = routing.claim_next(["police"], 20_000, now_ms=at + 2_000)
    assert claim.call_id == call_id
    routing.offer_answered(call_id, claim.desk_id, now_ms=at + 3_000)


def test_offer_answered_makes_the_numbers_open_callback_not_needed(routing, cb, redis_client):
    abandon(routing, "c-1")
    cb.create("c-1", now_ms=T0 + 40_000)
    answered(routing, "c-2", "0912345678")

    task = cb.task("c-1")
    assert (task.status, task.reason) == (CallbackStatus.NOT_NEEDED,
                                          "called again and was answered (call c-2)")
    assert task.record["closed_ms"] == str(T0 + 103_000)
    assert cb.open_tasks("police") == []
    assert redis_client.hget(Keys().number("0912345678"), "open_callback") is None
    assert [e["call_id"] for e in events_of(routing, "callback_not_needed")] == ["c-1"]
    assert audit(redis_client) == []


def test_another_numbers_answer_leaves_the_task_open(routing, cb):
    abandon(routing, "c-1")
    cb.create("c-1", now_ms=T0 + 40_000)
    answered(routing, "c-2", "0987654321")
    assert cb.task("c-1").status == CallbackStatus.PENDING


def test_a_task_created_after_the_citizen_got_through_is_not_needed(routing, cb):
    abandon(routing, "c-1")
    answered(routing, "c-2", "0912345678")  # the job ran late
    task = cb.create("c-1", now_ms=T0 + 200_000)
    assert (task.status, task.reason) == (CallbackStatus.NOT_NEEDED,
                                          "called again and was answered (call c-2)")


# --- callback_claim --------------------------------------------------------------------------

def test_claim_books_the_longest_idle_desk_of_the_agency(routing, cb, redis_client):
    abandon(routing, "c-1")
    cb.create("c-1", now_ms=T0 + 40_000)
    ready(routing, "p-1", "police", T0 + 20_000)
    ready(routing, "p-2", "police", T0 + 10_000)
    ready(routing, "f-1", "fire", T0 + 1_000)  # idle longer, but not police

    claim = cb.claim("c-1", AGENCIES, now_ms=T0 + 50_000)

    assert (claim.result, claim.desk_id, claim.number, claim.status) == (
        "claimed", "p-2", "0912345678", "dialing")
    desk = routing.desk("p-2")
    assert (desk["state"], desk["reason"]) == ("paused", "callback c-1")
    assert redis_client.zrange(Keys().desks_ready("police"), 0, -1) == ["p-1"]
    task = cb.task("c-1")
    assert (task.status, task.desk, task.record["dialing_ms"]) == ("dialing", "p-2", str(T0 + 50_000))
    assert task.attempts == 0  # counted when the outcome is known
    assert audit(redis_client) == []


def test_a_general_task_takes_any_agencys_longest_idle_desk(routing, cb):
    abandon(routing, "c-1", stage="ivr")
    cb.create("c-1", now_ms=T0 + 40_000)
    ready(routing, "p-1", "police", T0 + 20_000)
    ready(routing, "f-1", "fire", T0 + 10_000)
    assert cb.claim("c-1", AGENCIES, now_ms=T0 + 50_000).desk_id == "f-1"


@pytest.mark.parametrize("waiting_queue", ["police", "general"])
def test_callers_on_the_line_come_before_a_callback(routing, cb, waiting_queue):
    abandon(routing, "c-1")
    cb.create("c-1", now_ms=T0 + 40_000)
    ready(routing, "p-1", "police", T0 + 20_000)
    routing.arrive("c-2", "0900000002", "PJSIP/citizens-c-2", now_ms=T0 + 45_000)
    routing.enqueue("c-2", waiting_queue, 1, now_ms=T0 + 46_000)

    claim = cb.claim("c-1", AGENCIES, now_ms=T0 + 50_000)
    assert (claim.result, claim.status) == ("callers_waiting", "pending")
    assert routing.desk("p-1")["state"] == "ready"


def test_a_caller_for_another_agency_does_not_hold_a_police_callback(routing, cb):
    abandon(routing, "c-1")
    cb.create("c-1", now_ms=T0 + 40_000)
    ready(routing, "p-1", "police", T0 + 20_000)
    routing.arrive("c-2", "0900000002", "PJSIP/citizens-c-2", now_ms=T0 + 45_000)
    routing.enqueue("c-2", "fire", 1, now_ms=T0 + 46_000)
    assert cb.claim("c-1", AGENCIES, now_ms=T0 + 50_000).result == "claimed"


def test_claim_without_a_ready_desk(routing, cb):
    abandon(routing, "c-1")
    cb.create("c-1", now_ms=T0 + 40_000)
    routing.register_desk("p-1", "police", now_ms=T0)  # offline
    assert cb.claim("c-1", AGENCIES, now_ms=T0 + 50_000).result == "no_desk"
    assert cb.task("c-1").status == CallbackStatus.PENDING


def test_claim_before_the_next_attempt_is_due(routing, cb):
    abandon(routing, "c-1")
    cb.create("c-1", now_ms=T0 + 40_000)
    ready(routing, "p-1", "police", T0 + 20_000)
    cb.claim("c-1", AGENCIES, now_ms=T0 + 50_000)
    cb.record("c-1", Outcome.NO_ANSWER, RULES, expected="dialing", now_ms=T0 + 80_000)

    assert cb.claim("c-1", AGENCIES, now_ms=T0 + 80_000 + 299_999).result == "not_due"
    assert cb.claim("c-1", AGENCIES, now_ms=T0 + 80_000 + 300_000).result == "claimed"


def test_claim_of_a_task_being_dialled_or_final_does_nothing(routing, cb):
    abandon(routing, "c-1")
    cb.create("c-1", now_ms=T0 + 40_000)
    ready(routing, "p-1", "police", T0 + 20_000)
    ready(routing, "p-2", "police", T0 + 21_000)
    cb.claim("c-1", AGENCIES, now_ms=T0 + 50_000)
    assert cb.claim("c-1", AGENCIES, now_ms=T0 + 51_000).result == "not_open"
    assert routing.desk("p-2")["state"] == "ready"


def test_claim_closes_the_task_of_a_citizen_who_got_through(routing, cb):
    abandon(routing, "c-1")
    cb.create("c-1", now_ms=T0 + 40_000)
    ready(routing, "p-1", "police", T0 + 50_000)
    cb.claim("c-1", AGENCIES, now_ms=T0 + 60_000)
    cb.record("c-1", Outcome.BUSY, RULES, expected="dialing", now_ms=T0 + 70_000)
    answered(routing, "c-2", "0912345678", desk_id="p-2", at=T0 + 100_000)
    # offer_answered closed it already (it was retry_at); a claim sees it final.
    assert cb.claim("c-1", AGENCIES, now_ms=T0 + 500_000).result == "not_open"
    assert cb.task("c-1").status == CallbackStatus.NOT_NEEDED


def test_claim_refuses_bad_input(routing, cb):
    with pytest.raises(RoutingRefused, match="unknown callback c-1"):
        cb.claim("c-1", AGENCIES, now_ms=T0)
    with pytest.raises(RoutingRefused, match="needs at least one agency"):
        cb.claim("c-1", [], now_ms=T0)
    with pytest.raises(RoutingRefused, match='"general" is a queue, not an agency'):
        cb.claim("c-1", ["general"], now_ms=T0)


# --- callback_outcome ------------------------------------------------------------------------

@pytest.fixture
def dialing(routing, cb):
    """Task c-1 being dialled from desk p-1 (police), claimed at T0 + 50 s."""
    abandon(routing, "c-1")
    cb.create("c-1", now_ms=T0 + 40_000)
    ready(routing, "p-1", "police", T0 + 20_000)
    assert cb.claim("c-1", AGENCIES, now_ms=T0 + 50_000).result == "claimed"


def test_no_answer_schedules_a_retry_and_frees_the_desk(routing, cb, redis_client, dialing):
    task = cb.record("c-1", Outcome.NO_ANSWER, RULES, expected="dialing", now_ms=T0 + 90_000)

    assert (task.status, task.attempts, task.next_attempt_ms, task.last_outcome) == (
        CallbackStatus.RETRY_AT, 1, T0 + 390_000, "no_answer")
    assert task.reason == "attempt 1 of 3: no_answer"
    desk = routing.desk("p-1")
    assert (desk["state"], desk["since_ms"]) == ("ready", str(T0 + 90_000))
    assert [t["call_id"] for t in cb.open_tasks("police")] == ["c-1"]
    attempt = events_of(routing, "callback_attempt")[-1]
    assert (attempt["outcome"], attempt["attempts"], attempt["status"], attempt["desk_id"]) == (
        "no_answer", "1", "retry_at", "p-1")
    assert audit(redis_client) == []


def test_reached_closes_the_task_and_the_desk_stays_with_the_citizen(routing, cb, redis_client,
                                                                     dialing):
    task = cb.record("c-1", Outcome.REACHED, RULES, expected="dialing", now_ms=T0 + 90_000)

    assert (task.status, task.attempts, task.next_attempt_ms) == (CallbackStatus.REACHED, 1, None)
    assert task.record["closed_ms"] == str(T0 + 90_000)
    assert (routing.desk("p-1")["state"], routing.desk("p-1")["reason"]) == ("paused", "callback c-1")
    assert cb.open_tasks("police") == []
    assert redis_client.hget(Keys().number("0912345678"), "open_callback") is None
    # The call-taker sets Ready when the conversation is over.
    routing.set_desk_state("p-1", "ready", now_ms=T0 + 200_000)
    assert audit(redis_client) == []


def test_given_up_after_max_attempts(routing, cb, dialing):
    now = T0 + 90_000
    for attempt in range(1, 4):
        task = cb.record("c-1", Outcome.NO_ANSWER, RULES, expected="dialing", now_ms=now)
        if attempt < 3:
            now = task.next_attempt_ms
            assert cb.claim("c-1", AGENCIES, now_ms=now).result == "claimed"
    assert (task.status, task.attempts) == (CallbackStatus.GIVEN_UP, 3)
    assert task.reason == "not reached in 3 attempts (last: no_answer)"
    assert routing.desk("p-1")["state"] == "ready"
    assert [e["call_id"] for e in events_of(routing, "callback_given_up")] == ["c-1"]


def test_an_outcome_reported_twice_changes_nothing(routing, cb, dialing):
    first = cb.record("c-1", Outcome.REACHED, RULES, expected="dialing", now_ms=T0 + 90_000)
    again = cb.record("c-1", Outcome.NO_ANSWER, RULES, expected="dialing", now_ms=T0 + 95_000)
    assert again.record == first.record


def test_a_retry_for_a_citizen_who_got_through_meanwhile_is_not_needed(routing, cb, dialing):
    answered(routing, "c-2", "0912345678", desk_id="p-2", at=T0 + 60_000)
    assert cb.task("c-1").status == CallbackStatus.DIALING  # in flight: left to its outcome
    task = cb.record("c-1", Outcome.NO_ANSWER, RULES, expected="dialing", now_ms=T0 + 90_000)
    assert (task.status, task.reason) == (CallbackStatus.NOT_NEEDED,
                                          "called again and was answered (call c-2)")


def test_a_call_taker_records_a_callback_made_by_hand(routing, cb):
    abandon(routing, "c-1")
    cb.create("c-1", now_ms=T0 + 40_000)
    routing.register_desk("p-1", "police", now_ms=T0)
    task = cb.record("c-1", Outcome.BUSY, RULES, desk_id="p-1", now_ms=T0 + 60_000)
    assert (task.status, task.attempts, task.desk) == (CallbackStatus.RETRY_AT, 1, "p-1")
    task = cb.record("c-1", Outcome.REACHED, RULES, desk_id="p-1", now_ms=T0 + 70_000)
    assert (task.status, task.attempts) == (CallbackStatus.REACHED, 2)
    assert routing.desk("p-1")["state"] == "offline"  # a manual call books no desk


def test_outcome_refuses_the_wrong_expectation(routing, cb, dialing):
    with pytest.raises(RoutingRefused, match="callback c-1 is being dialled from desk p-1"):
        cb.record("c-1", Outcome.REACHED, RULES, expected="open", now_ms=T0 + 60_000)
    abandon(routing, "c-3", caller="0900000003")
    cb.create("c-3", now_ms=T0 + 40_000)
    with pytest.raises(RoutingRefused, match="callback c-3 is pending, not dialing"):
        cb.record("c-3", Outcome.REACHED, RULES, expected="dialing", now_ms=T0 + 60_000)


def test_outcome_script_validates_before_writing(routing, cb, redis_client, dialing):
    before = redis_client.hgetall(Keys().callback("c-1"))
    script = cb.scripts["callback_outcome"]
    keys, prefix = Keys().fixed(), "hotline:"
    for args, message in [
        (["c-1", "later", "no_answer", "retry_at", 1, T0, "", ""], "expected must be dialing or open"),
        (["c-1", "dialing", "no_answer", "dialing", 1, T0, "", ""], "status must be retry_at"),
        (["c-1", "dialing", "no_answer", "retry_at", -1, T0, "", ""], "attempts must be between"),
        (["c-1", "dialing", "no_answer", "retry_at", 1, "soon", "", ""], "next_attempt_ms must be an integer"),
        (["c-1", "dialing", "no_answer", "retry_at", 1, T0, "", "bad desk"], "desk_id"),
    ]:
        with pytest.raises(Exception, match=message):
            script(keys=keys, args=[prefix, T0 + 60_000, *args])
    assert redis_client.hgetall(Keys().callback("c-1")) == before
    assert routing.desk("p-1")["state"] == "paused"


# --- the desks' list ---------------------------------------------------------------------------

def test_open_tasks_by_priority_then_oldest_abandonment_with_the_general_queue(routing, cb):
    abandon(routing, "c-police-late", caller="0900000001", priority=1, at=T0 + 20_000)
    abandon(routing, "c-police-early", caller="0900000002", priority=1, at=T0)
    abandon(routing, "c-general", caller="0900000003", stage="ivr", at=T0 + 50_000)
    abandon(routing, "c-fire", caller="0900000004", queue="fire", priority=1, at=T0)
    abandon(routing, "c-withheld", caller="", priority=0, at=T0)
    for call_id in ("c-police-late", "c-police-early", "c-general", "c-fire", "c-withheld"):
        cb.create(call_id, now_ms=T0 + 100_000)

    assert [t["call_id"] for t in cb.open_tasks("police")] == [
        "c-general", "c-police-early", "c-police-late"]
    assert [t["call_id"] for t in cb.open_tasks("general")] == ["c-general"]
    assert [t["call_id"] for t in cb.open_tasks("fire")] == ["c-general", "c-fire"]


def test_abandoned_calls_without_a_task_are_found_for_the_sweep(routing, cb):
    abandon(routing, "c-1", caller="0900000001", at=T0)
    abandon(routing, "c-2", caller="0900000002", at=T0 + 10_000)
    abandon(routing, "c-old", caller="0900000003", at=T0 - 86_400_000)
    cb.create("c-2", now_ms=T0 + 100_000)
    assert cb.abandoned_without_task("police", T0 - 1_000) == ["c-1"]

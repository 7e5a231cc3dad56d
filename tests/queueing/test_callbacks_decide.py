"""queueing.callbacks.decide: a task's state and an attempt's outcome → its next state."""

from __future__ import annotations

import pytest

from queueing.callbacks import CallbackStatus as S
from queueing.callbacks import CallbackTask, Outcome, RetryRules, Transition, decide

NOW = 1_700_000_000_000
RULES = RetryRules(retry_after_ms=300_000, max_attempts=3, desk_retry_ms=30_000)


def task(status="dialing", attempts=0):
    return CallbackTask(call_id="c-1", number="0912345678", queue="police", priority=1,
                        status=S(status), attempts=attempts, abandoned_ms=NOW - 60_000,
                        next_attempt_ms=None, last_outcome="", reason="", desk="p-1",
                        updated_ms=NOW - 1_000, record={})


@pytest.mark.parametrize(
    ("status", "attempts", "outcome", "expected"),
    [
        ("dialing", 0, "reached", Transition(S.REACHED, 1, None, "citizen reached")),
        ("dialing", 2, "reached", Transition(S.REACHED, 3, None, "citizen reached")),
        ("dialing", 0, "no_answer", Transition(S.RETRY_AT, 1, NOW + 300_000, "attempt 1 of 3: no_answer")),
        ("dialing", 1, "busy", Transition(S.RETRY_AT, 2, NOW + 300_000, "attempt 2 of 3: busy")),
        ("dialing", 2, "no_answer", Transition(S.GIVEN_UP, 3, None, "not reached in 3 attempts (last: no_answer)")),
        ("dialing", 2, "failed", Transition(S.GIVEN_UP, 3, None, "not reached in 3 attempts (last: failed)")),
        # The centre's side failed: soon again, and the citizen's attempts are not spent.
        ("dialing", 2, "desk_unavailable", Transition(S.RETRY_AT, 2, NOW + 30_000, "desk_unavailable: not counted as an attempt")),
        ("dialing", 1, "cancelled", Transition(S.RETRY_AT, 1, NOW + 30_000, "cancelled: not counted as an attempt")),
        ("dialing", 0, "system_error", Transition(S.RETRY_AT, 0, NOW + 30_000, "system_error: not counted as an attempt")),
        # By hand, from the desks' list.
        ("pending", 0, "no_answer", Transition(S.RETRY_AT, 1, NOW + 300_000, "attempt 1 of 3: no_answer")),
        ("retry_at", 1, "reached", Transition(S.REACHED, 2, None, "citizen reached")),
        ("pending", 0, "not_needed", Transition(S.NOT_NEEDED, 0, None, "closed by a call-taker")),
    ],
)
def test_decide(status, attempts, outcome, expected):
    assert decide(task(status, attempts), outcome, NOW, RULES) == expected


def test_one_attempt_only_gives_up_at_the_first_no_answer():
    rules = RetryRules(retry_after_ms=300_000, max_attempts=1)
    assert decide(task(), Outcome.NO_ANSWER, NOW, rules).status == S.GIVEN_UP


def test_a_note_replaces_the_reason():
    assert decide(task("pending"), "not_needed", NOW, RULES, note="police already on site").reason == \
        "police already on site"


@pytest.mark.parametrize("status", ["reached", "given_up", "not_needed", "not_possible"])
def test_a_final_task_has_no_next_state(status):
    with pytest.raises(ValueError, match=f"callback c-1 is {status}"):
        decide(task(status), Outcome.REACHED, NOW, RULES)


def test_an_unknown_outcome_is_an_error():
    with pytest.raises(ValueError):
        decide(task(), "hung_up_angrily", NOW, RULES)


def test_every_outcome_is_decided():
    for outcome in Outcome:
        assert decide(task(), outcome, NOW, RULES).status in S

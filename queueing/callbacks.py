"""Callback tasks: calling back citizens who hung up before a desk answered.

``call_hangup`` records an abandoned caller and lists its call id on ``callbacks:{queue}``.
The rq job ``create_callback`` (queueing/jobs.py) then makes it a *task*,
``callback:{call_id}``, which desks see (:meth:`Callbacks.open_tasks`, API
``GET /callbacks/{agency}``) and which is called back by hand or, with ``[callbacks]
auto_dial = true``, by the rq job ``dial_callback``.

Statuses (``status``)::

    pending ──claim──▶ dialing ──outcome──▶ reached | given_up | not_needed   (final)
       │                  │
       │                  └──────outcome──▶ retry_at ──(next_attempt_ms)──▶ dialing …
       └─▶ not_possible (withheld number) | not_needed (answered since, or a duplicate)

* ``not_possible``: the number is withheld or cannot be dialled; ``reason`` says which.
* ``not_needed``: the citizen called again and a desk answered (``offer_answered`` closes
  the number's open task), or the number already had an open task (one task per number:
  the open one counts ``abandons``), or a call-taker closed it.
* ``retry_at``: waits for ``next_attempt_ms``; ``last_outcome`` says why.

Order and priority: tasks are listed by the call's priority, then by abandonment time
(oldest first). A callback never goes before a caller who is waiting now: an emergency on
the line outranks one that may be over, so ``callback_claim`` only books a desk when no
caller waits for it (what emergency centres do: call back abandoned calls promptly, but
only from a desk the incoming calls do not need).

Every change is a Lua script (``callback_create``, ``callback_claim``,
``callback_outcome``); what an attempt's outcome leads to is :func:`decide`, a pure
function, so the retry rules are tested as a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from config.names import GENERAL_QUEUE
from queueing.errors import RoutingRefused
from queueing.routing import Routing, _fields, _text
from queueing.states import OPEN_CALLBACK_STATUSES, CallbackOutcome
from queueing.states import CallbackStatus as CallbackStatus  # re-exported: read with the tasks

#: The names this module's users know the vocabulary of queueing/states.py by.
Outcome = CallbackOutcome
OPEN_STATUSES = OPEN_CALLBACK_STATUSES


#: Outcomes that count as an attempt to reach the citizen (``max_attempts``).
COUNTED = frozenset({Outcome.NO_ANSWER, Outcome.BUSY, Outcome.FAILED})
#: Outcomes that are the centre's side failing: retried soon, not counted.
NOT_COUNTED = frozenset({Outcome.DESK_UNAVAILABLE, Outcome.CANCELLED, Outcome.SYSTEM_ERROR})

#: Fields of a task (``callback:{call_id}``), as ``callback_create.lua`` writes them.
TASK_FIELDS = (
    "call_id", "number", "queue", "priority", "abandoned_ms", "abandon_stage", "wait_ms",
    "choice", "created_ms", "status", "reason", "attempts", "abandons", "next_attempt_ms",
    "last_outcome", "desk", "dialing_ms", "updated_ms", "closed_ms",
)


@dataclass(frozen=True)
class RetryRules:
    """From the city file's ``[callbacks]`` table."""

    retry_after_ms: int = 300_000
    max_attempts: int = 3
    #: After a failure on the centre's side (desk did not answer, AMI down).
    desk_retry_ms: int = 30_000

    @classmethod
    def from_settings(cls, callbacks: Any) -> RetryRules:
        """From ``CitySettings.callbacks`` (config.settings.CallbackSettings)."""
        return cls(retry_after_ms=callbacks.retry_after_s * 1000, max_attempts=callbacks.max_attempts,
                   desk_retry_ms=getattr(callbacks, "desk_retry_s", 30) * 1000)


@dataclass(frozen=True)
class Transition:
    status: CallbackStatus
    attempts: int
    next_attempt_ms: int | None
    reason: str


@dataclass(frozen=True)
class CallbackTask:
    call_id: str
    number: str
    queue: str
    priority: int
    status: CallbackStatus
    attempts: int
    abandoned_ms: int
    next_attempt_ms: int | None
    last_outcome: str
    reason: str
    desk: str
    updated_ms: int
    #: Every field as stored (strings), for readers and the API.
    record: dict[str, str]
    #: True when this call to ``callback_create`` made the task (False: it existed).
    created: bool = False

    @classmethod
    def from_record(cls, record: dict[str, str]) -> CallbackTask:
        def num(name: str) -> int | None:
            value = record.get(name, "")
            return int(value) if value not in ("", None) else None

        created = record.pop("created", "0") == "1"
        record.pop("result", None)
        return cls(
            call_id=record["call_id"], number=record.get("number", ""), queue=record["queue"],
            priority=num("priority") or 0, status=CallbackStatus(record["status"]),
            attempts=num("attempts") or 0, abandoned_ms=num("abandoned_ms") or 0,
            next_attempt_ms=num("next_attempt_ms"), last_outcome=record.get("last_outcome", ""),
            reason=record.get("reason", ""), desk=record.get("desk", ""),
            updated_ms=num("updated_ms") or 0, record=record, created=created,
        )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


def decide(task: CallbackTask, outcome: Outcome | str, now_ms: int, rules: RetryRules,
           note: str = "") -> Transition:
    """What an attempt's outcome makes of an open task. Pure: no Redis, no clock.

    * reached → ``reached`` (counts an attempt);
    * no_answer / busy / failed → one more attempt; ``given_up`` when that was the
      ``max_attempts``-th, else ``retry_at`` now + ``retry_after_ms``;
    * desk_unavailable / cancelled / system_error → the centre's side failed: ``retry_at``
      now + ``desk_retry_ms``, the attempt not counted;
    * not_needed → ``not_needed`` (a call-taker closed it; ``note`` says why).
    """
    outcome = Outcome(outcome)
    if not task.is_open:
        raise ValueError(f"callback {task.call_id} is {task.status}: no outcome can change it")
    attempts = task.attempts
    if outcome is Outcome.REACHED:
        return Transition(CallbackStatus.REACHED, attempts + 1, None, note or "citizen reached")
    if outcome is Outcome.NOT_NEEDED:
        return Transition(CallbackStatus.NOT_NEEDED, attempts, None, note or "closed by a call-taker")
    if outcome in COUNTED:
        attempts += 1
        if attempts >= rules.max_attempts:
            return Transition(CallbackStatus.GIVEN_UP, attempts, None,
                              f"not reached in {attempts} attempts (last: {outcome})")
        return Transition(CallbackStatus.RETRY_AT, attempts, now_ms + rules.retry_after_ms,
                          f"attempt {attempts} of {rules.max_attempts}: {outcome}")
    return Transition(CallbackStatus.RETRY_AT, attempts, now_ms + rules.desk_retry_ms,
                      f"{outcome}: not counted as an attempt")


@dataclass(frozen=True)
class CallbackClaim:
    """What ``callback_claim`` did: ``result`` is a :class:`~queueing.states.CallbackClaimResult`."""

    result: str
    call_id: str
    status: str
    desk_id: str
    number: str
    attempts: int


def _task(reply: Any) -> CallbackTask:
    return CallbackTask.from_record(_fields(reply))


def _claim(reply: Any) -> CallbackClaim:
    f = _fields(reply)
    return CallbackClaim(f["result"], f["call_id"], f["status"], f["desk_id"], f["number"],
                         int(f["attempts"] or 0))


def _scored(reply: Any) -> list[tuple[float, str]]:
    """ZRANGE … WITHSCORES as (score, member) pairs."""
    return [(score, _text(member)) for member, score in reply]


class Callbacks(Routing):
    """Callback tasks over a synchronous ``redis.Redis`` (rq jobs, the API, the CLI).

    Works on a client with or without ``decode_responses``.
    """

    def create(self, call_id: str, *, now_ms: int | None = None) -> CallbackTask:
        """The task of an abandoned call; returns the existing one when there is one."""
        return self._execute(self._script("callback_create", now_ms, call_id, parse=_task))

    def claim(self, call_id: str, agencies: Sequence[str], *,
              now_ms: int | None = None) -> CallbackClaim:
        """Books the longest-idle eligible ready desk for an attempt, when no caller waits."""
        return self._execute(self._script("callback_claim", now_ms, call_id, *agencies, parse=_claim))

    def record(self, call_id: str, outcome: Outcome | str, rules: RetryRules, *,
               expected: str = "open", desk_id: str = "", note: str = "",
               now_ms: int | None = None) -> CallbackTask:
        """Applies :func:`decide` to the task as it is now.

        ``expected`` is ``dialing`` for an auto-dial attempt, ``open`` for a call-taker's
        own call. An outcome for a task that is already final changes nothing.
        """
        now = self.clock() if now_ms is None else now_ms
        task = self.task(call_id)
        if task is None:
            raise RoutingRefused(f"unknown callback {call_id}")
        if not task.is_open:
            return task
        step = decide(task, outcome, now, rules, note)
        return self._execute(self._script(
            "callback_outcome", now, call_id, expected, str(Outcome(outcome)), str(step.status),
            step.attempts, "" if step.next_attempt_ms is None else step.next_attempt_ms,
            step.reason, desk_id, parse=_task))

    # -- readers -----------------------------------------------------------------------

    def task(self, call_id: str) -> CallbackTask | None:
        record = _fields(self.redis.hgetall(self.keys.callback(call_id)))
        return CallbackTask.from_record(record) if record else None

    def open_tasks(self, agency: str) -> list[dict[str, str]]:
        """Open tasks a desk of ``agency`` may call back (its own and the general queue's),
        by priority, then oldest abandonment first. ``agency`` ``general`` lists the
        general queue's only."""
        queues = [agency] if agency == GENERAL_QUEUE else [agency, GENERAL_QUEUE]
        scored: list[tuple[float, str]] = []
        for queue in queues:
            scored.extend(_scored(self.redis.zrange(self.keys.callback_tasks(queue), 0, -1,
                                                    withscores=True)))
        scored.sort()
        pipeline = self.redis.pipeline(transaction=False)
        for _, call_id in scored:
            pipeline.hgetall(self.keys.callback(call_id))
        records = [_fields(reply) for reply in pipeline.execute()] if scored else []
        return [r for r in records if r and r.get("status") in OPEN_STATUSES]

    def abandoned_without_task(self, queue: str, since_ms: int) -> list[str]:
        """Call ids on ``callbacks:{queue}`` abandoned since ``since_ms`` that have no task
        (the rq job was never run: rq down when the caller hung up)."""
        ids = [_text(m) for m in self.redis.zrangebyscore(self.keys.callbacks(queue), since_ms, "+inf")]
        if not ids:
            return []
        pipeline = self.redis.pipeline(transaction=False)
        for call_id in ids:
            pipeline.exists(self.keys.callback(call_id))
        return [call_id for call_id, exists in zip(ids, pipeline.execute(), strict=True) if not exists]

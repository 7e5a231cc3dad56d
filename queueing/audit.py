"""Cross-checks between call/desk records and the sets that index them.

The scripts keep these invariants in every single step; ``audit`` proves it after the fact
(tests, the lab, after an incident). It reads without any lock, so run it on a quiet Redis:
under traffic it can report a change that happened between two reads.
"""

from __future__ import annotations

import re
from typing import Any

from config.names import GENERAL_QUEUE
from queueing.keys import DEFAULT_PREFIX, Keys
from queueing.states import FINAL_CALL_STATES, CallState, DeskState


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _hash(redis: Any, key: str) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in redis.hgetall(key).items()}


def _zset(redis: Any, key: str) -> dict[str, float]:
    return {_text(member): score for member, score in redis.zrange(key, 0, -1, withscores=True)}


def _members(redis: Any, key: str) -> set[str]:
    return {_text(member) for member in redis.smembers(key)}


def _keys_under(redis: Any, pattern_prefix: str) -> dict[str, str]:
    """{suffix: key} for every key starting with ``pattern_prefix``, sorted."""
    match = re.sub(r"([*?\[\]\\])", r"\\\1", pattern_prefix) + "*"
    found = (_text(key) for key in redis.scan_iter(match=match, count=1000))
    return {key[len(pattern_prefix):]: key for key in sorted(found)}


def audit(redis: Any, prefix: str = DEFAULT_PREFIX) -> list[str]:
    """Every inconsistency found, as readable sentences; empty when all is consistent."""
    keys = Keys(prefix)
    problems: list[str] = []

    calls = {call_id: _hash(redis, keys.call(call_id)) for call_id in _zset(redis, keys.calls())}
    desks = {desk_id: _hash(redis, keys.desk(desk_id)) for desk_id in _members(redis, keys.desks())}
    active = _members(redis, keys.calls_active())
    offers = _zset(redis, keys.offers())
    wrapups = _zset(redis, keys.wrapups())
    queues = {name: _zset(redis, key) for name, key in _keys_under(redis, keys.queue("")).items()}
    ready = {agency: _zset(redis, key)
             for agency, key in _keys_under(redis, keys.desks_ready("")).items()}
    callbacks = {name: _zset(redis, key)
                 for name, key in _keys_under(redis, keys.callbacks("")).items()}
    ready_for = {queue: _zset(redis, key)
                 for queue, key in _keys_under(redis, keys.desks_ready_for("")).items()}
    logged_in = {agency: _members(redis, key)
                 for agency, key in _keys_under(redis, keys.desks_logged_in("")).items()}

    for call_id, call in calls.items():
        if not call:
            problems.append(f"call {call_id} is listed in calls but has no record")
            continue
        state = call.get("state", "")
        if (state not in FINAL_CALL_STATES) != (call_id in active):
            problems.append(f"call {call_id} is {state} but calls:active says otherwise")
        waiting_in = [name for name, members in queues.items() if call_id in members]
        if state == CallState.QUEUED:
            if waiting_in != [call["queue"]]:
                problems.append(
                    f"queued call {call_id} of queue {call['queue']} waits in {waiting_in}")
            elif queues[call["queue"]][call_id] != float(call["queue_score"]):
                problems.append(f"call {call_id} waits with a score other than its queue_score")
        elif waiting_in:
            problems.append(f"call {call_id} is {state} but waits in {waiting_in}")
        if (state == CallState.RINGING) != (call_id in offers):
            problems.append(f"call {call_id} is {state} but offers says otherwise")
        if state in (CallState.RINGING, CallState.ON_CALL):
            desk = desks.get(call["desk"], {})
            if desk.get("state") != state or desk.get("call_id") != call_id:
                problems.append(f"call {call_id} is {state} at desk {call['desk']}, which is "
                                f"{desk.get('state')} with call {desk.get('call_id')}")
        if state == CallState.ABANDONED:
            queue = call["queue"] or GENERAL_QUEUE
            if call_id not in callbacks.get(queue, {}):
                problems.append(f"abandoned call {call_id} is missing from callbacks:{queue}")

    for name, members in queues.items():
        for call_id in members:
            if call_id not in calls:
                problems.append(f"queue {name} holds unknown call {call_id}")
    for call_id in offers:
        if call_id not in calls:
            problems.append(f"offers holds unknown call {call_id}")

    for desk_id, desk in desks.items():
        if not desk:
            problems.append(f"desk {desk_id} is listed in desks but has no record")
            continue
        state, agency = desk.get("state", ""), desk.get("agency", "")
        ready_in = [name for name, members in ready.items() if desk_id in members]
        if state == DeskState.READY:
            if ready_in != [agency]:
                problems.append(f"ready desk {desk_id} of {agency} is in ready sets {ready_in}")
        elif ready_in:
            problems.append(f"desk {desk_id} is {state} but in ready sets {ready_in}")
        # the indexes claim_next reads: cross-trained ready desks by queue, logged-in desks by agency
        trained = sorted(q for q in desk.get("cross_trained", "").split(",") if q)
        expected = {q: ready[agency][desk_id] for q in trained} if agency in ready and desk_id in ready[agency] else {}
        indexed = {q: members[desk_id] for q, members in ready_for.items() if desk_id in members}
        if state == DeskState.READY and indexed != expected or state != DeskState.READY and indexed:
            problems.append(f"{state} desk {desk_id} cross-trained for {trained} is in ready_for sets {indexed}")
        logged_in_at = sorted(a for a, members in logged_in.items() if desk_id in members)
        if logged_in_at != ([] if state == DeskState.OFFLINE else [agency]):
            problems.append(f"{state} desk {desk_id} of {agency} is in logged_in sets {logged_in_at}")
        if (state == DeskState.WRAP_UP) != (desk_id in wrapups):
            problems.append(f"desk {desk_id} is {state} but wrapups says otherwise")
        if state in (DeskState.RINGING, DeskState.ON_CALL):
            call = calls.get(desk["call_id"], {})
            if call.get("state") != state or call.get("desk") != desk_id:
                problems.append(f"desk {desk_id} is {state} with call {desk['call_id']}, which is "
                                f"{call.get('state')} at desk {call.get('desk')}")
    for agency, members in ready.items():
        for desk_id in members:
            if desk_id not in desks:
                problems.append(f"ready set of {agency} holds unknown desk {desk_id}")
    for queue, members in ready_for.items():
        for desk_id in members:
            if desk_id not in desks:
                problems.append(f"ready_for set of {queue} holds unknown desk {desk_id}")
    return problems

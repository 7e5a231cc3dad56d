"""The rq job that calls a citizen back: it needs Asterisk, so it lives with telephony.

``queueing.jobs`` enqueues it by its dotted path (:data:`DIAL_CALLBACK`), so queueing never
imports telephony. Jobs queued before it moved name ``queueing.jobs.dial_callback``; the
worker's job class (``hotline.worker``) maps that name here.
"""

from __future__ import annotations

import logging

from queueing.callbacks import Callbacks, RetryRules
from queueing.jobs import (
    DIAL_CALLBACK,
    STALE_DIALING_MARGIN_MS,
    city,
    configured_dialer,
    job_connection,
    runtime,
    schedule_dial,
)
from queueing.keys import DEFAULT_PREFIX
from queueing.states import CallbackOutcome, CallbackStatus
from telephony.callback_dialer import dial_over_ami

log = logging.getLogger("hotline.jobs")

__all__ = ["DIAL_CALLBACK", "dial_callback"]


def _dial(desk_id: str, number: str, call_id: str) -> CallbackOutcome:
    dialer = configured_dialer()
    cb = city().callbacks
    if dialer is not None:
        return CallbackOutcome(dialer(desk_id=desk_id, number=number, callback_id=call_id,
                              desk_ring_s=cb.desk_ring_s, citizen_ring_s=cb.citizen_ring_s))
    rt = runtime()
    return dial_over_ami(rt.ami_host, rt.ami_port, rt.ami_user, rt.require_ami_secret(),
                         desk_id=desk_id, number=number, callback_id=call_id,
                         desk_ring_s=cb.desk_ring_s, citizen_ring_s=cb.citizen_ring_s)


def dial_callback(call_id: str, prefix: str = DEFAULT_PREFIX) -> dict[str, str]:
    """One auto-dial attempt, or a later try when it is not due or no desk is free."""
    settings = city()
    cb_settings = settings.callbacks
    if not cb_settings.auto_dial:
        return {"result": "auto_dial_off", "call_id": call_id}
    connection = job_connection()
    callbacks = Callbacks(connection, prefix=prefix)
    rules = RetryRules.from_settings(settings.callbacks)
    task = callbacks.task(call_id)
    if task is None:
        return {"result": "unknown", "call_id": call_id}
    now = callbacks.clock()
    if task.status == CallbackStatus.DIALING:
        stale_at = (int(task.record.get("dialing_ms") or 0) + STALE_DIALING_MARGIN_MS
                    + (cb_settings.desk_ring_s + cb_settings.citizen_ring_s) * 1000)
        if now < stale_at:
            schedule_dial(connection, call_id, prefix, stale_at)  # look again if it stays so
            return {"result": "already_dialing", "call_id": call_id}
        # A worker died mid-attempt: close that attempt (its desk is made ready again).
        log.error("callback %s was left dialing at desk %s; closing that attempt", call_id, task.desk)
        task = callbacks.record(call_id, CallbackOutcome.SYSTEM_ERROR, rules, expected="dialing")
        if task.status == CallbackStatus.RETRY_AT:
            schedule_dial(connection, call_id, prefix, task.next_attempt_ms)
        return {"result": "stale_attempt_closed", "call_id": call_id, "status": str(task.status)}

    agencies = [a.id for a in settings.agencies]
    claim = callbacks.claim(call_id, agencies)
    if claim.result == "claimed":
        outcome = _dial(claim.desk_id, claim.number, call_id)
        task = callbacks.record(call_id, outcome, rules, expected="dialing")
        if task.status == CallbackStatus.RETRY_AT:
            schedule_dial(connection, call_id, prefix, task.next_attempt_ms)
        return {"result": "dialed", "call_id": call_id, "desk_id": claim.desk_id,
                "outcome": str(outcome), "status": str(task.status)}
    if claim.result == "not_due":
        schedule_dial(connection, call_id, prefix, task.next_attempt_ms)
    elif claim.result in ("no_desk", "callers_waiting"):
        schedule_dial(connection, call_id, prefix, now + rules.desk_retry_ms)
    return {"result": claim.result, "call_id": call_id, "status": claim.status}

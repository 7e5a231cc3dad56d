"""Background work on rq: callback tasks and auto-dialling (queue ``hotline``).

Run a worker with ``hotline worker`` (the lab starts one). Jobs are idempotent (the Lua
scripts they call are) and rq retries them on Redis errors (``RETRY``, which needs the
worker's scheduler: ``hotline worker`` runs it). A refusal from a script is final and is
returned, not raised, so rq does not retry what cannot succeed.

* ``create_callback(call_id, prefix)``: the callback task of an abandoned call; the bridge
  enqueues it after ``hangup()`` (``enqueue_create_callback``). With ``[callbacks]
  auto_dial = true`` a new pending task starts ``dial_callback``.
* ``dial_callback(call_id, prefix)``: one auto-dial attempt when it is due and a desk of the
  task's agency is Ready and no caller waits for it; otherwise it comes back later.
* ``sweep_callbacks(prefix)``: tasks for abandoned calls of the last day that have none
  (rq was down when they hung up); ``hotline worker`` enqueues it at start.

The worker reads the city file and the AMI address from the same ``HOTLINE_*``
environment as the bridge. Tests call :func:`configure` instead.
"""

from __future__ import annotations

import functools
import logging
import re
from datetime import datetime, timezone
from typing import Any

import redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.job import Job, get_current_job

from queueing.redis_connect import redis_client, sentinel_sync_twin
from config.settings import CitySettings, RuntimeSettings, load_settings
from queueing.callbacks import CallbackStatus, Callbacks, Outcome, RetryRules
from queueing.errors import RoutingRefused
from queueing.keys import DEFAULT_PREFIX

log = logging.getLogger("hotline.jobs")

QUEUE_NAME = "hotline"
#: Redis errors: again after 1, 5, 15, 60 and 300 s.
RETRY = Retry(max=5, interval=[1, 5, 15, 60, 300])
#: Kept this long after success / failure: a duplicate enqueue meanwhile is refused.
RESULT_TTL_S = 600
FAILURE_TTL_S = 86_400
#: A task dialing for longer than the two rings plus this was left by a dead worker.
STALE_DIALING_MARGIN_MS = 60_000
#: sweep_callbacks looks this far back.
SWEEP_WINDOW_MS = 86_400_000

_configured: dict[str, Any] = {}


def configure(*, city: CitySettings | None = None, runtime: RuntimeSettings | None = None,
              dialer: Any = None) -> None:
    """For tests and embedding: settings (and a dialer) instead of the environment's.
    ``configure()`` with no argument goes back to the environment."""
    _configured.clear()
    _configured.update({k: v for k, v in (("city", city), ("runtime", runtime),
                                          ("dialer", dialer)) if v is not None})
    _env_runtime.cache_clear()
    _env_city.cache_clear()


@functools.cache
def _env_runtime() -> RuntimeSettings:
    return RuntimeSettings.from_env()


@functools.cache
def _env_city() -> CitySettings:
    return load_settings(runtime().city_file)


def runtime() -> RuntimeSettings:
    return _configured.get("runtime") or _env_runtime()


def city() -> CitySettings:
    return _configured.get("city") or _env_city()


def _connection() -> redis.Redis:
    job = get_current_job()
    if job is not None:
        return job.connection
    return redis_client(runtime().redis_url, socket_timeout=5)


def job_queue(connection: redis.Redis) -> Queue:
    return Queue(QUEUE_NAME, connection=connection)


def _job_id(kind: str, prefix: str, call_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{kind}-{prefix}{call_id}")


# --- enqueueing (the bridge, the worker) -----------------------------------------------------


def enqueue_create_callback(connection: redis.Redis, call_id: str,
                            prefix: str = DEFAULT_PREFIX) -> Job | None:
    """Enqueues ``create_callback``; None when the same job is already queued or just ran
    (a hang-up is reported more than once)."""
    try:
        return job_queue(connection).enqueue(
            create_callback, call_id, prefix, job_id=_job_id("create_callback", prefix, call_id),
            unique=True, retry=RETRY, result_ttl=RESULT_TTL_S, failure_ttl=FAILURE_TTL_S,
            description=f"callback task for abandoned call {call_id}")
    except DuplicateJobError:
        return None


def schedule_dial(connection: redis.Redis, call_id: str, prefix: str, at_ms: int | None) -> Job:
    """``dial_callback`` now (``at_ms`` None or past) or at ``at_ms``."""
    queue = job_queue(connection)
    options = dict(retry=RETRY, result_ttl=RESULT_TTL_S, failure_ttl=FAILURE_TTL_S,
                   description=f"call back {call_id}")
    if at_ms is None:
        return queue.enqueue(dial_callback, call_id, prefix, **options)
    when = datetime.fromtimestamp(at_ms / 1000, tz=timezone.utc)
    return queue.enqueue_at(when, dial_callback, call_id, prefix, **options)


@functools.cache
def _sync_twin(kwargs: tuple) -> redis.Redis:
    return redis.Redis(**dict(kwargs))


def sync_client_like(async_client: Any) -> redis.Redis:
    """A blocking, bytes-returning ``redis.Redis`` on the same server and database as a
    ``redis.asyncio.Redis`` (rq needs one; cached per server)."""
    if (twin := sentinel_sync_twin(async_client)) is not None:  # behind Sentinel: the same sentinels
        return twin
    pool = async_client.connection_pool
    kw = pool.connection_kwargs
    keep = {k: kw[k] for k in ("host", "port", "db", "username", "password") if kw.get(k) is not None}
    if "path" in kw:
        keep["unix_socket_path"] = kw["path"]
    if "SSL" in pool.connection_class.__name__:
        keep["ssl"] = True
    keep.update(socket_timeout=2, socket_connect_timeout=2)
    return _sync_twin(tuple(sorted(keep.items())))


# --- the jobs ----------------------------------------------------------------------------------


def create_callback(call_id: str, prefix: str = DEFAULT_PREFIX) -> dict[str, str]:
    """The callback task of an abandoned call; running it twice creates one task."""
    connection = _connection()
    try:
        task = Callbacks(connection, prefix=prefix).create(call_id)
    except RoutingRefused as exc:
        log.warning("no callback task for call %s: %s", call_id, exc)
        return {"result": "refused", "call_id": call_id, "reason": str(exc)}
    log.info("callback task %s: %s %s%s", call_id, "created" if task.created else "exists",
             task.status, f" ({task.reason})" if task.reason else "")
    if task.created and task.status == CallbackStatus.PENDING and city().callbacks.auto_dial:
        schedule_dial(connection, call_id, prefix, None)
    return {"result": "created" if task.created else "exists", "call_id": call_id,
            "status": str(task.status), "reason": task.reason}


def _dial(desk_id: str, number: str, call_id: str) -> Outcome:
    dialer = _configured.get("dialer")
    cb = city().callbacks
    if dialer is not None:
        return Outcome(dialer(desk_id=desk_id, number=number, callback_id=call_id,
                              desk_ring_s=cb.desk_ring_s, citizen_ring_s=cb.citizen_ring_s))
    from telephony.callback_dialer import dial_over_ami

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
    connection = _connection()
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
        task = callbacks.record(call_id, Outcome.SYSTEM_ERROR, rules, expected="dialing")
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


def sweep_callbacks(prefix: str = DEFAULT_PREFIX) -> dict[str, int]:
    """Tasks for recently abandoned calls that have none (their job was never run)."""
    connection = _connection()
    callbacks = Callbacks(connection, prefix=prefix)
    since = callbacks.clock() - SWEEP_WINDOW_MS
    created = 0
    for queue in city().queues:
        for call_id in callbacks.abandoned_without_task(queue, since):
            if create_callback(call_id, prefix).get("result") == "created":
                created += 1
    if created:
        log.info("sweep: %d callback task(s) created for abandoned calls without one", created)
    return {"created": created}

"""Background work on rq: callback tasks and auto-dialling (queue ``hotline``).

Run a worker with ``hotline worker`` (the lab starts one). Jobs are idempotent (the Lua
scripts they call are) and rq retries them on Redis errors (``RETRY``, which needs the
worker's scheduler: ``hotline worker`` runs it). A refusal from a script is final and is
returned, not raised, so rq does not retry what cannot succeed.

* ``create_callback(call_id, prefix)``: the callback task of an abandoned call; the bridge
  enqueues it after ``hangup()`` (``enqueue_create_callback``). With ``[callbacks]
  auto_dial = true`` a new pending task starts ``dial_callback``.
* ``dial_callback(call_id, prefix)`` (``telephony/callback_jobs.py``: it needs Asterisk): one
  auto-dial attempt when it is due and a desk of the task's agency is Ready and no caller
  waits for it; otherwise it comes back later. Enqueued here by its dotted path
  (:data:`DIAL_CALLBACK`), so queueing imports nothing from telephony.
* ``sweep_callbacks(prefix)``: tasks for abandoned calls of the last day that have none
  (rq was down when they hung up); ``hotline worker`` enqueues it at start.

The worker reads the city file and the AMI address from the same ``HOTLINE_*``
environment as the bridge. Tests call :func:`configure` instead.
"""

from __future__ import annotations

import functools
import logging
import re
from datetime import UTC, datetime
from typing import Any, cast

import redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.job import Job, get_current_job

from config.settings import CitySettings, RuntimeSettings, load_settings
from queueing.callbacks import Callbacks
from queueing.errors import RoutingRefused
from queueing.keys import DEFAULT_PREFIX
from queueing.redis_connect import redis_client, sentinel_sync_twin
from queueing.states import CallbackStatus

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
#: The auto-dial job, by name: it lives upstairs (telephony) and rq imports it in the worker.
DIAL_CALLBACK = "telephony.callback_jobs.dial_callback"

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


def configured_dialer() -> Any:
    """The dialer given to :func:`configure` (tests), or None: dial over AMI."""
    return _configured.get("dialer")


def job_connection() -> redis.Redis:
    """The running job's Redis connection (or one from the settings outside a worker)."""
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
    """``dial_callback`` (:data:`DIAL_CALLBACK`) now (``at_ms`` None or past) or at ``at_ms``."""
    queue = job_queue(connection)
    options = dict(retry=RETRY, result_ttl=RESULT_TTL_S, failure_ttl=FAILURE_TTL_S,
                   description=f"call back {call_id}")
    if at_ms is None:
        return queue.enqueue(DIAL_CALLBACK, call_id, prefix, **options)
    when = datetime.fromtimestamp(at_ms / 1000, tz=UTC)
    # rq leaves enqueue_at's return unannotated: it is the scheduled Job.
    return cast(Job, queue.enqueue_at(when, DIAL_CALLBACK, call_id, prefix, **options))


@functools.cache
def _sync_twin(kwargs: tuple[tuple[str, Any], ...]) -> redis.Redis:
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
    connection = job_connection()
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


def sweep_callbacks(prefix: str = DEFAULT_PREFIX) -> dict[str, int]:
    """Tasks for recently abandoned calls that have none (their job was never run)."""
    connection = job_connection()
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

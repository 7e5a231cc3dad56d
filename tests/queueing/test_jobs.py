"""The rq jobs (queueing/jobs.py, telephony/callback_jobs.py), run by a real rq worker in this process (SimpleWorker,
burst) against the test redis-server."""

from __future__ import annotations

import time

import pytest
import redis
from rq import Queue, SimpleWorker
from rq.job import Job, JobStatus

from config.settings import CallbackSettings, RuntimeSettings, load_settings
from hotline.worker import LEGACY_JOB_FUNCS, HotlineJob
from queueing import jobs
from queueing.callbacks import Callbacks, CallbackStatus
from queueing.routing import Routing, wall_clock_ms
from telephony import callback_jobs
from tests.replay import E2E_CITY

CITY = load_settings(E2E_CITY)
AUTO = CITY.model_copy(update={"callbacks": CallbackSettings(auto_dial=True, retry_after_s=300,
                                                                max_attempts=3)})
POLICE_DESK = next(d.id for d in CITY.desks if d.agency == "police")


class FakeDialer:
    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls = []

    def __call__(self, **kw):
        self.calls.append(kw)
        return self.outcomes.pop(0)


@pytest.fixture
def conn(redis_client, redis_url):
    """rq's connection (bytes, no decode_responses) to the flushed test Redis."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()
    jobs.configure()


@pytest.fixture
def routing(redis_client):
    return Routing(redis_client)


def setup(redis_url, city=CITY, dialer=None):
    jobs.configure(city=city, runtime=RuntimeSettings(redis_url=redis_url, ami_secret="x"), dialer=dialer)


def work(conn):
    SimpleWorker([jobs.QUEUE_NAME], connection=conn).work(burst=True)


def scheduled(conn) -> list[tuple[Job, float]]:
    registry = Queue(jobs.QUEUE_NAME, connection=conn).scheduled_job_registry
    return [(Job.fetch(job_id.decode(), connection=conn), score)
            for job_id, score in conn.zrange(registry.key, 0, -1, withscores=True)]


def run_scheduled(conn) -> int:
    """What the worker's scheduler does when the time comes, now."""
    queue = Queue(jobs.QUEUE_NAME, connection=conn)
    due = scheduled(conn)
    for job, _ in due:
        queue.scheduled_job_registry.remove(job)
        queue.enqueue_job(job)
    return len(due)


def abandon(routing, call_id, caller="0912345678", queue="police", ago_ms=60_000):
    at = wall_clock_ms() - ago_ms
    routing.arrive(call_id, caller, f"PJSIP/citizens-{call_id}", now_ms=at)
    routing.enqueue(call_id, queue, 1, now_ms=at + 1_000)
    routing.hangup(call_id, 10_000, now_ms=at + 30_000)


# --- create_callback -----------------------------------------------------------------------------

def test_create_callback_job_makes_the_task(conn, routing, redis_url):
    setup(redis_url)
    abandon(routing, "c-1")
    job = jobs.enqueue_create_callback(conn, "c-1")
    work(conn)

    job.refresh()
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == {"result": "created", "call_id": "c-1", "status": "pending", "reason": ""}
    assert Callbacks(routing.redis).task("c-1").status == CallbackStatus.PENDING
    assert scheduled(conn) == []  # auto_dial is off: no dialling


def test_a_second_enqueue_of_the_same_call_is_refused_while_the_first_is_known(conn, routing, redis_url):
    setup(redis_url)
    abandon(routing, "c-1")
    assert jobs.enqueue_create_callback(conn, "c-1") is not None
    assert jobs.enqueue_create_callback(conn, "c-1") is None
    work(conn)
    assert jobs.enqueue_create_callback(conn, "c-1") is None  # just ran: kept RESULT_TTL_S


def test_running_the_job_twice_makes_one_task(conn, routing, redis_url):
    setup(redis_url)
    abandon(routing, "c-1")
    queue = Queue(jobs.QUEUE_NAME, connection=conn)
    first = queue.enqueue(jobs.create_callback, "c-1", "hotline:")
    second = queue.enqueue(jobs.create_callback, "c-1", "hotline:")
    work(conn)
    assert [first.return_value()["result"], second.return_value()["result"]] == ["created", "exists"]
    assert routing.redis.zcard("hotline:callback_tasks:police") == 1
    assert len([e for e in routing.events(1000) if e["type"] == "callback_created"]) == 1


def test_a_refusal_is_final_not_retried(conn, routing, redis_url):
    setup(redis_url)
    job = jobs.enqueue_create_callback(conn, "c-unknown")
    work(conn)
    job.refresh()
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value()["result"] == "refused"
    assert "unknown call c-unknown" in job.return_value()["reason"]
    assert scheduled(conn) == []


def test_a_redis_error_is_retried_by_rq(conn, routing, redis_url, monkeypatch):
    setup(redis_url)
    abandon(routing, "c-1")
    real_create = Callbacks.create
    failures = []

    def flaky(self, call_id, **kw):
        if not failures:
            failures.append(call_id)
            raise redis.ConnectionError("Redis went away")
        return real_create(self, call_id, **kw)

    monkeypatch.setattr(Callbacks, "create", flaky)
    job = jobs.enqueue_create_callback(conn, "c-1")
    work(conn)

    job.refresh()
    assert job.get_status() == JobStatus.SCHEDULED  # retry in RETRY.intervals[0] s
    assert job.retries_left == jobs.RETRY.max - 1
    assert Callbacks(routing.redis).task("c-1") is None
    assert run_scheduled(conn) == 1
    work(conn)
    job.refresh()
    assert job.get_status() == JobStatus.FINISHED
    assert Callbacks(routing.redis).task("c-1").status == CallbackStatus.PENDING


def test_sweep_makes_the_tasks_rq_never_made(conn, routing, redis_url):
    setup(redis_url)
    abandon(routing, "c-1", caller="0900000001")
    abandon(routing, "c-2", caller="0900000002", queue="fire")
    jobs.enqueue_create_callback(conn, "c-2")
    work(conn)
    job = Queue(jobs.QUEUE_NAME, connection=conn).enqueue(jobs.sweep_callbacks, "hotline:")
    work(conn)
    assert job.return_value() == {"created": 1}
    assert Callbacks(routing.redis).task("c-1").status == CallbackStatus.PENDING


# --- dial_callback (auto_dial) ------------------------------------------------------------------

def ready_desk(routing, desk_id=POLICE_DESK):
    routing.register_desk(desk_id, "police")
    routing.set_desk_state(desk_id, "ready")


def test_auto_dial_rings_a_ready_desk_then_the_citizen(conn, routing, redis_url):
    dialer = FakeDialer("reached")
    setup(redis_url, AUTO, dialer)
    ready_desk(routing)
    abandon(routing, "c-1")
    jobs.enqueue_create_callback(conn, "c-1")
    work(conn)  # create_callback, then the dial_callback it enqueued

    assert dialer.calls == [{"desk_id": POLICE_DESK, "number": "0912345678", "callback_id": "c-1",
                             "desk_ring_s": 20, "citizen_ring_s": 30}]
    task = Callbacks(routing.redis).task("c-1")
    assert (task.status, task.attempts, task.desk) == (CallbackStatus.REACHED, 1, POLICE_DESK)
    assert routing.desk(POLICE_DESK)["state"] == "paused"  # talking; Ready when done
    assert scheduled(conn) == []


def test_no_answer_is_retried_later_then_given_up(conn, routing, redis_url):
    dialer = FakeDialer("no_answer", "busy", "no_answer")
    setup(redis_url, AUTO, dialer)
    ready_desk(routing)
    abandon(routing, "c-1")
    jobs.enqueue_create_callback(conn, "c-1")
    work(conn)

    task = Callbacks(routing.redis).task("c-1")
    assert (task.status, task.attempts, task.last_outcome) == (CallbackStatus.RETRY_AT, 1, "no_answer")
    assert routing.desk(POLICE_DESK)["state"] == "ready"
    [(job, at_s)] = scheduled(conn)
    assert job.func_name == jobs.DIAL_CALLBACK == "telephony.callback_jobs.dial_callback"
    assert at_s == pytest.approx(task.next_attempt_ms / 1000, abs=1)
    assert task.next_attempt_ms - wall_clock_ms() == pytest.approx(300_000, abs=5_000)

    # The retry comes due: pretend its time has come (the task and the job).
    for _attempt in (2, 3):
        routing.redis.hset("hotline:callback:c-1", "next_attempt_ms", wall_clock_ms() - 1)
        assert run_scheduled(conn) == 1
        work(conn)
    task = Callbacks(routing.redis).task("c-1")
    assert (task.status, task.attempts) == (CallbackStatus.GIVEN_UP, 3)
    assert len(dialer.calls) == 3
    assert scheduled(conn) == []


def test_without_a_ready_desk_the_job_comes_back_later(conn, routing, redis_url):
    dialer = FakeDialer()
    setup(redis_url, AUTO, dialer)
    routing.register_desk(POLICE_DESK, "police")  # offline
    abandon(routing, "c-1")
    jobs.enqueue_create_callback(conn, "c-1")
    work(conn)

    assert dialer.calls == []
    [(job, at_s)] = scheduled(conn)
    assert at_s == pytest.approx(time.time() + 30, abs=5)
    assert Callbacks(routing.redis).task("c-1").status == CallbackStatus.PENDING


def test_a_dial_job_while_auto_dial_is_off_does_nothing(conn, routing, redis_url):
    setup(redis_url)
    ready_desk(routing)
    abandon(routing, "c-1")
    jobs.enqueue_create_callback(conn, "c-1")
    work(conn)
    job = Queue(jobs.QUEUE_NAME, connection=conn).enqueue(callback_jobs.dial_callback, "c-1", "hotline:")
    work(conn)
    assert job.return_value() == {"result": "auto_dial_off", "call_id": "c-1"}
    assert routing.desk(POLICE_DESK)["state"] == "ready"


def test_an_attempt_left_dialing_by_a_dead_worker_is_closed(conn, routing, redis_url):
    dialer = FakeDialer()
    setup(redis_url, AUTO, dialer)
    ready_desk(routing)
    abandon(routing, "c-1", ago_ms=600_000)
    callbacks = Callbacks(routing.redis)
    callbacks.create("c-1", now_ms=wall_clock_ms() - 500_000)
    assert callbacks.claim("c-1", ["police"], now_ms=wall_clock_ms() - 400_000).result == "claimed"

    job = Queue(jobs.QUEUE_NAME, connection=conn).enqueue(callback_jobs.dial_callback, "c-1", "hotline:")
    work(conn)

    assert job.return_value()["result"] == "stale_attempt_closed"
    task = callbacks.task("c-1")
    assert (task.status, task.attempts, task.last_outcome) == (CallbackStatus.RETRY_AT, 0, "system_error")
    assert routing.desk(POLICE_DESK)["state"] == "ready"
    assert len(scheduled(conn)) == 1


def test_sync_client_like_reaches_the_same_database(redis_url):
    import redis.asyncio as aioredis

    async_client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    twin = jobs.sync_client_like(async_client)
    assert twin.connection_pool.connection_kwargs["db"] == async_client.connection_pool.connection_kwargs["db"]
    twin.set("hotline:twin-check", "1")
    assert redis.Redis.from_url(redis_url).get("hotline:twin-check") == b"1"


def test_a_dial_job_queued_under_its_old_path_is_run_by_the_workers_job_class(conn, routing, redis_url):
    """Jobs queued before dial_callback moved to telephony name queueing.jobs.dial_callback,
    which no longer exists; ``hotline worker``'s job class runs them."""
    assert LEGACY_JOB_FUNCS == {"queueing.jobs.dial_callback": "telephony.callback_jobs.dial_callback"}
    assert not hasattr(jobs, "dial_callback")
    setup(redis_url)
    ready_desk(routing)
    abandon(routing, "c-1")
    jobs.enqueue_create_callback(conn, "c-1")
    work(conn)
    job = Queue(jobs.QUEUE_NAME, connection=conn).enqueue("queueing.jobs.dial_callback", "c-1", "hotline:")
    SimpleWorker([jobs.QUEUE_NAME], connection=conn, job_class=HotlineJob).work(burst=True)
    job = HotlineJob.fetch(job.id, connection=conn)
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == {"result": "auto_dial_off", "call_id": "c-1"}

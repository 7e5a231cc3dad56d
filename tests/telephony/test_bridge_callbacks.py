"""telephony.hangups.Hangups: an abandoned caller's hang-up enqueues the rq job create_callback on
the bridge's own Redis, which a real (in-process) rq worker then turns into a task."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest
import redis
import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue, SimpleWorker

from config.settings import RuntimeSettings, load_settings
from queueing import jobs
from queueing.callbacks import Callbacks, CallbackStatus
from queueing.routing import Routing, wall_clock_ms
from telephony.ami_events import CallerLeft
from telephony.bridge import Bridge
from tests.replay import E2E_CITY

CITY = load_settings(E2E_CITY)


class QuietAmi:
    def __init__(self):
        self.ready = asyncio.Event()
        self.ready.set()

    async def channels(self):
        return []  # every channel is gone

    async def redirect(self, *args):
        raise AssertionError("no delivery expected")


def run(redis_url, scenario):
    async def main():
        client = aioredis.Redis.from_url(redis_url, decode_responses=True, socket_timeout=1)
        bridge = Bridge(CITY, RuntimeSettings(ami_secret="test-secret"), client, ami=QuietAmi())
        try:
            return await asyncio.wait_for(scenario(bridge), 10)
        finally:
            await client.aclose()
    return asyncio.run(main())


@pytest.fixture
def conn(redis_client, redis_url):
    jobs.configure(city=CITY, runtime=RuntimeSettings(redis_url=redis_url, ami_secret="x"))
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()
    jobs.configure()


def queued_jobs(conn):
    return [(job.func_name, job.args) for job in Queue(jobs.QUEUE_NAME, connection=conn).get_jobs()]


async def waiting(bridge, call_id):
    now = wall_clock_ms() - 30_000
    await bridge.routing.arrive(call_id, "0912345678", f"PJSIP/citizens-{call_id}", now_ms=now)
    await bridge.routing.enqueue(call_id, queue="police", priority=1, now_ms=now + 1)


def test_an_abandoned_caller_gets_a_callback_task(redis_url, conn):
    async def scenario(bridge):
        await waiting(bridge, "c-1")
        await bridge.on_dialplan_event(CallerLeft("c-1", "queued", ""))

    run(redis_url, scenario)
    assert queued_jobs(conn) == [("queueing.jobs.create_callback", ("c-1", "hotline:"))]
    SimpleWorker([jobs.QUEUE_NAME], connection=conn).work(burst=True)
    task = Callbacks(Routing(redis.Redis.from_url(redis_url)).redis).task("c-1")
    assert (task.status, task.number, task.queue) == (CallbackStatus.PENDING, "0912345678", "police")


def test_recorded_first_by_the_ivr_the_event_still_enqueues_once(redis_url, conn):
    async def scenario(bridge):
        await waiting(bridge, "c-1")
        await bridge.routing.hangup("c-1", 10_000)  # the IVR's own record of the hang-up
        await bridge.on_dialplan_event(CallerLeft("c-1", "queued", ""))
        await bridge.on_dialplan_event(CallerLeft("c-1", "queued", ""))  # reported twice

    run(redis_url, scenario)
    assert queued_jobs(conn) == [("queueing.jobs.create_callback", ("c-1", "hotline:"))]


def test_a_call_that_ended_normally_gets_no_job(redis_url, conn):
    async def scenario(bridge):
        await bridge.routing.arrive("c-1", "0912345678", "PJSIP/citizens-c-1")
        await bridge.routing.fallback("c-1", reason="test")
        await bridge.on_dialplan_event(CallerLeft("c-1", "fallback", ""))
        return await bridge.routing.call("c-1")

    assert run(redis_url, scenario)["outcome"] == "fallback"
    assert queued_jobs(conn) == []


def test_reconcile_enqueues_for_a_caller_who_left_unseen(redis_url, conn):
    async def scenario(bridge):
        await waiting(bridge, "c-1")
        await bridge.reconcile()

    run(redis_url, scenario)
    assert queued_jobs(conn) == [("queueing.jobs.create_callback", ("c-1", "hotline:"))]


def test_rq_unreachable_is_logged_and_the_call_stays_on_the_callbacks_list(redis_url, conn, monkeypatch,
                                                                           caplog):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setattr(jobs, "sync_client_like",
                        lambda _client: redis.Redis(port=closed, socket_connect_timeout=0.5,
                                                    retry=Retry(NoBackoff(), 0)))

    async def scenario(bridge):
        await waiting(bridge, "c-1")
        await bridge.on_dialplan_event(CallerLeft("c-1", "queued", ""))
        return await bridge.routing.callbacks("police")

    with caplog.at_level(logging.ERROR, logger="hotline.bridge"):
        assert run(redis_url, scenario) == ["c-1"]
    assert "could not enqueue the callback job for abandoned call c-1" in caplog.text
    assert queued_jobs(conn) == []

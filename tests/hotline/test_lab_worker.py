"""Lab.start_worker: the lab's rq worker (``hotline worker`` as a child process) on the lab's
Redis does the callback jobs, and Lab.stop ends it. No Asterisk is needed for this part."""

from __future__ import annotations

import time

import redis
from rq import Worker

from hotline.lab.lab import Lab
from queueing.callbacks import Callbacks, CallbackStatus
from queueing.jobs import enqueue_create_callback
from queueing.routing import Routing, wall_clock_ms
from telephony.asterisk_config import AsteriskSite
from tests.replay import E2E_CITY


def test_the_labs_worker_runs_callback_jobs_and_stops_with_the_lab(redis_client, redis_url, tmp_path):
    routing = Routing(redis_client)
    at = wall_clock_ms() - 60_000
    # Abandoned while "rq was down": the worker's sweep at start makes its task.
    routing.arrive("c-swept", "0900000001", "PJSIP/citizens-1", now_ms=at)
    routing.hangup("c-swept", 10_000, now_ms=at + 5_000)

    lab = Lab(E2E_CITY, tmp_path, progress=lambda _msg: None, redis_url=redis_url)
    lab.site = AsteriskSite(ami_secret="lab-secret")  # what bridge_env reads; Asterisk is not started
    lab.start_worker()
    try:
        pid = lab.worker_proc.pid
        conn = redis.Redis.from_url(redis_url)
        assert [w.pid for w in Worker.all(connection=conn)] == [pid]

        routing.arrive("c-1", "0912345678", "PJSIP/citizens-2", now_ms=at)
        routing.enqueue("c-1", "police", 1, now_ms=at + 1_000)
        routing.hangup("c-1", 10_000, now_ms=at + 20_000)
        assert enqueue_create_callback(conn, "c-1") is not None

        callbacks = Callbacks(redis_client)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not (callbacks.task("c-1") and callbacks.task("c-swept")):
            time.sleep(0.1)
        assert callbacks.task("c-1").status == CallbackStatus.PENDING
        assert callbacks.task("c-swept").status == CallbackStatus.PENDING
    finally:
        lab.stop()
    assert lab.worker_proc.poll() is not None
    assert "Listening on hotline" in (tmp_path / "worker.log").read_text()

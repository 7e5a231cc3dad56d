"""wait_info: a waiting caller's place in line, and what its expected wait comes from."""

from __future__ import annotations

from queueing import Routing

T0 = 1_700_000_000_000


def test_place_handle_times_and_desks_logged_in(redis_client):
    r = Routing(redis_client)
    for desk in ("p-1", "p-2", "p-3"):
        r.register_desk(desk, "police", now_ms=T0)
    r.set_desk_state("p-1", "login", now_ms=T0)
    r.set_desk_state("p-2", "ready", now_ms=T0)
    # one answered call: 40 s of talk, then 10 s of wrap-up
    r.arrive("done", "0900", "PJSIP/c-done", now_ms=T0)
    r.enqueue("done", "police", 1, now_ms=T0)
    r.claim_next(["police"], 5_000, now_ms=T0 + 1_000)
    r.offer_answered("done", "p-2", now_ms=T0 + 2_000)
    r.hangup("done", 10_000, now_ms=T0 + 42_000)
    for i in range(3):
        r.arrive(f"c-{i}", "0900", f"PJSIP/c-{i}", now_ms=T0 + 50_000 + i)
        r.enqueue(f"c-{i}", "police", 1, language="en", now_ms=T0 + 50_000 + i)

    info = r.wait_info("c-2")
    assert (info.queue, info.language, info.position) == ("police", "en", 3)
    assert info.handle_times_ms == [50_000]
    assert info.desks_logged_in == 2  # p-1 paused, p-2 in wrap-up; p-3 offline


def test_not_queued_is_none(redis_client):
    r = Routing(redis_client)
    r.arrive("c-1", "0900", "PJSIP/c-1", now_ms=T0)
    assert r.wait_info("c-1") is None
    assert r.wait_info("unknown") is None


def test_handle_times_keep_the_last_fifty(redis_client):
    r = Routing(redis_client)
    r.register_desk("p-1", "police", now_ms=T0)
    for i in range(55):
        t = T0 + i * 100_000
        r.set_desk_state("p-1", "ready", now_ms=t)
        r.arrive(f"c-{i}", "0900", f"PJSIP/c-{i}", now_ms=t)
        r.enqueue(f"c-{i}", "police", 1, now_ms=t)
        r.claim_next(["police"], 5_000, now_ms=t + 1)
        r.offer_answered(f"c-{i}", "p-1", now_ms=t + 2)
        r.hangup(f"c-{i}", 0, now_ms=t + 2 + 1_000 * i)
    times = [int(x) for x in redis_client.lrange(r.keys.handle_times("police"), 0, -1)]
    assert len(times) == 50 and times[0] == 54_000 and times[-1] == 5_000

"""GET /metrics: Prometheus's text, read from Redis at the scrape, for a metrics or supervisor
token (or the loopback when HOTLINE_METRICS_LOOPBACK=true); Redis down is a 200 with redis_up 0."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.metrics import local_midnight_ms
from config.settings import RuntimeSettings
from queueing.accounts import AccountError, check_user
from queueing.routing import Routing, wall_clock_ms
from queueing.script_timing import ScriptTimings
from tests.api.test_app import closed_port
from tests.api.test_auth import CITY, seed
from tests.api_client import api_client
from tests.api_tokens import TOKENS, bearer
from tests.replay import E2E_CITY


def make_client(routing: Routing, **runtime: object) -> TestClient:
    return api_client(routing, **runtime)


@pytest.fixture
def routing(redis_client):
    routing = Routing(redis_client)
    seed(routing)  # desks registered; a police, a fire and a general caller waiting (since 10 s); three abandoned
    return routing


@pytest.fixture
def client(routing):
    with make_client(routing) as c:
        yield c


def scrape(client: TestClient, holder: str = "metrics") -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """sample name → {sorted labels: value}"""
    reply = client.get("/metrics", headers=bearer(holder))
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain; version=")
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def by(samples, name: str, label: str) -> dict[str, float]:
    return {dict(labels)[label]: value for labels, value in samples[name].items()}


def test_queues_match_redis(client, routing):
    now = wall_clock_ms()
    routing.arrive("c-police-2", "0900000009", "PJSIP/citizens-9", now_ms=now - 3_000)
    routing.enqueue("c-police-2", "police", 0, now_ms=now - 2_000)  # served first, but arrived later
    routing.arrive("c-ivr", "0900000008", "PJSIP/citizens-8", now_ms=now - 1_000)  # still in the menu
    samples = scrape(client)
    assert samples["hotline_redis_up"] == {(): 1.0}
    callers = by(samples, "hotline_queue_callers", "queue")
    assert callers == {q: float(len(routing.queue(q))) for q in CITY.queues}
    assert callers == {"general": 1, "police": 2, "fire": 1, "medical": 0, "disaster": 0}
    longest = by(samples, "hotline_queue_longest_wait_seconds", "queue")
    for queue in ("police", "fire", "general"):  # seed: arrived 10 s ago; c-police-2 is not the longest
        assert longest[queue] == pytest.approx(10.0, abs=2.0)
    assert longest["medical"] == longest["disaster"] == 0
    assert samples["hotline_ivr_callers"] == {(): 1.0}
    assert samples["hotline_fallback_callers"] == {(): 0.0}


def test_fallback_callers_are_counted(client, routing):
    routing.arrive("c-held", "0900000007", "PJSIP/citizens-7")
    routing.fallback("c-held", reason="bridge heartbeat stale")
    routing.fallback("c-police", reason="bridge heartbeat stale")
    samples = scrape(client)
    assert samples["hotline_fallback_callers"] == {(): 2.0}
    assert by(samples, "hotline_queue_callers", "queue")["police"] == 0


def test_desks_by_agency_and_state_match_redis(client, routing):
    routing.set_desk_state("desk-101", "ready")
    routing.set_desk_state("desk-201", "ready")
    routing.set_desk_state("desk-201", "paused", reason="lunch")
    samples = scrape(client)
    desks = {(dict(labels)["agency"], dict(labels)["state"]): value for labels, value in samples["hotline_desks"].items()}
    expected: dict[tuple[str, str], int] = {}
    for d in CITY.desks:
        key = (d.agency, routing.desk(d.id).get("state") or "offline")
        expected[key] = expected.get(key, 0) + 1
    assert {k: v for k, v in desks.items() if v} == expected
    assert desks[("police", "ready")] == 1 and desks[("police", "offline")] == 1 and desks[("fire", "paused")] == 1
    assert desks[("medical", "on_call")] == 0  # every agency × state is a series, zeros included
    assert sum(desks.values()) == len(CITY.desks)


def test_calls_of_the_day_by_outcome_and_the_answer_wait(redis_client):
    # The API's clock stands at noon today: every call seeded (minutes before it) arrived today,
    # whatever the hour the test runs at.
    now = local_midnight_ms(wall_clock_ms()) + 12 * 3_600_000
    routing = Routing(redis_client, clock=lambda: now)
    seed(routing, now=now)
    routing.set_desk_state("desk-101", "ready")
    for other in ("c-fire", "c-general"):
        routing.hangup(other, 0)
    claim = routing.claim_next([a.id for a in CITY.agencies], 5_000)
    assert (claim.call_id, claim.desk_id) == ("c-police", "desk-101")
    routing.offer_answered("c-police", "desk-101")
    waited_s = int(routing.call("c-police")["wait_ms"]) / 1000
    with make_client(routing) as client:
        talking = scrape(client)  # c-police is still talking: not counted yet, read again next time
        routing.hangup("c-police", 0)
        samples = scrape(client)
    assert by(talking, "hotline_calls_total", "outcome") == {"answered": 0, "abandoned": 5, "fallback": 0}
    calls = by(samples, "hotline_calls_total", "outcome")
    # seed's three callback calls, and c-fire and c-general, hung up waiting; c-police answered
    assert calls == {"answered": 1, "abandoned": 5, "fallback": 0}
    assert set(by(samples, "hotline_calls_created", "outcome").values()) == {local_midnight_ms(now) / 1000}
    assert by(samples, "hotline_answer_wait_seconds_count", "queue") == {q: (1 if q == "police" else 0) for q in CITY.queues}
    assert by(samples, "hotline_answer_wait_seconds_sum", "queue")["police"] == pytest.approx(waited_s)
    buckets = {dict(labels)["le"]: v for labels, v in samples["hotline_answer_wait_seconds_bucket"].items()
               if dict(labels)["queue"] == "police"}
    assert buckets["5.0"] == 0 and buckets["15.0"] == 1 and buckets["+Inf"] == 1  # waited about 10 s


def test_a_supervisor_may_scrape(client):
    assert scrape(client, "supervisor")["hotline_redis_up"] == {(): 1.0}


def test_who_may_not_scrape(client):
    for holder in ("police", "police@desk-101", "viewer"):
        reply = client.get("/metrics", headers=bearer(holder))
        assert reply.status_code == 403
        assert reply.json()["detail"].endswith("may not read the metrics: it needs a metrics or supervisor token")
    reply = client.get("/metrics")
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_metrics_token_reads_nothing_else(client):
    for method, path in (("get", "/desks"), ("get", "/queues"), ("get", "/calls/c-police"), ("get", "/events"),
                         ("put", "/desks/desk-101/state")):
        reply = client.request(method.upper(), path, headers=bearer("metrics"), json={"state": "ready"})
        assert reply.status_code == 403, (path, reply.text)
        assert reply.json() == {"detail": "a metrics token reads GET /metrics and nothing else"}


def test_the_loopback_needs_no_token_when_allowed(routing):
    app = create_app(RuntimeSettings(city_file=E2E_CITY, metrics_loopback=True), city=CITY, routing=routing, tokens=TOKENS)
    for host in ("127.0.0.1", "::1"):
        with TestClient(app, client=(host, 40000)) as c:
            assert c.get("/metrics").status_code == 200
            assert c.get("/desks").status_code == 401  # only /metrics
            assert c.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401  # a token sent is checked
    with TestClient(app, client=("192.0.2.7", 40000)) as c:
        assert c.get("/metrics").status_code == 401
    off = create_app(RuntimeSettings(city_file=E2E_CITY), city=CITY, routing=routing, tokens=TOKENS)
    with TestClient(off, client=("127.0.0.1", 40000)) as c:
        assert c.get("/metrics").status_code == 401


def test_loopback_setting_from_the_environment(clean_env):
    assert RuntimeSettings.from_env().metrics_loopback is False
    clean_env.setenv("HOTLINE_METRICS_LOOPBACK", "true")
    assert RuntimeSettings.from_env().metrics_loopback is True


def test_redis_down_is_a_200_with_redis_up_0():
    import redis

    dead = redis.Redis.from_url(f"redis://127.0.0.1:{closed_port()}/0", decode_responses=True,
                                socket_timeout=0.5, socket_connect_timeout=0.5)
    with make_client(Routing(dead)) as c:
        samples = scrape(c)
    assert samples == {"hotline_redis_up": {(): 0.0}}


def test_a_console_user_is_never_a_scraper():
    with pytest.raises(AccountError, match="role 'metrics' is for API tokens only"):
        check_user(CITY, "prom", "metrics", None, None)


def test_bridges_and_their_lua_timings_match_redis(client, routing):
    now = wall_clock_ms()
    timings = ScriptTimings()
    for seconds in (0.0004, 0.0015, 0.003, 2.0):
        timings.observe("claim_next", seconds)
    routing.bridge_heartbeat("bridge-4573", True, 12, script_timings=json.dumps(timings.snapshot()), now_ms=now - 2_000)
    routing.bridge_heartbeat("bridge-4574", False, 0, now_ms=now - 30_000)
    samples = scrape(client)
    ages = by(samples, "hotline_bridge_heartbeat_age_seconds", "bridge")
    assert ages["bridge-4573"] == pytest.approx(2.0, abs=1.5) and ages["bridge-4574"] == pytest.approx(30.0, abs=1.5)
    assert by(samples, "hotline_bridge_ami_up", "bridge") == {"bridge-4573": 1, "bridge-4574": 0}
    assert by(samples, "hotline_bridge_event_loop_lag_seconds", "bridge") == {"bridge-4573": 0.012, "bridge-4574": 0}
    buckets = {dict(labels)["le"]: v for labels, v in samples["hotline_lua_script_seconds_bucket"].items()
               if dict(labels)["process"] == "bridge-4573"}
    assert (buckets["0.0005"], buckets["0.002"], buckets["0.005"], buckets["1.0"], buckets["+Inf"]) == (1, 2, 3, 3, 4)
    sums = samples["hotline_lua_script_seconds_sum"]
    assert sums[(("process", "bridge-4573"), ("script", "claim_next"))] == pytest.approx(2.0049)
    # This API process's own scripts (the heartbeats just written) are there too.
    counts = samples["hotline_lua_script_seconds_count"]
    assert counts[(("process", "api"), ("script", "bridge_heartbeat"))] >= 2

"""``GET /metrics``: the line's state for Prometheus, read from Redis at each scrape.

Nothing is counted in this process: :class:`HotlineCollector` reads the same records the rest of
the API reads (``queueing.routing.Routing``'s readers) when Prometheus asks, so every API
process answers the same and a restart loses nothing.

* ``hotline_redis_up``: 1 when Redis answered the scrape; 0 when it did not, and then it is the
  only hotline metric (the scrape is still a 200: Prometheus records the 0, not a failed scrape).
* ``hotline_queue_callers{queue}``, ``hotline_queue_longest_wait_seconds{queue}``: callers
  waiting now, and how long the one who arrived first has been on the line.
* ``hotline_ivr_callers``, ``hotline_fallback_callers``: callers in the menu, and callers held
  by Asterisk's own fallback queue (the bridge or Redis was down when they came).
* ``hotline_desks{agency,state}``: the city file's desks by state (offline when never registered).
* ``hotline_calls_total{outcome}``: calls that arrived since midnight (the server's local time)
  and have ended, by outcome; Redis keeps no counter, so it is counted from the day's call
  records and starts again from 0 at midnight (``_created`` says when; ``rate()`` takes it as a reset).
* ``hotline_answer_wait_seconds{queue}``: a histogram of the wait from arrival to a desk's
  answer, of the calls answered among those that arrived since midnight (the same records).

* ``hotline_bridge_heartbeat_age_seconds{bridge}``, ``hotline_bridge_ami_up{bridge}``,
  ``hotline_bridge_event_loop_lag_seconds{bridge}``: each bridge's last heartbeat in Redis
  (``bridge_heartbeat``, every second): how old it is, its AMI link, how late its event loop woke.
  A bridge silent for a day is forgotten.
* ``hotline_resource_shortages_total{resource}``, ``hotline_resource_refused_total{resource,party}``:
  how often Asterisk ran out of RTP ports, channels or open files, and the callers it refused and
  desk legs it could not ring for it (``party`` caller / desk), as the bridges read them in
  Asterisk's warnings log (``resource_shortage``); kept in Redis, never reset.
* ``hotline_lua_script_seconds{process,script}``: a histogram of each Lua script's round trip, as
  each bridge measured it (sent with its heartbeat; counted since that bridge started) and as this
  API process did (``process="api"``).

The day's records are read once each: a call that has ended keeps its outcome, so the collector
remembers the ended ones and each scrape reads only the calls it has not seen end.

Who may scrape: a ``metrics`` or ``supervisor`` token, or with HOTLINE_METRICS_LOOPBACK=true
anyone from 127.0.0.1 / ::1 without a token (``api.auth.Access.scraper``).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import redis
from fastapi import APIRouter, Depends, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from api.auth import AUTH_RESPONSES, Access, Problem
from api.tokens import Principal
from config.names import GENERAL_QUEUE
from config.settings import CitySettings
from queueing.ended_calls import EndedCalls
from queueing.routing import Routing
from queueing.script_timing import BUCKETS_S as SCRIPT_BUCKETS_S
from queueing.script_timing import parse_snapshot
from queueing.states import CallOutcome, CallState, DeskState, RefusedParty, Resource

log = logging.getLogger("hotline.api.metrics")

#: Upper bounds (seconds) of the answer-wait histogram's buckets.
WAIT_BUCKETS_S = (5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 120.0, 300.0)
DAY_FIELDS = ("queue", "outcome", "answered_ms", "wait_ms")


def local_midnight_ms(now_ms: int) -> int:
    """The start of ``now_ms``'s day in this process's local time, in epoch ms."""
    day = datetime.fromtimestamp(now_ms / 1000).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(day.timestamp() * 1000)


class HotlineCollector(Collector):
    """Reads Redis at each scrape (``collect``); ``describe`` is empty so registering reads nothing."""

    def __init__(self, city: CitySettings, routing: Routing) -> None:
        self.routing = routing
        self.queues = list(city.queues)
        self.agencies = [a.id for a in city.agencies]
        self.desks = [(d.id, d.agency) for d in city.desks]
        self.day = EndedCalls(routing, DAY_FIELDS)

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        now_ms = self.routing.clock()
        try:
            families = list(self._read(now_ms))
        except redis.RedisError as exc:
            log.warning("metrics: Redis unreachable: %s", exc)
            families = []
        up = GaugeMetricFamily("hotline_redis_up", "1 when Redis answered this scrape, 0 when it did not "
                                                   "(then no other hotline metric is given)")
        up.add_metric([], 1 if families else 0)
        yield up
        yield from families

    def _read(self, now_ms: int) -> Iterator[Metric]:
        callers = GaugeMetricFamily("hotline_queue_callers", "Callers waiting in the queue now", labels=["queue"])
        longest = GaugeMetricFamily("hotline_queue_longest_wait_seconds",
                                    "How long the waiting caller who arrived first has been on the line (0: nobody waits)",
                                    labels=["queue"])
        for queue in self.queues:
            waiting = self.routing.waiting_since(queue)
            callers.add_metric([queue], len(waiting))
            first = min((arrived for _, arrived in waiting), default=now_ms)
            longest.add_metric([queue], max(0, now_ms - first) / 1000)

        states = Counter(record.get("state", "") for record in self.routing.active_calls())
        ivr = GaugeMetricFamily("hotline_ivr_callers", "Callers in the menu now, before choosing a queue")
        ivr.add_metric([], states[CallState.IVR])
        fallback = GaugeMetricFamily("hotline_fallback_callers",
                                     "Callers held by Asterisk's own fallback queue now (the bridge or Redis was down)")
        fallback.add_metric([], states[CallState.FALLBACK])

        desks = GaugeMetricFamily("hotline_desks", "The city file's desks, by agency and state",
                                  labels=["agency", "state"])
        by_state = Counter({(agency, str(state)): 0 for agency in self.agencies for state in DeskState})
        for desk_id, agency in self.desks:
            by_state[(agency, self.routing.desk(desk_id).get("state") or DeskState.OFFLINE)] += 1
        for (agency, state), count in sorted(by_state.items()):
            desks.add_metric([agency, state], count)

        yield from (callers, longest, ivr, fallback, desks)
        yield from self._shortages()
        yield from self._bridges(now_ms)
        yield from self._today(now_ms)

    def _shortages(self) -> Iterator[Metric]:
        counted = self.routing.resource_shortage_counts()
        shortages = CounterMetricFamily("hotline_resource_shortages",
                                        "Times Asterisk ran out of a resource (RTP ports, channels, open files), read "
                                        "in its warnings log", labels=["resource"])
        refused = CounterMetricFamily("hotline_resource_refused",
                                      "Callers refused and desk legs not rung because Asterisk ran out of a resource",
                                      labels=["resource", "party"])
        for resource in Resource:  # every resource from 0, so an alert rule sees the series before the first one
            shortages.add_metric([resource], counted.get(resource, 0))
            for party in RefusedParty:
                refused.add_metric([resource, party], counted.get(f"{resource}:{party}", 0))
        yield from (shortages, refused)

    def _bridges(self, now_ms: int) -> Iterator[Metric]:
        age = GaugeMetricFamily("hotline_bridge_heartbeat_age_seconds",
                                "How long ago each bridge last said it is alive (it does every second)", labels=["bridge"])
        ami = GaugeMetricFamily("hotline_bridge_ami_up", "1 while the bridge's AMI link to Asterisk is up, at its last "
                                                         "heartbeat", labels=["bridge"])
        lag = GaugeMetricFamily("hotline_bridge_event_loop_lag_seconds",
                                "How late the bridge's event loop woke for its last heartbeat", labels=["bridge"])
        scripts = HistogramMetricFamily("hotline_lua_script_seconds",
                                        "Round trip of each Lua script (routing decision), as the process that ran it "
                                        "measured it, since that process started", labels=["process", "script"])
        timings: list[tuple[str, dict[str, tuple[list[int], float]]]] = []
        for beat in self.routing.bridges():
            bridge = beat.get("bridge_id", "")
            age.add_metric([bridge], max(0, now_ms - _int(beat.get("heartbeat_ms"))) / 1000)
            ami.add_metric([bridge], 1 if beat.get("ami_up") == "1" else 0)
            lag.add_metric([bridge], _int(beat.get("loop_lag_ms")) / 1000)
            try:
                timings.append((bridge, parse_snapshot(json.loads(beat.get("lua") or "{}"))))
            except ValueError:
                log.warning("metrics: bridge %s sent unreadable script timings", bridge)
        timings.append(("api", parse_snapshot(self.routing.timings.snapshot())))
        for process, by_script in timings:
            for script, (counts, total_s) in sorted(by_script.items()):
                buckets = [*zip([str(b) for b in SCRIPT_BUCKETS_S], counts, strict=False), ("+Inf", counts[-1])]
                scripts.add_metric([process, script], buckets, sum_value=total_s)
        yield from (age, ami, lag, scripts)

    def _today(self, now_ms: int) -> Iterator[Metric]:
        """The counter and the histogram, from the records of the calls that arrived since midnight."""
        midnight = local_midnight_ms(now_ms)
        records = self.day.since(midnight)
        calls = CounterMetricFamily("hotline_calls", "Calls that arrived since midnight (local time) and have ended, "
                                                     "by outcome; starts again from 0 each midnight", labels=["outcome"])
        outcomes = Counter(r["outcome"] for r in records if r["outcome"])
        for outcome in CallOutcome:
            calls.add_metric([outcome], outcomes[outcome], created=midnight / 1000)

        waits: dict[str, list[float]] = {queue: [] for queue in self.queues}
        for r in records:
            if r["answered_ms"] and r["wait_ms"].isdigit():
                waits.setdefault(r["queue"] or GENERAL_QUEUE, []).append(int(r["wait_ms"]) / 1000)
        answer = HistogramMetricFamily("hotline_answer_wait_seconds",
                                       "Wait from a caller's arrival to a desk's answer, of the calls answered among "
                                       "those that arrived since midnight (local time)", labels=["queue"])
        for queue, seconds in waits.items():
            buckets = [(str(bound), sum(1 for s in seconds if s <= bound)) for bound in WAIT_BUCKETS_S]
            answer.add_metric([queue], [*buckets, ("+Inf", len(seconds))], sum_value=sum(seconds))
        yield calls
        yield answer


def _int(value: str | None) -> int:
    return int(value) if value and value.isdigit() else 0


# The refusals are JSON as everywhere (a "model" would file them under the route's text/plain).
REFUSALS: dict[int | str, dict[str, Any]] = {
    status: {"description": response["description"],
             "content": {"application/json": {"schema": Problem.model_json_schema()}}}
    for status, response in AUTH_RESPONSES.items()}


def metrics_router(access: Access, collector: HotlineCollector) -> APIRouter:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    router = APIRouter(responses=REFUSALS)

    @router.get("/metrics", response_class=PlainTextResponse)
    def metrics(scraper: Principal | None = Depends(access.scraper)) -> Response:
        """Prometheus's text format, read from Redis now: a metrics or supervisor token (or, with
        HOTLINE_METRICS_LOOPBACK=true, none from 127.0.0.1 / ::1). Redis down: still 200, hotline_redis_up 0."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router

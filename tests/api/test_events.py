"""``GET /events`` (issue 9): the events stream as Server-Sent Events, over a real uvicorn and Redis.

Events are made by real routing operations; each test reads the response as it streams."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from api.app import create_app
from api.services.events import EventService
from config.settings import RuntimeSettings, load_settings
from hotline.lab.ports import TCP, free_port
from queueing.event_stream import EventStream
from queueing.keys import Keys
from queueing.redis_connect import async_redis_client
from queueing.routing import AsyncRouting, Routing
from tests.api_tokens import SUPERVISOR, TOKENS, bearer
from tests.replay import E2E_CITY

CITY = load_settings(E2E_CITY)
KEEPALIVE_S = 0.3
EVENTS_KEY = Keys().events()


@pytest.fixture
def city():
    return CITY


@pytest.fixture
def routing(city_routing):
    return city_routing


def event_service(url: str, keepalive_s: float = KEEPALIVE_S) -> EventService:
    client = async_redis_client(url, decode_responses=True, socket_connect_timeout=1)
    return EventService(EventStream(client), AsyncRouting(client), keepalive_s=keepalive_s)


@dataclass
class Served:
    url: str
    service: EventService


@pytest.fixture
def serve(redis_url: str, routing: Routing) -> Iterator[Callable[..., Served]]:
    """Starts the API on a free port in a thread (uvicorn, as `hotline api` runs it)."""
    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(keepalive_s: float = KEEPALIVE_S) -> Served:
        service = event_service(redis_url, keepalive_s)
        app = create_app(RuntimeSettings(city_file=E2E_CITY), city=CITY, routing=routing, tokens=TOKENS, events=service)
        port = free_port(TCP)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                                               timeout_graceful_shutdown=1))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        running.append((server, thread))
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.01)
        return Served(f"http://127.0.0.1:{port}", service)

    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(10)


@dataclass
class Message:
    id: str | None = None
    event: str | None = None
    data: str | None = None
    comment: str | None = None

    def json(self) -> dict:
        assert self.data is not None
        return json.loads(self.data)


class Feed:
    """The messages of one ``GET /events`` response, read as they arrive."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.iter_lines()

    def next(self) -> Message:
        message = Message()
        for line in self.lines:
            if line == "":
                return message
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "":
                message.comment = value
            else:
                assert field in ("id", "event", "data") and getattr(message, field) is None, line
                setattr(message, field, value)
        raise AssertionError("the stream ended")

    def events(self, n: int) -> list[Message]:
        """The next ``n`` messages that are events (keepalives skipped)."""
        found: list[Message] = []
        while len(found) < n:
            message = self.next()
            if message.event is not None:
                found.append(message)
        return found

    def until_keepalive(self) -> list[Message]:
        """Every event before the next keepalive, and that keepalive last."""
        found = []
        while True:
            message = self.next()
            found.append(message)
            if message.comment == "keepalive":
                return found


@contextmanager
def follow(served: Served, holder: str = "supervisor", headers: dict[str, str] | None = None,
           params: dict[str, str] | None = None) -> Iterator[Feed]:
    with httpx.Client(base_url=served.url, timeout=5) as client, \
            client.stream("GET", "/events", headers={**bearer(holder), **(headers or {})}, params=params) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield Feed(response)


def newest_id(routing: Routing) -> str:
    return routing.events(1)[-1]["id"]


def make_events(routing: Routing) -> list[dict[str, str]]:
    """Five events: a caller arrives and waits, two desks change."""
    routing.arrive("c-1", "0912345678", "PJSIP/citizens-1")
    routing.enqueue("c-1", "police", 1, choice="1")
    routing.set_desk_state("desk-101", "ready")
    routing.set_desk_state("desk-102", "ready")
    routing.set_desk_state("desk-102", "paused", reason="lunch")
    return routing.events(5)


def test_events_arrive_in_order_as_messages_with_their_stream_ids(serve, routing):
    served = serve()
    with follow(served) as feed:
        live = feed.next()
        assert (live.event, live.id, live.json()) == ("live", newest_id(routing), {"after": newest_id(routing), "resumed": False})
        made = make_events(routing)
        got = feed.events(5)
    assert [m.event for m in got] == ["call_arrived", "call_queued", "desk_state", "desk_state", "desk_state"]
    assert [m.id for m in got] == [e["id"] for e in made]
    assert [m.json() for m in got] == made  # every field, and the id
    assert got[1].json()["queue"] == "police" and got[4].json()["reason"] == "lunch"


def test_a_reconnect_resumes_after_last_event_id_without_a_gap_or_a_duplicate(serve, routing):
    served = serve()
    made = make_events(routing)
    # Last-Event-ID (a reconnecting EventSource) wins over the URL's ?after=
    with follow(served, headers={"Last-Event-ID": made[1]["id"]}, params={"after": made[3]["id"]}) as feed:
        first = feed.next()
        assert (first.event, first.id, first.json()) == ("live", made[1]["id"], {"after": made[1]["id"], "resumed": True})
        *got, keepalive = feed.until_keepalive()
        assert [m.id for m in got] == [e["id"] for e in made[2:]]
        assert [m.json() for m in got] == made[2:]
        assert keepalive.id == made[-1]["id"]
        routing.set_desk_state("desk-101", "paused", reason="break")
        (later,) = feed.events(1)
        assert (later.id, later.json()["reason"]) == (newest_id(routing), "break")
    with follow(served, params={"after": made[3]["id"]}) as feed:
        assert feed.next().id == made[3]["id"]
        assert [m.id for m in feed.until_keepalive()[:-1]] == [made[4]["id"], newest_id(routing)]


def test_an_id_whose_successors_were_trimmed_gets_a_gap_message_first(serve, routing, redis_client):
    served = serve()
    made = make_events(routing)
    redis_client.xtrim(EVENTS_KEY, maxlen=2, approximate=False)
    kept = [e["id"] for e in made[-2:]]
    with follow(served, params={"after": made[1]["id"]}) as feed:
        gap, live = feed.next(), feed.next()
        assert (gap.event, gap.id) == ("gap", kept[-1])
        body = gap.json()
        assert (body["requested"], body["first_kept"], body["resume_from"]) == (made[1]["id"], kept[0], kept[-1])
        assert "no longer kept" in body["detail"] and "reload" in body["detail"]
        assert (live.event, live.id, live.json()) == ("live", kept[-1], {"after": kept[-1], "resumed": True})
        assert [m.event for m in feed.until_keepalive()] == [None]  # nothing kept is replayed
        routing.set_desk_state("desk-101", "offline")
        assert feed.events(1)[0].id == newest_id(routing)
    # the oldest kept id: nothing after it is gone
    with follow(served, params={"after": kept[0]}) as feed:
        assert feed.next().event == "live"
        assert [m.id for m in feed.until_keepalive()[:-1]] == [kept[1], newest_id(routing)]
    # the newest trimmed one: the stream cannot tell which ids it trimmed, so it says there may be a gap
    with follow(served, params={"after": made[2]["id"]}) as feed:
        assert feed.next().event == "gap"


def test_an_id_the_stream_never_reached_gets_a_gap_message(serve, routing):
    served = serve()
    with follow(served, headers={"Last-Event-ID": "99999999999999-0"}) as feed:
        gap = feed.next()
        assert gap.event == "gap" and gap.id == newest_id(routing)
        assert "never reached 99999999999999-0" in gap.json()["detail"]
        assert feed.next().event == "live"


def test_a_police_call_taker_sees_its_agency_and_the_general_queue_only(serve, routing):
    served = serve()
    # calls that arrived before the page opened: their queue comes from their records
    for call_id, queue in (("c-fire-old", "fire"), ("c-general-old", "general"), ("c-police-old", "police")):
        routing.arrive(call_id, "0900000001", f"PJSIP/citizens-{call_id}")
        routing.enqueue(call_id, queue, 1)
    with follow(served, "police") as police, follow(served, "viewer") as viewer:
        assert police.next().event == "live" and viewer.next().event == "live"
        routing.arrive("c-fire", "0900000002", "PJSIP/citizens-2")  # in the IVR: the general queue's, as for GET /calls
        routing.enqueue("c-fire", "fire", 1)
        routing.arrive("c-general", "0900000003", "PJSIP/citizens-3")
        routing.enqueue("c-general", "general", 0)
        routing.set_desk_state("desk-201", "ready")  # fire
        routing.set_desk_state("desk-101", "ready")  # police
        for call_id in ("c-fire-old", "c-general-old", "c-police-old"):
            routing.hangup(call_id, 10_000)  # the event names no queue
        routing.set_desk_state("desk-102", "ready")
        routing.set_desk_state("desk-201", "paused", reason="not for police")
        seen = [(m.event, m.json().get("call_id") or m.json()["desk_id"]) for m in police.until_keepalive()[:-1]]
        assert seen == [("call_arrived", "c-fire"), ("call_arrived", "c-general"), ("call_queued", "c-general"),
                        ("desk_state", "desk-101"), ("call_abandoned", "c-general-old"),
                        ("call_abandoned", "c-police-old"), ("desk_state", "desk-102")]
        # the page's resume point passes the events it does not see
        assert police.next() == Message(id=newest_id(routing), comment="keepalive")
        everything = [m.id for m in viewer.until_keepalive()[:-1]]
        assert len(everything) == 11 and everything[-1] == newest_id(routing)


def test_a_call_taker_sees_another_queue_s_call_once_it_is_at_its_agency_s_desk(serve, routing):
    """Overflow: a police caller rung at a fire desk cross-trained for police is the fire desk's business."""
    served = serve()
    routing.set_desk_state("desk-201", "ready")
    with follow(served, "fire") as fire:
        assert fire.next().event == "live"
        routing.arrive("c-police", "0900000004", "PJSIP/citizens-4")
        routing.enqueue("c-police", "police", 1)
        assert routing.claim_next(["police", "fire"], 15_000, overflow_after_ms={"police": 0}).desk_id == "desk-201"
        routing.offer_answered("c-police", "desk-201")
        routing.hangup("c-police", 10_000)
        routing.set_desk_state("desk-101", "ready")  # a police desk: not the fire page's
        seen = [(m.event, m.json()["call_id"]) for m in fire.until_keepalive()[:-1]]
    assert seen == [("call_arrived", "c-police"), ("offered", "c-police"), ("answered", "c-police"),
                    ("call_ended", "c-police")]


def test_keepalive_comments_flow_while_nothing_happens(serve, routing):
    served = serve()
    with follow(served) as feed:
        live = feed.next()
        started = time.monotonic()
        assert [feed.next() for _ in range(3)] == [Message(id=live.id, comment="keepalive")] * 3
        assert time.monotonic() - started >= 2.5 * KEEPALIVE_S


def test_a_page_that_goes_away_leaves_no_task_and_no_blocked_redis_read(serve, routing, redis_client):
    served = serve(keepalive_s=60)  # no keepalive write could notice the close: the disconnect must

    def blocked_reads() -> int:
        return sum(1 for client in redis_client.client_list() if client["cmd"] == "xread" and "b" in client["flags"])

    with follow(served) as feed:
        assert feed.next().event == "live"
        deadline = time.monotonic() + 5
        while blocked_reads() == 0:
            assert time.monotonic() < deadline, "the server is not waiting in XREAD BLOCK"
            time.sleep(0.02)
        assert served.service.open_streams == 1
    deadline = time.monotonic() + 5
    while served.service.open_streams or blocked_reads():
        assert time.monotonic() < deadline, (served.service.open_streams, blocked_reads())
        time.sleep(0.02)


@pytest.mark.parametrize(("headers", "params", "named"), [
    ({}, {"after": "abc"}, "after"),
    ({}, {"after": "1733100000000"}, "after"),  # the sequence is part of the id
    ({}, {"after": "18446744073709551616-0"}, "after"),  # 2^64
    ({"Last-Event-ID": "1-2-3"}, {}, "Last-Event-ID"),
    ({"Last-Event-ID": "x" * 500}, {"after": "1-0"}, "Last-Event-ID"),
])
def test_a_malformed_start_id_is_a_clear_400(redis_url, routing, headers, params, named):
    app = create_app(RuntimeSettings(city_file=E2E_CITY), city=CITY, routing=routing, tokens=TOKENS,
                     events=event_service(redis_url))
    with TestClient(app) as client:
        reply = client.get("/events", headers={**SUPERVISOR, **headers}, params=params)
    assert reply.status_code == 400
    detail = reply.json()["detail"]
    assert detail.startswith(f"{named}: ") and "<milliseconds>-<sequence>" in detail and len(detail) < 300


def test_without_a_token_401_and_without_redis_503(redis_url, routing):
    dead = free_port(TCP)  # nothing listens there
    for service, headers, status in ((event_service(redis_url), {}, 401),
                                     (event_service(f"redis://127.0.0.1:{dead}/0"), SUPERVISOR, 503)):
        app = create_app(RuntimeSettings(city_file=E2E_CITY), city=CITY, routing=routing, tokens=TOKENS, events=service)
        with TestClient(app) as client:
            reply = client.get("/events", headers=headers)
        assert reply.status_code == status, reply.text
    assert reply.json()["detail"].startswith("Redis unreachable")

"""The app's error handlers (api/errors.py): Redis errors are 503 and refusals 409 on every route,
with the body of every other error, and the OpenAPI spec declares them."""

from __future__ import annotations

import socket

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from redis.backoff import NoBackoff
from redis.retry import Retry

from api.errors import add_error_handlers
from config.settings import load_settings
from queueing.errors import RoutingRefused
from queueing.routing import Routing
from tests.api_client import api_client
from tests.api_tokens import SUPERVISOR
from tests.replay import E2E_CITY

CITY = load_settings(E2E_CITY)

# Every protected operation, with a request that reaches Redis.
PROTECTED = [
    ("get", "/desks", None),
    ("put", "/desks/desk-101/state", {"state": "ready", "reason": "shift start"}),
    ("post", "/desks/desk-101/login", {"reason": "shift start"}),
    ("post", "/desks/desk-101/logout", {"reason": "shift end"}),
    ("get", "/calls/c-1", None),
    ("get", "/queues", None),
    ("get", "/callbacks/police", None),
    ("post", "/callbacks/c-1/outcome", {"outcome": "reached", "desk_id": "desk-101"}),
    ("get", "/numbers/0912345678", None),
    ("put", "/numbers/0912345678/policy", {"policy": "general_only", "set_by": "s"}),
]


def api(routing: Routing) -> TestClient:
    return api_client(routing, headers=SUPERVISOR)


@pytest.fixture
def down_client():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5, decode_responses=True,
                       retry=Retry(NoBackoff(), 0))  # fail at once, no reconnect attempts
    with api(Routing(dead)) as c:
        yield c


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_redis_down_is_503_naming_the_address_on_every_route(down_client, method, path, body):
    response = getattr(down_client, method)(path, **({"json": body} if body else {}))
    assert response.status_code == 503
    assert list(response.json()) == ["detail"]
    assert response.json()["detail"].startswith("Redis unreachable: ")
    assert "connecting to 127.0.0.1:" in response.json()["detail"]


@pytest.mark.parametrize("error", [redis.exceptions.ConnectionError("Connection refused"),
                                   redis.exceptions.TimeoutError("Timeout reading from socket"),
                                   redis.exceptions.ResponseError("NOSCRIPT No matching script")])
def test_every_redis_error_is_503_with_the_drivers_words(error):
    app = FastAPI()
    add_error_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise error

    with TestClient(app) as c:
        response = c.get("/boom")
    assert response.status_code == 503
    assert response.json() == {"detail": f"Redis unreachable: {error}"}


def test_a_refusal_is_409_with_its_message():
    app = FastAPI()
    add_error_handlers(app)

    @app.post("/refuse")
    def refuse() -> None:
        raise RoutingRefused("desk desk-9 is ringing; cannot set ready")

    with TestClient(app) as c:
        response = c.post("/refuse")
    assert response.status_code == 409
    assert response.json() == {"detail": "desk desk-9 is ringing; cannot set ready"}


def test_login_of_a_logged_in_desk_is_409_and_changes_nothing(redis_client):
    routing = Routing(redis_client)
    with api(routing) as c:
        assert c.put("/desks/desk-101/state", json={"state": "ready", "reason": "shift start"}).status_code == 200
        response = c.post("/desks/desk-101/login", json={"reason": "shift start"})
    assert response.status_code == 409
    assert response.json() == {"detail": "desk desk-101 is already logged in (ready)"}
    assert routing.desk("desk-101")["state"] == "ready"


def test_a_number_that_cannot_call_is_still_400_not_409(redis_client):
    with api(Routing(redis_client)) as c:
        response = c.put("/numbers/anonymous/policy", json={"policy": "general_only", "set_by": "s"})
    assert response.status_code == 400
    assert "not a caller number" in response.json()["detail"]


def test_the_spec_declares_the_error_answers(redis_client):
    with api(Routing(redis_client)) as c:
        paths = c.get("/openapi.json").json()["paths"]
    for method, path, _ in PROTECTED:
        template = path.replace("desk-101", "{desk_id}").replace("c-1", "{call_id}").replace("police", "{agency}")
        template = template.replace("0912345678", "{number}")
        responses = paths[template][method]["responses"]
        assert responses["503"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    refusals = {("put", "/desks/{desk_id}/state"), ("post", "/desks/{desk_id}/login"), ("post", "/desks/{desk_id}/logout"),
                ("post", "/callbacks/{call_id}/outcome")}
    for method, path in refusals:
        assert "409" in paths[path][method]["responses"]
    assert "400" in paths["/numbers/{number}/policy"]["put"]["responses"]

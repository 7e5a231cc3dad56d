"""Supervisor alerts over the API: ``GET /alerts`` (supervisors and viewers) and
``POST /alerts/{alert_id}/ack`` (supervisors); the evaluation step the API's loop runs, called here
directly; the loop itself only when the app is asked to run it."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.services.alerts import AlertService
from config.settings import RuntimeSettings, load_settings
from queueing.alert_store import AlertStore
from queueing.routing import Routing
from tests.api_client import api_client
from tests.api_tokens import SUPERVISOR, TOKENS, bearer
from tests.replay import E2E_CITY

CITY = load_settings(E2E_CITY)
NOW = 1_767_225_600_000
VIEWER = bearer("viewer")


@pytest.fixture
def routing(redis_client):
    routing = Routing(redis_client, clock=lambda: NOW)
    for d in CITY.desks:
        routing.register_desk(d.id, d.agency, cross_trained=d.cross_trained, now_ms=NOW - 60_000)
        if d.agency != "police":
            routing.set_desk_state(d.id, "ready", now_ms=NOW - 60_000)
    return routing


@pytest.fixture
def alerts(routing):
    return AlertService(CITY, AlertStore(routing.redis, clock=routing.clock))


@pytest.fixture
def client(routing):
    with api_client(routing) as c:
        yield c


def test_no_police_desk_logged_in_is_a_critical_alert_a_supervisor_acknowledges(client, alerts):
    assert client.get("/alerts", headers=SUPERVISOR).json() == {"active": [], "history": [], "repeat_critical_s": 30}
    alerts.evaluate()
    body = client.get("/alerts", headers=VIEWER).json()
    (alert,) = body["active"]
    assert alert == {
        "alert_id": f"no_desk:police@{NOW}", "kind": "no_desk", "subject": "police", "level": "critical",
        "value": 0, "threshold": 0, "detail": "no police desk logged in", "params": {"agency": "police"},
        "raised_ms": NOW, "changed_ms": NOW, "acked_by": None, "acked_ms": None, "cleared_ms": None}

    path = f"/alerts/{quote(alert['alert_id'], safe='')}/ack"
    assert client.post(path, headers=VIEWER).status_code == 403
    acked = client.post(path, headers=SUPERVISOR)
    assert acked.status_code == 200, acked.text
    assert (acked.json()["acked_by"], acked.json()["acked_ms"]) == ("supervisor", NOW)
    assert client.get("/alerts", headers=VIEWER).json()["active"][0]["acked_by"] == "supervisor"
    again = client.post(path, headers=SUPERVISOR)
    assert (again.status_code, again.json()["detail"]) == (409, f"alert {alert['alert_id']} was acknowledged by "
                                                                "supervisor already")


def test_a_cleared_alert_moves_to_the_history_and_cannot_be_acknowledged(client, alerts, routing):
    alerts.evaluate()
    routing.set_desk_state("desk-101", "ready", now_ms=NOW)
    alerts.store.clock = lambda: NOW + 2000
    alerts.evaluate()
    body = client.get("/alerts", headers=SUPERVISOR).json()
    assert body["active"] == []
    assert [(a["alert_id"], a["cleared_ms"]) for a in body["history"]] == [(f"no_desk:police@{NOW}", NOW + 2000)]
    refused = client.post(f"/alerts/no_desk:police@{NOW}/ack", headers=SUPERVISOR)
    assert (refused.status_code, refused.json()["detail"]) == (409, f"alert no_desk:police@{NOW} was cleared already")
    assert client.post("/alerts/no_desk:fire@1/ack", headers=SUPERVISOR).json() == {
        "detail": "unknown alert no_desk:fire@1"}


def test_the_app_evaluates_nothing_by_itself_unless_asked(routing, redis_client):
    with api_client(routing) as c:
        c.get("/alerts", headers=SUPERVISOR)
    assert not redis_client.exists(routing.keys.alerts_evaluated())
    app = create_app(RuntimeSettings(city_file=E2E_CITY), city=CITY, routing=routing, tokens=TOKENS, alerts_every_s=0.05)
    with TestClient(app) as c:
        deadline = time.monotonic() + 10
        while not c.get("/alerts", headers=SUPERVISOR).json()["active"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [a["kind"] for a in c.get("/alerts", headers=SUPERVISOR).json()["active"]] == ["no_desk"]

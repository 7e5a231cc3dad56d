"""API access (issue 4): bearer tokens, roles and agencies on every route; the tokens file and
``hotline api-token add``; no token ever reaches a log."""

from __future__ import annotations

import json
import logging
import os
import re
import stat

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import api.tokens
from api.app import create_app
from api.tokens import TokenEntry, TokenTable, load_tokens, token_hash
from config.settings import RuntimeSettings, SettingsError
from hotline.cli import app as cli_app
from queueing.callbacks import Callbacks
from queueing.routing import Routing, wall_clock_ms
from tests.api_client import CITY, api_client
from tests.api_tokens import HOLDERS, TOKENS, bearer
from tests.replay import E2E_CITY

NUMBER = "0912345678"


def seed(routing: Routing, now: int | None = None) -> None:
    """Desks registered; a police, a fire and a general caller waiting; a callback task each.
    ``now``: the moment they are seeded around (default: the wall clock)."""
    for d in CITY.desks:
        routing.register_desk(d.id, d.agency, cross_trained=d.cross_trained)
    now = wall_clock_ms() if now is None else now
    for i, (call_id, queue) in enumerate((("c-police", "police"), ("c-fire", "fire"), ("c-general", "general"))):
        routing.arrive(call_id, f"090000000{i}", f"PJSIP/citizens-{call_id}", now_ms=now - 10_000)
        routing.enqueue(call_id, queue, 1, now_ms=now - 9_000)
    callbacks = Callbacks(routing.redis)
    for i, (call_id, queue) in enumerate((("cb-police", "police"), ("cb-fire", "fire"), ("cb-general", ""))):
        routing.arrive(call_id, f"091000000{i}", f"PJSIP/citizens-{call_id}", now_ms=now - 120_000)
        if queue:
            routing.enqueue(call_id, queue, 1, now_ms=now - 119_000)
        routing.hangup(call_id, 10_000, now_ms=now - 90_000)
        callbacks.create(call_id)


@pytest.fixture
def routing(redis_client):
    routing = Routing(redis_client)
    seed(routing)
    return routing


@pytest.fixture
def client(routing):
    with api_client(routing) as c:
        yield c


# --- routes × holders -------------------------------------------------------------------

HOLDER_COLUMNS = ("none", "bad", "supervisor", "viewer", "police", "police@desk-101", "fire", "metrics")
OUTCOME = {"outcome": "not_needed", "note": "checked"}
POLICY = {"policy": "general_only", "set_by": "supervisor-1"}
LOCATION = {"number": NUMBER, "lat": 21.0285, "lon": 105.8542, "radius_m": 30, "source": "aml"}
INCIDENT = {"expected_version": 0, "location_text": "12 Hang Bai"}
NOTE = {"text": "caller says smoke from the second floor"}
WRAP_UP = {"action": "end"}
TRANSFER = {"agency": "fire"}
HANGUP = {"confirm": True}
FORCED = {"state": "ready", "reason": "covering the night shift"}
REASON = {"reason": "the call-taker went home without logging out"}
SPY = {"mode": "listen", "supervisor_desk": "desk-201"}

# (method, path, body) → expected status for:   none  bad  sup  viewer police p@101 fire metrics
ROUTES: list[tuple[str, str, dict | None, tuple[int, ...]]] = [
    ("get", "/health", None,                         (200, 200, 200, 200, 200, 200, 200, 200)),
    # Prometheus (tests/api/test_metrics.py): a metrics token reads it and nothing else; so does a supervisor
    ("get", "/metrics", None,                        (401, 401, 200, 403, 403, 403, 403, 200)),
    ("get", "/desks", None,                          (401, 401, 200, 200, 200, 200, 200, 403)),
    ("get", "/queues", None,                         (401, 401, 200, 200, 200, 200, 200, 403)),
    ("get", "/calls/c-police", None,                 (401, 401, 200, 200, 200, 200, 403, 403)),
    ("get", "/calls/c-fire", None,                   (401, 401, 200, 200, 403, 403, 200, 403)),
    ("get", "/calls/c-general", None,                (401, 401, 200, 200, 200, 200, 200, 403)),
    ("get", "/calls/cb-general", None,               (401, 401, 200, 200, 200, 200, 200, 403)),  # never chose a queue
    ("get", "/desks/desk-101", None,                 (401, 401, 200, 200, 200, 200, 403, 403)),
    ("get", "/desks/desk-201", None,                 (401, 401, 200, 200, 403, 403, 200, 403)),
    # a supervisor forcing a desk says why (422 without a reason); its call-takers need none
    ("put", "/desks/desk-101/state", {"state": "ready"}, (401, 401, 422, 403, 200, 200, 403, 403)),
    ("put", "/desks/desk-102/state", FORCED,         (401, 401, 200, 403, 200, 403, 403, 403)),
    ("post", "/desks/desk-201/login", None,          (401, 401, 422, 403, 403, 403, 200, 403)),
    ("post", "/desks/desk-201/login", REASON,        (401, 401, 200, 403, 403, 403, 200, 403)),
    ("post", "/desks/desk-101/logout", None,         (401, 401, 422, 403, 200, 200, 403, 403)),
    ("post", "/desks/desk-101/logout", REASON,       (401, 401, 200, 403, 200, 200, 403, 403)),
    ("get", "/callbacks/police", None,               (401, 401, 200, 200, 200, 200, 403, 403)),
    ("get", "/callbacks/fire", None,                 (401, 401, 200, 200, 403, 403, 200, 403)),
    ("get", "/callbacks/general", None,              (401, 401, 200, 200, 200, 200, 200, 403)),
    ("post", "/callbacks/cb-police/outcome", OUTCOME, (401, 401, 200, 403, 200, 200, 403, 403)),
    ("post", "/callbacks/cb-fire/outcome", OUTCOME,  (401, 401, 200, 403, 403, 403, 200, 403)),
    ("post", "/callbacks/cb-general/outcome", OUTCOME, (401, 401, 200, 403, 200, 200, 200, 403)),
    ("post", "/callbacks/cb-police/outcome", {**OUTCOME, "desk_id": "desk-102"}, (401, 401, 200, 403, 200, 403, 403, 403)),
    ("get", f"/numbers/{NUMBER}", None,              (401, 401, 200, 200, 403, 403, 403, 403)),
    ("put", f"/numbers/{NUMBER}/policy", POLICY,     (401, 401, 200, 403, 403, 403, 403, 403)),
    # any token may follow the events (each sees its own; tests/api/test_events.py); a bad start id
    # ends the endless stream at once, after the token was checked
    ("get", "/events?after=not-an-id", None,         (401, 401, 400, 400, 400, 400, 400, 403)),
    # the console's session: a bearer token is no session (tests/api/test_session.py signs in)
    ("get", "/session", None,                        (401, 401, 401, 401, 401, 401, 401, 401)),
    ("delete", "/session", None,                     (401, 401, 401, 401, 401, 401, 401, 401)),
    ("post", "/session", {"user": "nobody", "password": "x", "desk": None}, (401, 401, 401, 401, 401, 401, 401, 401)),
    # the console's call panels (issue 9): reading follows GET /calls/{id}; acting needs the desk on the call,
    # and c-police is waiting, on no desk (409 for whoever may act at all)
    ("get", "/calls/c-police/pop", None,             (401, 401, 200, 200, 200, 200, 403, 403)),
    ("get", "/calls/c-fire/pop", None,               (401, 401, 200, 200, 403, 403, 200, 403)),
    ("post", "/calls/c-police/pop-seen", {"desk_id": "desk-101"}, (401, 401, 200, 403, 200, 200, 403, 403)),
    ("post", "/calls/c-police/pop-seen", {"desk_id": "desk-102"}, (401, 401, 200, 403, 200, 403, 403, 403)),
    ("post", "/locations", LOCATION,                 (401, 401, 201, 403, 403, 403, 403, 403)),
    ("get", f"/calls/search?number={NUMBER}", None,  (401, 401, 200, 200, 200, 200, 200, 403)),  # each sees its own
    ("get", "/calls/c-police/incident", None,        (401, 401, 200, 200, 200, 200, 403, 403)),
    ("put", "/calls/c-police/incident", INCIDENT,    (401, 401, 200, 403, 200, 200, 403, 403)),
    ("put", "/calls/c-fire/incident", INCIDENT,      (401, 401, 200, 403, 403, 403, 200, 403)),
    ("post", "/calls/c-police/incident/notes", NOTE, (401, 401, 201, 403, 201, 201, 403, 403)),
    ("put", "/desks/desk-101/wrap-up", WRAP_UP,      (401, 401, 409, 403, 409, 409, 403, 403)),  # not in wrap-up
    ("put", "/desks/desk-102/wrap-up", WRAP_UP,      (401, 401, 409, 403, 409, 403, 403, 403)),
    ("get", "/calls/c-police/transfer", None,        (401, 401, 200, 200, 200, 200, 403, 403)),
    # a call-taker bound to no desk acts on no call
    ("post", "/calls/c-police/transfer", TRANSFER,   (401, 401, 409, 403, 403, 409, 403, 403)),
    ("post", "/calls/c-police/transfer/cancel", None, (401, 401, 409, 403, 403, 409, 403, 403)),
    ("post", "/calls/c-police/hangup", HANGUP,       (401, 401, 409, 403, 403, 409, 403, 403)),
    ("post", "/calls/c-police/hold", None,           (401, 401, 409, 403, 403, 409, 403, 403)),
    ("post", "/calls/c-police/resume", None,         (401, 401, 409, 403, 403, 409, 403, 403)),
    # the lab city's dialer is off: 409 saying so, after the access check
    ("post", "/callbacks/cb-police/dial", None,      (401, 401, 409, 403, 409, 409, 403, 403)),
    ("post", "/callbacks/cb-fire/dial", None,        (401, 401, 409, 403, 403, 403, 409, 403)),
    # the recording: call-takers of its agency and supervisors, never a viewer (none made here: 404)
    ("get", "/calls/c-police/recording", None,       (401, 401, 404, 403, 404, 404, 403, 403)),
    ("get", "/calls/c-police/recording/recent", None, (401, 401, 404, 403, 404, 404, 403, 403)),
    ("get", "/calls/c-police/eido", None,            (401, 401, 200, 200, 200, 200, 403, 403)),
    ("get", "/calls/c-police/cad-push", None,        (401, 401, 200, 200, 200, 200, 403, 403)),
    ("post", "/calls/c-police/cad-push", None,       (401, 401, 409, 403, 409, 409, 403, 403)),  # no webhook in the city
    # the KPI reports (tests/api/test_reports.py): supervisors and viewers; the range is checked after the token
    ("get", "/reports/kpis", None,                   (401, 401, 200, 200, 403, 403, 403, 403)),
    ("get", "/reports/kpis?from_ms=10&to_ms=5", None, (401, 401, 422, 422, 403, 403, 403, 403)),
    ("get", "/reports/calls.csv", None,              (401, 401, 200, 200, 403, 403, 403, 403)),
    # supervisor alerts (tests/api/test_alerts.py): supervisors and viewers read; only a supervisor acknowledges
    ("get", "/alerts", None,                         (401, 401, 200, 200, 403, 403, 403, 403)),
    ("post", "/alerts/no_desk:police@1/ack", None,   (401, 401, 409, 403, 403, 403, 403, 403)),  # no such alert
    ("get", "/reports/plots/answer_histogram.png", None, (401, 401, 200, 200, 403, 403, 403, 403)),
    # a supervisor's actions on a waiting caller (tests/api/test_supervisor_actions.py): supervisors only;
    # desk-101 is offline, so a pick of it is refused after the access check
    ("post", "/calls/c-police/move", {"queue": "fire"}, (401, 401, 200, 403, 403, 403, 403, 403)),
    ("put", "/calls/c-police/priority", {"priority": 0}, (401, 401, 200, 403, 403, 403, 403, 403)),
    ("post", "/calls/c-police/pick", {"desk_id": "desk-101"}, (401, 401, 409, 403, 403, 403, 403, 403)),
    # a supervisor on a desk's call (tests/api/test_spy.py): supervisors act, viewers read; desk-101 is on no call
    ("get", "/desks/desk-101/spy", None,             (401, 401, 200, 200, 403, 403, 403, 403)),
    ("post", "/desks/desk-101/spy", SPY,             (401, 401, 409, 403, 403, 403, 403, 403)),
    ("put", "/desks/desk-101/spy", {"mode": "barge"}, (401, 401, 409, 403, 403, 403, 403, 403)),
    ("delete", "/desks/desk-101/spy", None,          (401, 401, 409, 403, 403, 403, 403, 403)),
    # the wallboard's figures (tests/api/test_board.py): supervisors and viewers
    ("get", "/board", None,                          (401, 401, 200, 200, 403, 403, 403, 403)),
]
CASES = [pytest.param(method, path, body, holder, expected[i], id=f"{method.upper()} {path} {body or ''} as {holder}")
         for method, path, body, expected in ROUTES for i, holder in enumerate(HOLDER_COLUMNS)]


def headers_of(holder: str) -> dict[str, str]:
    if holder == "none":
        return {}
    if holder == "bad":
        return {"Authorization": "Bearer not-a-token-anyone-was-given"}
    return bearer(holder)


@pytest.mark.parametrize(("method", "path", "body", "holder", "expected"), CASES)
def test_routes_by_role_and_agency(client, routing, method, path, body, holder, expected):
    before = routing.desk("desk-101"), routing.desk("desk-102"), Callbacks(routing.redis).task("cb-police")
    response = client.request(method.upper(), path, headers=headers_of(holder), **({"json": body} if body else {}))
    assert response.status_code == expected, response.text
    if expected == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    if expected in (401, 403):
        assert response.json()["detail"]
        # a refusal changes nothing
        assert (routing.desk("desk-101"), routing.desk("desk-102"), Callbacks(routing.redis).task("cb-police")) == before


TEMPLATES = [(r"/desks/[^/]+/(state|login|logout|wrap-up|spy)", r"/desks/{desk_id}/\1"), (r"/desks/[^/]+", "/desks/{desk_id}"),
             (r"/calls/search\?.*", "/calls/search"),
             (r"/calls/[^/]+/transfer/[^/]+", "/calls/{call_id}/transfer/{step}"),
             (r"/calls/[^/]+/(.+)", r"/calls/{call_id}/\1"), (r"/calls/[^/]+", "/calls/{call_id}"),
             (r"/callbacks/[^/]+/(outcome|dial)", r"/callbacks/{call_id}/\1"), (r"/callbacks/[^/]+", "/callbacks/{agency}"),
             (r"/alerts/[^/]+/ack", "/alerts/{alert_id}/ack"),
             (r"/numbers/[^/]+/policy", "/numbers/{number}/policy"), (r"/numbers/[^/]+", "/numbers/{number}"),
             (r"/reports/plots/[^/?]+\.png", "/reports/plots/{name}.png"), (r"/events\?.*", "/events"), (r"/reports/([^/?]+)\?.*", r"/reports/\1")]


def template(path: str) -> str:
    for pattern, replacement in TEMPLATES:
        if re.fullmatch(pattern, path):
            return re.sub(pattern, replacement, path)
    return path


def test_every_route_is_in_the_table(client):
    """A new route gets its rows here (and its access rule) before it ships."""
    spec = client.get("/openapi.json").json()
    assert {(method, path) for path, ops in spec["paths"].items() for method in ops} == {
        (method, template(path)) for method, path, _, _ in ROUTES}


def test_401_says_how_to_authenticate(client):
    missing = client.get("/desks")
    assert missing.json()["detail"].startswith("a bearer token is required")
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="hotline"'
    bad = client.get("/desks", headers={"Authorization": "Bearer nope"})
    assert bad.json() == {"detail": "invalid bearer token (unknown or revoked)"}
    assert bad.headers["WWW-Authenticate"] == 'Bearer realm="hotline", error="invalid_token"'
    token = HOLDERS["supervisor"][0]
    for header in (f"Basic {token}", token, "Bearer", f"Bearer  {token}x"):
        assert client.get("/desks", headers={"Authorization": header}).status_code == 401, header
    assert client.get("/desks", headers={"Authorization": f"bearer {token}"}).status_code == 200


def test_403_says_why(client):
    reply = client.get("/calls/c-fire", headers=bearer("police"))
    assert reply.json() == {"detail": "call c-fire is a fire call: a police call-taker may see police and general "
                                      "calls only"}
    reply = client.get("/callbacks/fire", headers=bearer("police"))
    assert reply.json() == {"detail": "callbacks of fire are not for a police call-taker: police and general only"}
    reply = client.put("/desks/desk-102/state", json={"state": "ready"}, headers=bearer("police@desk-101"))
    assert reply.json() == {"detail": "this token is bound to desk desk-101; it may not change desk-102"}
    reply = client.post("/desks/desk-101/login", headers=bearer("fire"))
    assert reply.json() == {"detail": "desk-101 is a police desk: a fire call-taker may change fire desks only"}
    reply = client.put("/desks/desk-101/state", json={"state": "ready"}, headers=bearer("viewer"))
    assert reply.json() == {"detail": "a viewer token may not do this (viewer tokens are read-only): it needs a "
                                      "call_taker or supervisor token"}
    reply = client.put(f"/numbers/{NUMBER}/policy", json=POLICY, headers=bearer("police"))
    assert reply.json() == {"detail": "a call_taker token may not do this: it needs a supervisor token"}


def test_a_refused_request_is_refused_before_its_body_is_read(client):
    """No token, or a viewer's: 401/403 even for a broken body (the body is nobody's business yet)."""
    assert client.put("/desks/desk-101/state", json={"state": "nonsense"}).status_code == 401
    assert client.put("/desks/desk-101/state", json={"state": "nonsense"}, headers=bearer("viewer")).status_code == 403
    assert client.put("/desks/desk-101/state", json={"state": "nonsense"}, headers=bearer("police")).status_code == 422


def test_unknown_things_are_404_for_every_role(client):
    for holder in ("supervisor", "police", "police@desk-101"):
        assert client.put("/desks/desk-999/state", json={"state": "ready"}, headers=bearer(holder)).status_code == 404
        assert client.get("/calls/c-nobody", headers=bearer(holder)).status_code == 404
        assert client.get("/callbacks/navy", headers=bearer(holder)).status_code == 404


def test_a_call_taker_sees_its_agencys_desks_and_queues(client):
    desks = client.get("/desks", headers=bearer("police")).json()
    assert [d["desk_id"] for d in desks] == ["desk-101", "desk-102"]
    queues = client.get("/queues", headers=bearer("fire")).json()
    assert queues == [{"queue": "general", "waiting": ["c-general"]}, {"queue": "fire", "waiting": ["c-fire"]}]
    assert [d["desk_id"] for d in client.get("/desks", headers=bearer("viewer")).json()] == [d.id for d in CITY.desks]
    assert len(client.get("/queues", headers=bearer("viewer")).json()) == len(CITY.queues)
    callbacks = client.get("/callbacks/police", headers=bearer("police")).json()
    assert {t["call_id"] for t in callbacks} == {"cb-police", "cb-general"}


def test_a_call_taker_sees_a_call_its_agencys_desk_took_on_overflow(client, routing):
    """desk-201 (fire) is cross-trained for police: a police caller it answers is the fire call-taker's to see."""
    for other in ("c-fire", "c-general"):
        routing.hangup(other, 10_000)
    routing.set_desk_state("desk-201", "ready")
    claim = routing.claim_next([a.id for a in CITY.agencies], 5_000, overflow_after_ms={"police": 0})
    assert (claim.call_id, claim.desk_id) == ("c-police", "desk-201")
    assert client.get("/calls/c-police", headers=bearer("fire")).status_code == 200
    assert client.get("/calls/c-police", headers=bearer("police")).status_code == 200


# --- starting the API -------------------------------------------------------------------


def test_no_tokens_file_no_api(routing):
    with pytest.raises(SettingsError, match=r"^HOTLINE_API_TOKENS_FILE is not set: .*hotline api-token add"):
        create_app(RuntimeSettings(city_file=E2E_CITY), city=CITY, routing=routing)


def test_the_tokens_file_from_the_environment(routing, tmp_path, monkeypatch):
    path = tmp_path / "tokens.toml"
    token = api.tokens.add_token(path, CITY, name="ops", role="supervisor")
    monkeypatch.setenv("HOTLINE_API_TOKENS_FILE", str(path))
    runtime = RuntimeSettings.from_env(city_file=E2E_CITY)
    with TestClient(create_app(runtime, city=CITY, routing=routing)) as c:
        assert c.get("/desks", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert c.get("/desks", headers=bearer("supervisor")).status_code == 401  # not in that file


def test_auth_off_is_a_lab_without_tokens(routing, caplog):
    runtime = RuntimeSettings(city_file=E2E_CITY, api_auth="off")
    with TestClient(create_app(runtime, city=CITY, routing=routing)) as c:
        assert c.get("/desks").status_code == 200
        assert c.put(f"/numbers/{NUMBER}/policy", json=POLICY).status_code == 200
    assert "HOTLINE_API_AUTH=off: the API answers anyone without a token" in caplog.text


def test_hotline_api_refuses_to_start_without_tokens(monkeypatch, redis_url):
    for name in list(os.environ):
        if name.startswith("HOTLINE_"):
            monkeypatch.delenv(name)
    result = CliRunner().invoke(cli_app, ["api"], env={"HOTLINE_CITY_FILE": str(E2E_CITY), "HOTLINE_REDIS_URL": redis_url})
    assert result.exit_code == 2
    assert "HOTLINE_API_TOKENS_FILE is not set" in result.output


def test_the_spec_shows_the_bearer_scheme_on_every_route_but_health(client):
    """... or the console's session cookie in its place; signing in needs neither."""
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["bearer"]["type"] == "http"
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert spec["components"]["securitySchemes"]["session"] | {"description": ""} == {
        "type": "apiKey", "in": "cookie", "name": "hotline_session", "description": ""}
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if path == "/health" or (method, path) == ("post", "/session"):
                assert "security" not in op, (method, path)
                assert ("401" in op["responses"]) == (path == "/session"), (method, path)
            elif path == "/session":
                assert op["security"] == [{"session": []}], (method, path)
                assert "401" in op["responses"], (method, path)
            else:
                assert op["security"] == [{"bearer": []}, {"session": []}], (method, path)
                assert {"401", "403"} <= set(op["responses"]), (method, path)


# --- secrets ------------------------------------------------------------------------------


def test_no_token_reaches_a_log(client, caplog):
    caplog.set_level(logging.DEBUG)
    for holder in HOLDER_COLUMNS:
        for method, path, body, _ in ROUTES:
            client.request(method.upper(), path, headers=headers_of(holder), **({"json": body} if body else {}))
    client.get("/desks", headers={"Authorization": f"Basic {HOLDERS['viewer'][0]}"})
    text = caplog.text + "\n".join(f"{r.getMessage()} {r.args!r} {r.__dict__!r}" for r in caplog.records)
    assert "request by token 'police@desk-101' (call_taker, police, desk desk-101)" in text  # the name is logged
    assert "401: invalid bearer token" in text and "403 for token 'fire'" in text
    for token, *_ in HOLDERS.values():
        assert token not in text
        assert token_hash(token) not in text
    assert "not-a-token-anyone-was-given" not in text


def test_tokens_are_compared_by_hash_in_constant_time(monkeypatch):
    compared: list[tuple[str, str]] = []
    real = api.tokens.hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(api.tokens.hmac, "compare_digest", spy)
    first = HOLDERS["supervisor"][0]  # the first entry: every other hash is still compared
    assert TOKENS.authenticate(first).name == "supervisor"
    assert len(compared) == len(HOLDERS)
    assert all(b == token_hash(first) for _, b in compared)
    assert TOKENS.authenticate("nope") is None
    assert TokenTable([]).authenticate("") is None


# --- hotline api-token add ------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch):
    for name in list(os.environ):
        if name.startswith("HOTLINE_"):
            monkeypatch.delenv(name)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli_app, ["api-token", "add", *args], env={"HOTLINE_CITY_FILE": str(E2E_CITY)})
    return invoke


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_api_token_add_prints_the_token_once_and_keeps_its_hash(cli, tmp_path, suffix):
    path = tmp_path / f"tokens{suffix}"
    first = cli("--name", "duty supervisor", "--role", "supervisor", "--file", str(path))
    assert first.exit_code == 0, first.output
    token = first.stdout.strip()
    assert len(token) >= 43 and "\n" not in token
    assert "shown only now" in first.stderr
    second = cli("--name", "desk-101 day", "--role", "call_taker", "--desk", "desk-101", "--file", str(path))
    assert second.exit_code == 0, second.output
    assert second.stdout.strip() != token
    third = cli("--name", "wallboard", "--role", "viewer", "--file", str(path))
    assert third.exit_code == 0, third.output

    text = path.read_text()
    assert token not in text and second.stdout.strip() not in text
    assert token_hash(token) in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    table = load_tokens(path, CITY)
    assert len(table) == 3
    assert table.authenticate(token).role == "supervisor"
    desk = table.authenticate(second.stdout.strip())
    assert (desk.name, desk.role, desk.agency, desk.desk) == ("desk-101 day", "call_taker", "police", "desk-101")
    if suffix == ".json":
        assert [t["name"] for t in json.loads(text)["tokens"]] == ["duty supervisor", "desk-101 day", "wallboard"]


def test_api_token_add_keeps_the_files_comments(cli, tmp_path):
    path = tmp_path / "tokens.toml"
    path.write_text("# issued by the shift lead\n")
    path.chmod(0o640)
    assert cli("--name", "ops", "--role", "supervisor", "--file", str(path)).exit_code == 0
    assert path.read_text().startswith("# issued by the shift lead\n\n[[tokens]]\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--role", "admin"), "--role must be one of call_taker, supervisor, viewer, metrics, got 'admin'"),
        (("--role", "call_taker"), "tokens[1].agency (token 'new'): a call_taker needs an agency"),
        (("--role", "call_taker", "--agency", "navy"), "tokens[1].agency (token 'new'): agency 'navy' is not an agency of the city file"),
        (("--role", "call_taker", "--agency", "general"), "the general queue is every agency's"),
        (("--role", "call_taker", "--desk", "desk-999"), "tokens[1].desk (token 'new'): desk 'desk-999' is not a desk of the city file"),
        (("--role", "call_taker", "--agency", "police", "--desk", "desk-201"),
         "tokens[1].desk (token 'new'): desk 'desk-201' is a fire desk, not police"),
        (("--role", "viewer", "--agency", "police"), "tokens[1].agency (token 'new'): agency 'police': only a call_taker belongs to an agency"),
        (("--role", "supervisor", "--desk", "desk-101"), "tokens[1].desk (token 'new'): desk 'desk-101': only a call_taker works at a desk"),
        (("--role", "supervisor", "--name", "ops"), "tokens[1].name (token 'ops'): 'ops' is already the name of tokens[0]"),
    ],
)
def test_api_token_add_refuses_a_bad_entry_and_writes_nothing(cli, tmp_path, args, expected):
    path = tmp_path / "tokens.toml"
    assert cli("--name", "ops", "--role", "supervisor", "--file", str(path)).exit_code == 0
    before = path.read_text()
    result = cli(*(("--name", "new") if "--name" not in args else ()), *args, "--file", str(path))
    assert result.exit_code == 2
    assert expected in result.stderr
    assert result.stdout == ""  # no token printed for an entry that was not added
    assert path.read_text() == before


def test_api_token_add_refuses_a_broken_file(cli, tmp_path):
    path = tmp_path / "tokens.json"
    path.write_text('{"tokens": [{"name": "x"}]}')
    result = cli("--name", "ops", "--role", "supervisor", "--file", str(path))
    assert result.exit_code == 2
    assert f"{path}: tokens[0].sha256 (token 'x'): required key is missing" in result.stderr
    assert path.read_text() == '{"tokens": [{"name": "x"}]}'
    result = cli("--name", "ops", "--role", "supervisor", "--file", str(tmp_path / "tokens.yaml"))
    assert result.exit_code == 2 and "must end in .json or .toml" in result.stderr


# --- the tokens file, validated at API start ----------------------------------------------------

HASH = token_hash("a")
OTHER = token_hash("b")


def entry(**fields) -> dict:
    return {"sha256": HASH, "name": "ops", "role": "supervisor", **fields}


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        ([entry(sha256="correct-horse-battery-staple")],
         "tokens[0].sha256 (token 'ops'): must be the token's SHA-256 as 64 lowercase hex digits"),
        ([entry(sha256=HASH.upper())], "tokens[0].sha256 (token 'ops'): must be the token's SHA-256"),
        ([{"sha256": HASH, "name": "ops"}], "tokens[0].role (token 'ops'): required key is missing"),
        ([entry(rol="viewer")], "tokens[0].rol (token 'ops'): unknown key"),
        ([entry(role="admin")], "tokens[0].role (token 'ops'): must be 'call_taker', 'supervisor', 'viewer' or 'metrics', got 'admin'"),
        ([entry(name="")], "tokens[0].name (token ''): must be 1-80 printable characters"),
        ([entry(role="call_taker")], "tokens[0].agency (token 'ops'): a call_taker needs an agency"),
        ([entry(role="call_taker", agency="navy")], "tokens[0].agency (token 'ops'): agency 'navy' is not an agency of the city file "
                                                    "(police, fire, medical, disaster)"),
        ([entry(role="call_taker", agency="fire", desk="desk-101")],
         "tokens[0].desk (token 'ops'): desk 'desk-101' is a police desk, not fire"),
        ([entry(role="call_taker", agency="fire", desk="desk-9")], "tokens[0].desk (token 'ops'): desk 'desk-9' is not a desk of the city file"),
        ([entry(role="supervisor", agency="fire")], "tokens[0].agency (token 'ops'): agency 'fire': only a call_taker belongs to an agency"),
        ([entry(), entry(name="ops-2")], "tokens[1].sha256 (token 'ops-2'): the same token as tokens[0] ('ops')"),
        ([entry(), entry(sha256=OTHER)], "tokens[1].name (token 'ops'): 'ops' is already the name of tokens[0]"),
        ([], "tokens: no token listed"),
        ({"token": []}, "token: unknown key"),
    ],
)
@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_a_bad_tokens_file_is_refused_naming_the_entry_and_key(tmp_path, tokens, expected, suffix):
    data = tokens if isinstance(tokens, dict) else {"tokens": tokens}
    path = tmp_path / f"tokens{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(data))
    else:
        lines = [f"{k} = []" for k, v in data.items() if not v]
        for item in next(iter(data.values())):
            lines += ["[[tokens]]", *(f"{k} = {json.dumps(v)}" for k, v in item.items())]
        path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SettingsError) as error:
        load_tokens(path, CITY)
    assert f"{path}: {expected}" in str(error.value), str(error.value)
    assert "correct-horse-battery-staple" not in str(error.value)  # a pasted token is never echoed


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("tokens.json", "{", "not valid JSON"),
        ("tokens.toml", "[[tokens]\n", "not valid TOML"),
        ("tokens.json", "[]", "(top level): must be a valid dictionary"),
        ("tokens.txt", "", "must end in .json or .toml"),
        ("missing.toml", None, "no such file"),
    ],
)
def test_an_unreadable_tokens_file_says_why(tmp_path, name, content, expected):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(SettingsError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load_tokens(path, CITY)


def test_a_valid_tokens_file(tmp_path):
    path = tmp_path / "tokens.toml"
    path.write_text(f'[[tokens]]\nsha256 = "{HASH}"\nname = "desk 101"\nrole = "call_taker"\nagency = "police"\n'
                    f'desk = "desk-101"\n\n[[tokens]]\nsha256 = "{OTHER}"\nname = "board"\nrole = "viewer"\n')
    table = load_tokens(path, CITY)
    assert table.authenticate("a") == api.tokens.Principal("desk 101", "call_taker", "police", "desk-101")
    assert table.authenticate("b").role == "viewer"
    assert TokenEntry(sha256=HASH, name=" padded ", role="viewer").name == "padded"

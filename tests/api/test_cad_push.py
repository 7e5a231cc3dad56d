"""Pushes of a call's EIDO document to the agencies' CAD (api/cad_push.py, queueing/cad_pushes.py, api/routers/eido.py).

A real HTTP server on 127.0.0.1 plays each agency's CAD: it checks the HMAC itself and answers what the
test tells it (503 a few times, then 200). The rq jobs run in a real rq worker (SimpleWorker, burst)
against the test redis-server; a retry's wait is skipped by moving rq's scheduled job to the queue
(``run_scheduled``), never by sleeping.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis

from api import cad_push
from config.settings import RuntimeSettings, SettingsError, load_settings, parse_settings
from queueing import jobs
from queueing.cad_pushes import CadPushes
from queueing.incidents import Incidents
from queueing.routing import Routing, wall_clock_ms
from queueing.states import CadPushStatus
from tests.api.test_eido import errors as eido_errors
from tests.api_client import api_client
from tests.api_tokens import bearer
from tests.queueing.test_jobs import run_scheduled, work
from tests.replay import E2E_CITY

BASE = load_settings(E2E_CITY)
SECRETS = {"police": "s3cret-police-ünïcode", "fire": "s3cret-fire"}


class Cad:
    """One agency's CAD: records every request whose signature is right, answers ``answers`` in turn (then 200)."""

    def __init__(self, agency: str) -> None:
        self.agency = agency
        self.answers: list[int] = []
        self.received: list[dict] = []
        self.refused: list[str] = []
        cad = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                timestamp = self.headers[cad_push.TIMESTAMP_HEADER]
                expected = "sha256=" + hmac.new(SECRETS[cad.agency].encode(), timestamp.encode() + b"." + body,
                                                hashlib.sha256).hexdigest()
                if not hmac.compare_digest(expected, self.headers[cad_push.SIGNATURE_HEADER]):
                    cad.refused.append("bad signature")
                    status = 401
                else:
                    cad.received.append({"body": body, "timestamp": timestamp, "delivery": self.headers[cad_push.DELIVERY_HEADER],
                                         "content_type": self.headers["Content-Type"]})
                    status = cad.answers.pop(0) if cad.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/eido"
        # shutdown() waits for the serving loop's next poll: a short one ends each test sooner.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def cads():
    made = {agency: Cad(agency) for agency in SECRETS}
    yield made
    for cad in made.values():
        cad.close()


@pytest.fixture
def city(cads):
    agencies = [a.model_copy(update={"cad_webhook_url": cads[a.id].url,
                                     "cad_webhook_secret_env": f"HOTLINE_CAD_SECRET_{a.id.upper()}"}) if a.id in cads else a
                for a in BASE.agencies]
    return BASE.model_copy(update={"agencies": agencies})


@pytest.fixture
def worker(redis_client, redis_url, city, monkeypatch):
    """rq's connection (bytes) to the flushed test Redis, with the worker's settings and its secrets."""
    for agency, secret in SECRETS.items():
        monkeypatch.setenv(f"HOTLINE_CAD_SECRET_{agency.upper()}", secret)
    jobs.configure(city=city, runtime=RuntimeSettings(redis_url=redis_url, ami_secret="x"))
    with redis.Redis.from_url(redis_url) as client:
        yield client
    jobs.configure()


@pytest.fixture
def routing(redis_client):
    return Routing(redis_client)


@pytest.fixture
def api(routing, city):
    with api_client(routing, city=city, headers=bearer("police")) as c:
        yield c


def dispatched_call(routing, call_id="c-1", agencies="police", queue="police"):
    at = wall_clock_ms() - 120_000
    routing.arrive(call_id, "0912345678", f"PJSIP/citizens-{call_id}", now_ms=at)
    routing.enqueue(call_id, queue, 1, choice="1", route_reason="chosen", now_ms=at + 2_000)
    incidents = Incidents(routing.redis)
    incidents.save(call_id, {"nature": "robbery", "location_text": "12 Hàng Bài, Hoàn Kiếm", "agencies": agencies,
                             "disposition": "dispatched", "priority": "1"}, by="lan", expected_version=0)
    incidents.add_note(call_id, "hai người, có dao <b>gấp</b>", by="lan")


def push_events(routing, call_id="c-1"):
    return [(e["agency"], e["status"], e["attempts"]) for e in routing.events(1000)
            if e["type"] == "cad_push" and e["call_id"] == call_id]


def test_a_cad_that_answers_503_twice_gets_the_document_on_the_third_try(api, routing, worker, cads):
    dispatched_call(routing)
    cads["police"].answers = [503, 503]

    reply = api.post("/calls/c-1/cad-push")
    assert reply.status_code == 202
    assert [(p["agency"], p["status"]) for p in reply.json()["pushes"]] == [("police", "pending")]

    work(worker)
    (police,) = api.get("/calls/c-1/cad-push").json()["pushes"]
    assert (police["status"], police["attempts"], police["last_http_status"], police["retrying"]) == ("failed", 1, 503, True)
    assert "503" in police["last_error"]

    assert run_scheduled(worker) == 1
    work(worker)
    assert run_scheduled(worker) == 1
    work(worker)
    assert run_scheduled(worker) == 0

    (police,) = api.get("/calls/c-1/cad-push").json()["pushes"]
    assert (police["status"], police["attempts"], police["last_error"]) == ("sent", 3, "")
    assert police["sent_ms"] is not None
    assert CadPushes(routing.redis).open_calls() == []
    assert cads["police"].refused == [] and len(cads["police"].received) == 3
    assert cads["fire"].received == []  # the incident needs police only
    last = cads["police"].received[-1]
    assert last["delivery"] == "c-1-1" and last["content_type"] == "application/json; charset=utf-8"
    document = json.loads(last["body"].decode("utf-8"))
    assert eido_errors(document) == []
    assert document["incidentComponent"]["internalIncidentId"] == "c-1"
    assert document["notesComponent"][0]["notesActionComments"] == "hai người, có dao &lt;b&gt;gấp&lt;/b&gt;"
    assert push_events(routing) == [("police", "pending", "0"), ("police", "failed", "1"), ("police", "failed", "2"),
                                    ("police", "sent", "3")]


def test_a_push_that_keeps_failing_stays_failed_with_its_document_and_a_resend_sends_it(api, routing, worker, cads):
    dispatched_call(routing, agencies="police,fire")
    cads["fire"].answers = [503] * (cad_push.CAD_RETRY.max + 1)

    assert api.post("/calls/c-1/cad-push").status_code == 202
    work(worker)
    while run_scheduled(worker):
        work(worker)

    pushes = {p["agency"]: p for p in api.get("/calls/c-1/cad-push").json()["pushes"]}
    assert pushes["police"]["status"] == "sent"
    fire = pushes["fire"]
    assert (fire["status"], fire["attempts"], fire["last_http_status"], fire["retrying"]) == (
        "failed", cad_push.CAD_RETRY.max + 1, 503, False)
    assert CadPushes(routing.redis).open_calls() == ["c-1"]
    kept = CadPushes(routing.redis).record("c-1")["document"]
    assert eido_errors(json.loads(kept)) == []  # nothing lost: the document waits in Redis
    assert api.get("/calls/c-1/cad-push").json()["document_kept"] is True

    reply = api.post("/calls/c-1/cad-push", json={"agencies": ["fire"]})  # the CAD is back: resend by hand
    assert reply.status_code == 202
    work(worker)
    pushes = {p["agency"]: p for p in api.get("/calls/c-1/cad-push").json()["pushes"]}
    assert (pushes["fire"]["status"], pushes["fire"]["attempts"]) == ("sent", 1)
    assert pushes["police"]["status"] == "sent" and len(cads["police"].received) == 1  # not sent twice
    assert cads["fire"].received[-1]["delivery"] == "c-1-2"
    assert CadPushes(routing.redis).open_calls() == []


def test_a_missing_secret_fails_at_once_and_says_which_variable(api, routing, worker, cads, monkeypatch):
    monkeypatch.delenv("HOTLINE_CAD_SECRET_POLICE")
    dispatched_call(routing)
    api.post("/calls/c-1/cad-push")
    work(worker)
    assert run_scheduled(worker) == 0  # another try changes nothing
    (police,) = api.get("/calls/c-1/cad-push").json()["pushes"]
    assert (police["status"], police["retrying"]) == ("failed", False)
    assert "HOTLINE_CAD_SECRET_POLICE is not set" in police["last_error"]
    assert cads["police"].received == []


def test_a_newer_document_replaces_the_waiting_one(api, routing, worker, cads):
    dispatched_call(routing)
    api.post("/calls/c-1/cad-push")
    Incidents(routing.redis).add_note("c-1", "xe thứ hai", by="lan")
    api.post("/calls/c-1/cad-push")
    work(worker)
    (received,) = cads["police"].received  # the first job found its document replaced: one POST, the newest
    assert received["delivery"] == "c-1-2"
    assert [n["notesActionComments"] for n in json.loads(received["body"])["notesComponent"]][-1] == "xe thứ hai"
    (police,) = api.get("/calls/c-1/cad-push").json()["pushes"]
    assert (police["status"], police["seq"], police["sent_seq"]) == ("sent", 2, 2)


def test_a_cad_that_never_answers_is_a_failed_try(api, routing, worker, cads):
    cads["police"].close()  # nobody listens on its address any more
    dispatched_call(routing)
    api.post("/calls/c-1/cad-push")
    work(worker)
    (police,) = api.get("/calls/c-1/cad-push").json()["pushes"]
    assert (police["status"], police["last_http_status"], police["retrying"]) == ("failed", None, True)
    assert police["last_error"].startswith(f"no answer from {cads['police'].url}")


def test_the_signature_covers_the_timestamp_and_the_body():
    body = '{"a":"Hà Nội"}'.encode()
    sent = cad_push.signature("k", "1790000000", body)
    assert cad_push.verify("k", "1790000000", body, sent, now_s=1790000100)
    assert not cad_push.verify("k", "1790000000", body + b" ", sent, now_s=1790000100)
    assert not cad_push.verify("k", "1790000001", body, sent, now_s=1790000100)  # another timestamp
    assert not cad_push.verify("other", "1790000000", body, sent, now_s=1790000100)
    assert not cad_push.verify("k", "1790000000", body, sent, now_s=1790000000 + cad_push.REPLAY_WINDOW_S + 1)  # a replay


def test_refusals_and_bad_input(api, routing, worker):
    dispatched_call(routing)
    dispatched_call(routing, "c-fire", agencies="fire", queue="fire")
    assert api.post("/calls/c-1/cad-push", json={"agencies": ["navy"]}).status_code == 422
    reply = api.post("/calls/c-1/cad-push", json={"agencies": ["medical"]})
    assert reply.status_code == 409 and "no cad_webhook_url" in reply.json()["detail"]
    assert api.post("/calls/c-none/cad-push").status_code == 404
    # a police call-taker sees nothing of a fire call
    for reply in (api.get("/calls/c-fire/eido"), api.get("/calls/c-fire/cad-push"), api.post("/calls/c-fire/cad-push")):
        assert reply.status_code == 403 and "c-fire" in reply.json()["detail"]
    assert api.post("/calls/c-1/cad-push", headers=bearer("viewer")).status_code == 403
    assert CadPushes(routing.redis).record("c-fire") == {}


def test_the_export_is_a_download_named_by_the_call(api, routing, worker):
    dispatched_call(routing)
    reply = api.get("/calls/c-1/eido")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["content-disposition"] == 'attachment; filename="eido-c-1.json"'
    document = reply.json()
    assert eido_errors(document) == []
    assert document["locationComponent"][0]["locationDescriptionText"] == "12 Hàng Bài, Hoàn Kiếm"
    assert CadPushes(routing.redis).record("c-1") == {}  # reading pushes nothing


def test_the_status_events_reach_the_police_page_scope(api, routing, worker):
    dispatched_call(routing)
    api.post("/calls/c-1/cad-push")
    (event,) = [e for e in routing.events(100) if e["type"] == "cad_push"]
    assert (event["call_id"], event["queue"], event["agency"], event["status"]) == ("c-1", "police", "police",
                                                                                    CadPushStatus.PENDING)


@pytest.mark.parametrize(("agency", "problem"), [
    ({"cad_webhook_url": "https://cad.police.example/eido"}, "agencies[0].cad_webhook_secret_env: missing"),
    ({"cad_webhook_secret_env": "HOTLINE_CAD_SECRET_POLICE"}, "agencies[0].cad_webhook_url: missing"),
    ({"cad_webhook_url": "ftp://cad.example/x", "cad_webhook_secret_env": "X"}, "agencies[0].cad_webhook_url: must be an http"),
    ({"cad_webhook_url": "https://user:pw@cad.example/x", "cad_webhook_secret_env": "X"},
     "agencies[0].cad_webhook_url: must not carry a user name or password"),
    ({"cad_webhook_url": "https://cad.example/x", "cad_webhook_secret_env": "s3cret value"},
     "agencies[0].cad_webhook_secret_env: must be an environment variable name"),
])
def test_the_city_file_names_a_bad_webhook_setting(agency, problem):
    data = tomllib.loads(E2E_CITY.read_text(encoding="utf-8"))
    data["agencies"][0] |= agency
    with pytest.raises(SettingsError) as raised:
        parse_settings(data, "city.toml")
    assert problem in str(raised.value)


def test_the_workers_sweep_sends_a_waiting_document_whose_job_was_lost(api, routing, worker, cads):
    dispatched_call(routing)
    document = json.dumps(api.get("/calls/c-1/eido").json(), ensure_ascii=False)
    CadPushes(routing.redis).queue_document("c-1", document, ["police"], by="dispatch")  # in Redis, no job
    jobs.job_queue(worker).enqueue(cad_push.sweep_cad_pushes, "hotline:")
    work(worker)
    (police,) = api.get("/calls/c-1/cad-push").json()["pushes"]
    assert police["status"] == "sent"
    assert json.loads(cads["police"].received[0]["body"]) == json.loads(document)


def test_the_worker_names_a_secret_that_is_not_set(city):
    assert cad_push.missing_secrets(city, {"HOTLINE_CAD_SECRET_POLICE": "x"}) == [
        f"agencies fire: HOTLINE_CAD_SECRET_FIRE is not set: pushes to {city.agency('fire').cad_webhook_url} will fail until it is"]
    assert cad_push.missing_secrets(city, {"HOTLINE_CAD_SECRET_POLICE": "x", "HOTLINE_CAD_SECRET_FIRE": "y"}) == []


def test_dispatching_in_the_form_pushes_once_and_other_saves_do_not(api, routing, worker, cads):
    at = wall_clock_ms() - 60_000
    routing.arrive("c-2", "0912345678", "PJSIP/citizens-c-2", now_ms=at)
    routing.enqueue("c-2", "police", 1, choice="1", route_reason="chosen", now_ms=at + 2_000)

    typed = api.put("/calls/c-2/incident", json={"expected_version": 0, "location_text": "12 Hàng Bài"})
    assert typed.status_code == 200 and "cad_push" not in typed.json()
    dispatched = api.put("/calls/c-2/incident", json={"expected_version": 1, "agencies": ["police", "fire"],
                                                      "disposition": "dispatched"})
    assert dispatched.status_code == 200, dispatched.text
    assert sorted((p["agency"], p["status"]) for p in dispatched.json()["cad_push"]["pushes"]) == [
        ("fire", "pending"), ("police", "pending")]
    work(worker)
    assert len(cads["police"].received) == 1 and len(cads["fire"].received) == 1
    assert json.loads(cads["fire"].received[0]["body"])["incidentComponent"]["internalIncidentId"] == "c-2"

    # typing on after the dispatch, or saving the same disposition again, sends nothing new
    later = api.put("/calls/c-2/incident", json={"expected_version": 2, "location_text": "14 Hàng Bài",
                                                 "disposition": "dispatched"})
    assert later.status_code == 200 and "cad_push" not in later.json()
    work(worker)
    assert len(cads["police"].received) == 1 and len(cads["fire"].received) == 1


def test_dispatching_where_no_agency_has_a_cad_saves_the_incident_and_says_so(routing):
    with api_client(routing, city=BASE, headers=bearer("police")) as client:
        at = wall_clock_ms() - 60_000
        routing.arrive("c-3", "0912345678", "PJSIP/citizens-c-3", now_ms=at)
        routing.enqueue("c-3", "police", 1, choice="1", route_reason="chosen", now_ms=at + 2_000)
        reply = client.put("/calls/c-3/incident", json={"expected_version": 0, "disposition": "dispatched"})
    assert reply.status_code == 200
    assert reply.json()["disposition"] == "dispatched" and reply.json()["cad_push"] is None

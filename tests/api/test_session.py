"""The console's sign-in (issue 9): users, the session cookie, CSRF, idle expiry, desk binding,
and the same role and agency scoping as a bearer token."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from config.settings import RuntimeSettings
from queueing.accounts import Accounts, User, session_id_of
from queueing.keys import Keys
from queueing.routing import Routing
from queueing.states import UserRole
from tests.api.test_auth import CITY, seed
from tests.api_client import api_client
from tests.api_tokens import TOKENS, bearer
from tests.replay import E2E_CITY

PASSWORD = "correct horse battery"
KEYS = Keys()
IDLE_S = CITY.console.session_idle_min * 60


@pytest.fixture
def routing(redis_client, hash_once):
    routing = Routing(redis_client)
    seed(routing)
    accounts = Accounts(redis_client)
    for user in (User("lan", UserRole.CALL_TAKER, "police"), User("minh", UserRole.CALL_TAKER, "police"),
                 User("hoa", UserRole.CALL_TAKER, "fire"), User("thu", UserRole.CALL_TAKER, "police", "desk-102"),
                 User("boss", UserRole.SUPERVISOR), User("wall", UserRole.VIEWER)):
        accounts.add_user(user, PASSWORD)
    return routing


def make_client(routing: Routing, **runtime) -> TestClient:
    return api_client(routing, **runtime)


@pytest.fixture
def client(routing):
    with make_client(routing) as c:
        yield c


@pytest.fixture
def other(routing):
    """A second browser."""
    with make_client(routing) as c:
        yield c


def sign_in(client: TestClient, user: str = "lan", desk: str | None = None, password: str = PASSWORD):
    return client.post("/session", json={"user": user, "password": password, "desk": desk})


def csrf(client: TestClient) -> dict[str, str]:
    return {"X-CSRF-Token": client.get("/session").json()["csrf"]}


def session_key(client: TestClient) -> str:
    return KEYS.session(session_id_of(client.cookies["hotline_session"]))


# --- signing in ---------------------------------------------------------------------------


def test_sign_in_answers_the_session_and_sets_the_cookie(client, redis_client):
    reply = sign_in(client, desk="desk-101")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body == {"user": "lan", "role": "call_taker", "agency": "police", "desk": "desk-101", "csrf": body["csrf"],
                    "idle_expiry_s": 1800, "pause_reasons": ["break", "meal", "training", "meeting"],
                    "languages": ["vi", "en"]}
    assert len(body["csrf"]) >= 40
    cookie = reply.headers["set-cookie"]
    token = client.cookies["hotline_session"]
    assert cookie.startswith(f"hotline_session={token};")
    attributes = {a.strip().split("=")[0].lower(): a.strip() for a in cookie.split(";")[1:]}
    assert attributes["httponly"] and attributes["path"] == "Path=/" and attributes["samesite"].lower() == "samesite=strict"
    assert "secure" not in attributes and "max-age" not in attributes and "expires" not in attributes
    # Redis keeps the session under the token's hash, never the token
    assert redis_client.exists(KEYS.session(session_id_of(token))) == 1
    assert not [k for k in redis_client.scan_iter("*") if token in k or token in str(redis_client.dump(k))]
    again = client.get("/session")
    assert again.status_code == 200 and again.json() == body and "set-cookie" not in again.headers


def test_the_cookie_is_secure_behind_https(routing):
    with make_client(routing, api_secure_cookies=True) as c:
        cookie = sign_in(c).headers["set-cookie"]
    assert "; secure" in cookie.lower()


@pytest.mark.parametrize(("user", "password"), [("lan", "wrong password!"), ("nobody", PASSWORD), ("", ""),
                                                ("LAN", PASSWORD), ("lan", PASSWORD.upper())])
def test_a_wrong_user_or_password_is_one_401(client, user, password):
    reply = sign_in(client, user, password=password)
    assert reply.status_code == 401
    assert reply.json() == {"detail": "wrong user name or password"}
    assert "hotline_session" not in client.cookies


def test_no_password_reaches_a_log_or_redis(client, redis_client, caplog):
    caplog.set_level(logging.DEBUG)
    sign_in(client, desk="desk-101")
    sign_in(client, "minh", password="not the password")
    token = client.cookies["hotline_session"]
    text = caplog.text + "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    assert "user 'lan' signed in at desk desk-101" in text
    assert PASSWORD not in text and "not the password" not in text and token not in text
    stored = redis_client.hget(KEYS.user("lan"), "password")
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_sign_in_and_out_are_on_the_audit_trail(client, routing):
    sign_in(client, desk="desk-101")
    assert client.delete("/session", headers=csrf(client)).status_code == 204
    events = [e for e in routing.events(50) if e["type"] in ("signed_in", "signed_out")]
    assert [(e["type"], e["user"], e["desk_id"]) for e in events] == [("signed_in", "lan", "desk-101"),
                                                                      ("signed_out", "lan", "desk-101")]
    assert events[0]["agency"] == "police" and events[0]["role"] == "call_taker"


# --- the session on every route --------------------------------------------------------------


def test_get_session_without_a_session_is_401(client):
    for cookies in ({}, {"hotline_session": "made-up"}):
        client.cookies.clear()
        client.cookies.update(cookies)
        reply = client.get("/session")
        assert reply.status_code == 401
        assert reply.json() == {"detail": "not signed in or session expired"}


def test_a_police_call_taker_sees_police_not_fire(client):
    sign_in(client)
    assert client.get("/calls/c-police").status_code == 200
    reply = client.get("/calls/c-fire")
    assert reply.status_code == 403
    assert reply.json() == {"detail": "call c-fire is a fire call: a police call-taker may see police and general "
                                      "calls only"}
    assert [d["desk_id"] for d in client.get("/desks").json()] == ["desk-101", "desk-102"]
    assert client.get("/callbacks/fire").status_code == 403


def test_roles_are_the_tokens_roles(client, other):
    sign_in(client, "wall")
    assert client.get("/calls/c-fire").status_code == 200
    reply = client.put("/desks/desk-101/state", json={"state": "ready"}, headers=csrf(client))
    assert reply.status_code == 403 and "viewer" in reply.json()["detail"]
    sign_in(other, "boss")
    # a supervisor forcing another's desk says why (api/routers/desks.py)
    assert other.put("/desks/desk-201/state", json={"state": "ready"}, headers=csrf(other)).status_code == 422
    assert other.put("/desks/desk-201/state", json={"state": "ready", "reason": "covering"},
                     headers=csrf(other)).status_code == 200


def test_a_bearer_token_wins_over_the_cookie(client):
    sign_in(client)  # a police call-taker's cookie
    assert client.get("/calls/c-fire", headers=bearer("fire")).status_code == 200
    # and needs no CSRF header
    assert client.put("/desks/desk-201/state", json={"state": "ready"}, headers=bearer("fire")).status_code == 200


# --- CSRF -----------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "", "wrong"])
def test_a_change_without_the_right_csrf_token_is_403(client, routing, header):
    sign_in(client, desk="desk-101")
    headers = {} if header is None else {"X-CSRF-Token": header}
    reply = client.put("/desks/desk-101/state", json={"state": "ready"}, headers=headers)
    assert reply.status_code == 403
    assert "X-CSRF-Token header" in reply.json()["detail"]
    assert routing.desk("desk-101")["state"] == "paused"
    assert client.delete("/session", headers=headers).status_code == 403
    assert client.get("/session").status_code == 200  # still signed in


def test_a_change_with_the_csrf_token_is_done(client, routing):
    token = sign_in(client, desk="desk-101").json()["csrf"]
    reply = client.put("/desks/desk-101/state", json={"state": "ready"}, headers={"X-CSRF-Token": token})
    assert reply.status_code == 200, reply.text
    assert routing.desk("desk-101")["state"] == "ready"


def test_one_sessions_csrf_token_is_not_anothers(client, other):
    sign_in(client, desk="desk-101")
    theirs = sign_in(other, "minh", desk="desk-102").json()["csrf"]
    assert client.put("/desks/desk-101/state", json={"state": "ready"}, headers={"X-CSRF-Token": theirs}).status_code == 403


# --- pausing from the console -------------------------------------------------------------------


def test_a_pause_from_the_console_gives_a_reason_of_the_city_file(client, routing):
    sign_in(client, desk="desk-101")
    headers = csrf(client)
    for reason in ("lunch", ""):
        reply = client.put("/desks/desk-101/state", json={"state": "paused", "reason": reason}, headers=headers)
        assert reply.status_code == 400
        assert reply.json() == {"detail": f"pause reason {reason!r} is not one of the city file's [console] "
                                          "pause_reasons: break, meal, training, meeting"}
    reply = client.put("/desks/desk-101/state", json={"state": "paused", "reason": "meal"}, headers=headers)
    assert reply.status_code == 200
    assert (routing.desk("desk-101")["state"], routing.desk("desk-101")["reason"]) == ("paused", "meal")
    # an API client's reason is its own business, as before
    reply = client.put("/desks/desk-101/state", json={"state": "paused", "reason": "lunch"}, headers=bearer("police"))
    assert reply.status_code == 200


def test_a_session_bound_to_a_desk_changes_that_desk_only(client):
    sign_in(client, desk="desk-101")
    reply = client.put("/desks/desk-102/state", json={"state": "ready"}, headers=csrf(client))
    assert reply.status_code == 403
    assert reply.json() == {"detail": "this token is bound to desk desk-101; it may not change desk-102"}


# --- idle expiry ------------------------------------------------------------------------------


def test_the_session_expires_when_idle_and_each_use_restarts_it(client, redis_client):
    sign_in(client, desk="desk-101")
    key, binding = session_key(client), KEYS.desk_session("desk-101")
    assert IDLE_S - 2 <= redis_client.ttl(key) <= IDLE_S
    assert IDLE_S - 2 <= redis_client.ttl(binding) <= IDLE_S
    redis_client.expire(key, 5)
    redis_client.expire(binding, 5)
    assert client.get("/desks").status_code == 200  # a use
    assert redis_client.ttl(key) >= IDLE_S - 2 and redis_client.ttl(binding) >= IDLE_S - 2
    redis_client.expire(key, 0)  # the idle time is over
    reply = client.get("/desks")
    assert reply.status_code == 401 and reply.json() == {"detail": "not signed in or session expired"}
    assert client.get("/session").status_code == 401


def test_the_idle_minutes_come_from_the_city_file(routing, redis_client):
    city = CITY.model_copy(update={"console": CITY.console.model_copy(update={"session_idle_min": 1})})
    app = create_app(RuntimeSettings(city_file=E2E_CITY), city=city, routing=routing, tokens=TOKENS)
    with TestClient(app) as c:
        assert sign_in(c).json()["idle_expiry_s"] == 60
        assert 58 <= redis_client.ttl(session_key(c)) <= 60


# --- the desk ---------------------------------------------------------------------------------


def test_signing_in_at_a_desk_logs_it_in_and_signing_out_logs_it_out(client, routing, redis_client):
    assert routing.desk("desk-101")["state"] == "offline"
    sign_in(client, desk="desk-101")
    assert (routing.desk("desk-101")["state"], routing.desk("desk-101")["reason"]) == ("paused", "logged in")
    assert redis_client.hget(KEYS.desk_session("desk-101"), "user") == "lan"
    key = session_key(client)
    reply = client.delete("/session", headers=csrf(client))
    assert reply.status_code == 204 and reply.content == b""
    assert 'hotline_session=""' in reply.headers["set-cookie"] or "Max-Age=0" in reply.headers["set-cookie"]
    assert routing.desk("desk-101")["state"] == "offline"
    assert redis_client.exists(key, KEYS.desk_session("desk-101")) == 0
    assert client.get("/session").status_code == 401


def test_a_desk_logged_in_from_its_phone_keeps_its_state(client, routing):
    routing.set_desk_state("desk-101", "ready")
    sign_in(client, desk="desk-101")
    assert routing.desk("desk-101")["state"] == "ready"


def test_a_desk_of_another_agency_is_403(client, routing):
    reply = sign_in(client, desk="desk-201")
    assert reply.status_code == 403
    assert reply.json() == {"detail": "desk-201 is a fire desk: a police call-taker signs in at police desks only"}
    assert routing.desk("desk-201")["state"] == "offline" and "hotline_session" not in client.cookies


def test_a_user_with_a_desk_signs_in_there_only(client, routing):
    reply = sign_in(client, "thu", desk="desk-101")
    assert reply.status_code == 403 and reply.json() == {"detail": "thu works at desk desk-102, not desk-101"}
    reply = sign_in(client, "thu")  # their desk, by default
    assert reply.status_code == 200 and reply.json()["desk"] == "desk-102"
    assert routing.desk("desk-102")["state"] == "paused"


def test_unknown_desk_and_desks_for_others_than_call_takers(client):
    assert sign_in(client, desk="desk-999").json() == {"detail": "unknown desk 'desk-999'"}
    reply = sign_in(client, "boss", desk="desk-101")
    assert reply.status_code == 400
    assert reply.json() == {"detail": "only a call_taker signs in at a desk; boss is a supervisor"}


def test_a_desk_signed_in_by_someone_else_is_409(client, other, routing):
    sign_in(client, desk="desk-101")
    reply = sign_in(other, "minh", desk="desk-101")
    assert reply.status_code == 409
    assert reply.json() == {"detail": "desk desk-101 is signed in by lan, who must sign out first"}
    assert "hotline_session" not in other.cookies
    # once lan signs out, minh may
    assert client.delete("/session", headers=csrf(client)).status_code == 204
    assert sign_in(other, "minh", desk="desk-101").status_code == 200
    assert routing.desk("desk-101")["state"] == "paused"


def test_the_same_user_signing_in_again_takes_the_desk_over(client, other, routing):
    sign_in(client, desk="desk-101")
    assert sign_in(other, desk="desk-101").status_code == 200
    assert client.get("/session").status_code == 401  # the older session ended
    assert other.get("/session").json()["desk"] == "desk-101"


def test_signing_out_on_a_call_is_refused_and_keeps_the_session(client, routing):
    sign_in(client, desk="desk-101")
    routing.set_desk_state("desk-101", "ready")
    for other_call in ("c-fire", "c-general"):
        routing.hangup(other_call, 10_000)
    claim = routing.claim_next(["police"], 20_000)
    assert claim is not None and claim.desk_id == "desk-101"
    reply = client.delete("/session", headers=csrf(client))
    assert reply.status_code == 409
    assert reply.json() == {"detail": "desk desk-101 is ringing; cannot set offline"}
    assert client.get("/session").status_code == 200


def test_a_removed_user_or_a_new_password_ends_the_sessions(client, other, redis_client):
    sign_in(client, desk="desk-101")
    sign_in(other, "minh")
    accounts = Accounts(redis_client)
    assert accounts.set_password("lan", "a brand new password") == 1
    assert client.get("/session").status_code == 401
    assert redis_client.exists(KEYS.desk_session("desk-101")) == 0
    assert sign_in(client, password="a brand new password").status_code == 200
    assert accounts.remove_user("minh") == 1
    assert other.get("/session").status_code == 401
    assert sign_in(other, "minh").status_code == 401

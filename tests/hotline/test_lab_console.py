"""Lab.start_api and hotline.lab.console: ``./lab up`` serves the consoles (``hotline api`` as a
child process on the lab's Redis) and makes a call-taker per desk and a supervisor who can sign
in with the password it prints. No Asterisk is needed for this part."""

from __future__ import annotations

import httpx

from config.settings import load_settings
from hotline.lab.console import SUPERVISOR, add_lab_users
from hotline.lab.lab import Lab
from queueing.accounts import Accounts
from queueing.states import UserRole
from telephony.asterisk_config import AsteriskSite
from tests.replay import E2E_CITY

CITY = load_settings(E2E_CITY)


def test_a_call_taker_per_desk_and_a_supervisor_again_and_again(redis_client):
    accounts = Accounts(redis_client)
    users, password = add_lab_users(accounts, CITY)
    assert [(u.name, u.role, u.agency, u.desk) for u in users] == [
        *((d.id, UserRole.CALL_TAKER, d.agency, d.id) for d in CITY.desks), (SUPERVISOR, UserRole.SUPERVISOR, None, None)]
    assert len(password) >= 12
    # A second `./lab up` on the same Redis replaces them, with its own password.
    again, second = add_lab_users(accounts, CITY)
    assert again == users and second != password
    assert sorted(u.name for u in accounts.users()) == sorted(u.name for u in users)


def test_the_labs_api_serves_the_console_to_a_lab_user_and_stops_with_the_lab(redis_client, redis_url, tmp_path):
    lab = Lab(E2E_CITY, tmp_path, progress=lambda _msg: None, redis_url=redis_url)
    lab.site = AsteriskSite(ami_secret="lab-secret")  # what bridge_env reads; Asterisk is not started
    url = lab.start_api()
    try:
        _, password = add_lab_users(Accounts(redis_client), lab.city)
        with httpx.Client(base_url=url) as client:
            page = client.get("/console")
            assert page.status_code == 200 and "console.js" in page.text
            refused = client.post("/session", json={"user": "desk-101", "password": "wrong password", "desk": "desk-101"})
            assert refused.status_code == 401
            session = client.post("/session", json={"user": "desk-101", "password": password, "desk": "desk-101"})
            assert session.status_code == 200, session.text
            assert (session.json()["role"], session.json()["desk"]) == ("call_taker", "desk-101")
            desks = {d["desk_id"]: d["state"] for d in client.get("/desks").json()}
            assert desks["desk-101"] != "offline"  # signing in at the desk logged it in
            assert client.get("/desks", headers={"Authorization": "Bearer made-up"}).status_code == 401
        # the lab's supervisor token, for scripts
        assert httpx.get(f"{url}/queues", headers={"Authorization": f"Bearer {lab.api_token}"}).status_code == 200
    finally:
        lab.stop()
    assert lab.api_proc.poll() is not None

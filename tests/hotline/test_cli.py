"""hotline.cli through typer's CliRunner, against the test Redis and the e2e city."""

from __future__ import annotations

import json
import socket

import pytest
from typer.testing import CliRunner

from config.settings import load_settings
from hotline.cli import app
from queueing.routing import Routing
from tests.replay import E2E_CITY

CITY = load_settings(E2E_CITY)
DESK_LIST = ", ".join(d.id for d in CITY.desks)


@pytest.fixture(autouse=True)
def no_hotline_environment(clean_env):
    """The CLI reads HOTLINE_* itself: each test sets what it means to."""


@pytest.fixture
def city():
    return CITY


@pytest.fixture
def routing(city_routing):
    return city_routing


@pytest.fixture
def cli(redis_url):
    runner = CliRunner()

    def invoke(*args: str, **env: str | None):
        environment = {"HOTLINE_REDIS_URL": redis_url, "HOTLINE_CITY_FILE": str(E2E_CITY), **env}
        return runner.invoke(app, list(args), env=environment)
    return invoke


def test_desk_ready(cli, routing):
    result = cli("desk", "ready", "desk-101")
    assert result.exit_code == 0, result.output
    assert result.stdout == "desk-101 (police): offline → ready\n"
    assert routing.desk("desk-101")["state"] == "ready"
    assert routing.desk("desk-102")["state"] == "offline"


def test_desk_ready_on_an_empty_redis_registers_the_desk_from_the_city_file(cli, redis_client):
    """Redis lost its desks (or no bridge registered them yet): the desk is made, then set."""
    assert redis_client.keys("*") == []
    result = cli("desk", "ready", "desk-201")
    assert result.exit_code == 0, result.output
    assert result.stdout == "desk-201 (fire): offline → ready\n"
    desk = Routing(redis_client).desk("desk-201")
    assert (desk["state"], desk["agency"], desk["cross_trained"]) == ("ready", "fire", "police")
    assert redis_client.smembers("hotline:desks") == {"desk-201"}  # only that desk
    assert redis_client.smembers("hotline:desks:of:fire") == {"desk-201"}
    assert redis_client.zrange("hotline:desks:ready:fire", 0, -1) == ["desk-201"]


def test_desk_ready_twice_says_nothing_changed(cli, routing):
    cli("desk", "ready", "desk-201")
    result = cli("desk", "ready", "desk-201")
    assert result.exit_code == 0
    assert result.stdout == "desk-201 (fire): ready → ready\n"


def test_unknown_desk_names_it_and_lists_the_desks(cli, routing):
    result = cli("desk", "ready", "desk-999")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"hotline: unknown desk 'desk-999'; desks in {E2E_CITY}: {DESK_LIST}\n"
    assert routing.desk("desk-999") == {}


def test_desk_pause_with_a_reason(cli, routing):
    assert cli("desk", "ready", "desk-101").exit_code == 0
    result = cli("desk", "pause", "desk-101", "--reason", "lunch")
    assert result.exit_code == 0, result.output
    assert result.stdout == "desk-101 (police): ready → paused\n"
    desk = routing.desk("desk-101")
    assert (desk["state"], desk["reason"]) == ("paused", "lunch")


def test_desk_offline(cli, routing):
    cli("desk", "ready", "desk-301")
    result = cli("desk", "offline", "desk-301")
    assert result.exit_code == 0
    assert result.stdout == "desk-301 (medical): ready → offline\n"
    assert routing.desk("desk-301")["state"] == "offline"


def test_a_refusal_is_exit_2_with_the_scripts_message(cli, routing):
    routing.set_desk_state("desk-101", "ready")
    routing.arrive("c-1", "0912345678", "PJSIP/citizens-00000001")
    routing.enqueue("c-1", queue="police", priority=1)
    assert routing.claim_next(["police"], 5_000).desk_id == "desk-101"
    result = cli("desk", "pause", "desk-101", "--reason", "lunch")
    assert result.exit_code == 2
    assert result.stderr == "hotline: desk desk-101 is ringing; cannot set paused\n"
    assert routing.desk("desk-101")["state"] == "ringing"


def test_desk_show(cli, routing):
    routing.set_desk_state("desk-102", "ready")
    result = cli("desk", "show")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [d.id for d in CITY.desks]
    assert lines[1].split()[:3] == ["desk-102", "police", "ready"]


def test_call_show(cli, routing):
    routing.arrive("c-5", "0900000005", "PJSIP/citizens-00000005")
    result = cli("call", "show", "c-5")
    assert result.exit_code == 0
    record = json.loads(result.stdout)
    assert (record["call_id"], record["caller"], record["state"]) == ("c-5", "0900000005", "ivr")


def test_call_show_unknown_call(cli, routing):
    result = cli("call", "show", "c-missing")
    assert result.exit_code == 2
    assert result.stderr == "hotline: no call 'c-missing'\n"


def test_bad_environment_names_the_variable(cli, routing):
    result = cli("desk", "ready", "desk-101", HOTLINE_AMI_PORT="abc")
    assert result.exit_code == 2
    assert result.stderr.startswith("hotline: HOTLINE_AMI_PORT: ")
    assert "abc" in result.stderr
    assert routing.desk("desk-101")["state"] == "offline"


def test_bad_redis_url_names_the_variable(cli):
    result = cli("call", "show", "c-1", HOTLINE_REDIS_URL="http://localhost:6379")
    assert result.exit_code == 2
    assert result.stderr.startswith("hotline: HOTLINE_REDIS_URL: must start with redis://")


def test_missing_city_file_is_named(cli, tmp_path):
    result = cli("desk", "ready", "desk-101", HOTLINE_CITY_FILE=str(tmp_path / "nope.toml"))
    assert result.exit_code == 2
    assert f"{tmp_path / 'nope.toml'}: no such file" in result.stderr


def test_redis_unreachable_is_exit_2_naming_it(cli):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"redis://127.0.0.1:{port}/0"
    result = cli("desk", "ready", "desk-101", HOTLINE_REDIS_URL=url)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"hotline: Redis at {url} unreachable: ")


# --- asterisk-conf -----------------------------------------------------------------------------

@pytest.fixture
def passwords(tmp_path):
    path = tmp_path / "desk-passwords.json"
    path.write_text(json.dumps({d.id: f"pw-{d.id}" for d in CITY.desks}))
    return path


def test_asterisk_conf_writes_the_files(cli, tmp_path, passwords):
    out = tmp_path / "conf"
    result = cli("asterisk-conf", "--out", str(out), "--desk-passwords", str(passwords), "--agi-port", "4600",
                 HOTLINE_AMI_SECRET="cli-secret")
    assert result.exit_code == 0, result.output
    names = ["pjsip.conf", "extensions.conf", "queues.conf", "manager.conf", "musiconhold.conf", "confbridge.conf"]
    assert result.stdout.splitlines() == [f"wrote {out / n}" for n in names]
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    assert "secret = cli-secret" in (out / "manager.conf").read_text()
    assert "password = pw-desk-401" in (out / "pjsip.conf").read_text()
    assert "HOTLINE_AGI = agi://127.0.0.1:4600" in (out / "extensions.conf").read_text()


def test_asterisk_conf_without_the_secret_names_it(cli, tmp_path, passwords):
    out = tmp_path / "conf"
    result = cli("asterisk-conf", "--out", str(out), "--desk-passwords", str(passwords))
    assert result.exit_code == 2
    assert result.stderr.startswith("hotline: HOTLINE_AMI_SECRET is not set")
    assert not out.exists()


def test_asterisk_conf_with_a_desk_without_password_names_it(cli, tmp_path):
    path = tmp_path / "pw.json"
    path.write_text(json.dumps({d.id: "pw" for d in CITY.desks if d.id != "desk-301"}))
    result = cli("asterisk-conf", "--out", str(tmp_path / "conf"), "--desk-passwords", str(path),
                 HOTLINE_AMI_SECRET="cli-secret")
    assert result.exit_code == 2
    assert result.stderr == "hotline: desk_passwords: no SIP password for desk-301\n"


def test_asterisk_conf_with_a_broken_passwords_file(cli, tmp_path):
    path = tmp_path / "pw.json"
    path.write_text("{desk-101: pw}")
    result = cli("asterisk-conf", "--out", str(tmp_path / "conf"), "--desk-passwords", str(path),
                 HOTLINE_AMI_SECRET="cli-secret")
    assert result.exit_code == 2
    assert result.stderr.startswith("hotline: ")
    assert not (tmp_path / "conf").exists()


def test_call_events_shows_one_calls_lifecycle_in_order(cli, routing):
    routing.arrive("c-1", "0900000001", "PJSIP/citizens-1")
    routing.arrive("c-2", "0900000002", "PJSIP/citizens-2")
    routing.enqueue("c-1", "police", 1, choice="1")
    result = cli("call", "events", "c-1")
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.output.splitlines()]
    assert [e["type"] for e in events] == ["call_arrived", "call_queued"]
    assert {e["call_id"] for e in events} == {"c-1"}


def test_call_events_of_an_unknown_call(cli, routing):
    result = cli("call", "events", "nope")
    assert result.exit_code == 2
    assert "no events for call 'nope'" in result.output


def test_events_export_pages_through_the_whole_trail(cli, routing, tmp_path):
    for i in range(2500):  # more than one page of 1000
        routing.arrive(f"c-{i}", "0900", f"PJSIP/citizens-{i}")
    out = tmp_path / "trail.jsonl"
    result = cli("events", "export", "--out", str(out))
    assert result.exit_code == 0, result.output
    everything = [json.loads(line) for line in out.read_text().splitlines()]
    assert f"{len(everything)} events written" in result.output
    lines = [e for e in everything if e["type"] == "call_arrived"]  # the fixture registered desks first
    assert [e["call_id"] for e in lines] == [f"c-{i}" for i in range(2500)]
    resumed = tmp_path / "rest.jsonl"
    assert cli("events", "export", "--out", str(resumed), "--after", lines[2399]["id"]).exit_code == 0
    assert [json.loads(x)["call_id"] for x in resumed.read_text().splitlines()] == [f"c-{i}" for i in range(2400, 2500)]


def test_call_priority_moves_a_waiting_caller(cli, routing):
    for i in range(2):
        routing.arrive(f"c-{i}", "0900", f"PJSIP/citizens-{i}")
        routing.enqueue(f"c-{i}", "police", 1)
    result = cli("call", "priority", "c-1", "0", "--set-by", "sup")
    assert result.exit_code == 0, result.output
    assert "priority 1 → 0, position 1" in result.output
    assert routing.queue("police") == ["c-1", "c-0"]
    refused = cli("call", "priority", "c-1", "100")
    assert refused.exit_code == 2 and "priority must be between 0 and 99" in refused.output

"""``hotline user add|list|passwd|remove`` through typer's CliRunner, against the test Redis."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from hotline.cli import app
from queueing.accounts import Accounts
from queueing.keys import Keys
from queueing.states import UserRole
from tests.replay import E2E_CITY

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def no_hotline_environment(clean_env):
    """The CLI reads HOTLINE_* itself."""


@pytest.fixture
def cli(redis_url, redis_client):
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        env = {"HOTLINE_REDIS_URL": redis_url, "HOTLINE_CITY_FILE": str(E2E_CITY)}
        return runner.invoke(app, ["user", *args], env=env, input=input)
    return invoke


def add(cli, name: str, *options: str, password: str = PASSWORD):
    return cli("add", "--name", name, *options, "--password-stdin", input=password + "\n")


def test_add_list_remove(cli, redis_client):
    assert add(cli, "lan", "--role", "call_taker", "--agency", "police").stdout == "user lan (call_taker, police) added\n"
    result = add(cli, "thu", "--role", "call_taker", "--desk", "desk-102")  # the desk says the agency
    assert result.exit_code == 0, result.output
    assert add(cli, "boss", "--role", "supervisor").exit_code == 0
    listed = cli("list")
    assert listed.exit_code == 0, listed.output
    assert [line.split() for line in listed.stdout.splitlines()] == [
        ["boss", "supervisor", "-", "-"], ["lan", "call_taker", "police", "-"], ["thu", "call_taker", "police", "desk-102"]]
    removed = cli("remove", "--name", "lan")
    assert removed.exit_code == 0 and removed.stdout == "user lan removed; 0 session(s) ended\n"
    assert [u.name for u in Accounts(redis_client).users()] == ["boss", "thu"]
    assert redis_client.exists(Keys().user("lan")) == 0
    again = cli("remove", "--name", "lan")
    assert again.exit_code == 2 and "no user lan" in again.stderr


def test_the_password_is_kept_as_an_argon2_hash(cli, redis_client):
    assert add(cli, "lan", "--role", "call_taker", "--agency", "police").exit_code == 0
    stored = redis_client.hgetall(Keys().user("lan"))
    assert stored["password"].startswith("$argon2id$")
    assert PASSWORD not in str(stored)
    accounts = Accounts(redis_client)
    assert accounts.authenticate("lan", PASSWORD).role == UserRole.CALL_TAKER
    assert accounts.authenticate("lan", "wrong horse battery") is None


def test_the_password_prompt_is_hidden_and_confirmed(cli, redis_client):
    result = cli("add", "--name", "lan", "--role", "viewer", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert "Repeat for confirmation" in result.output
    assert Accounts(redis_client).authenticate("lan", PASSWORD) is not None
    mismatch = cli("add", "--name", "minh", "--role", "viewer", input=f"{PASSWORD}\nother one\n{PASSWORD}\n{PASSWORD}\n")
    assert mismatch.exit_code == 0 and "do not match" in mismatch.output.lower()


def test_passwd_changes_the_password_and_ends_sessions(cli, redis_client):
    add(cli, "lan", "--role", "call_taker", "--agency", "police")
    accounts = Accounts(redis_client)
    accounts.open_session("lan", "desk-101", 1800)
    result = cli("passwd", "--name", "lan", "--password-stdin", input="a new password\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "password of lan changed; 1 session(s) ended\n"
    assert accounts.authenticate("lan", PASSWORD) is None and accounts.authenticate("lan", "a new password")
    assert cli("passwd", "--name", "nobody", "--password-stdin", input="a new password\n").exit_code == 2


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (("--name", "Lan Nguyen", "--role", "viewer"), "user name 'Lan Nguyen' is not valid"),
        (("--name", "lan", "--role", "admin"), "role 'admin' is not one of call_taker, supervisor, viewer"),
        (("--name", "lan", "--role", "call_taker"), "a call_taker needs an agency, whose desks and calls it sees: one of police, fire, medical, disaster"),
        (("--name", "lan", "--role", "call_taker", "--agency", "navy"), "agency 'navy' is not an agency of the city file"),
        (("--name", "lan", "--role", "call_taker", "--agency", "general"), "agency 'general' is not an agency of the city file"),
        (("--name", "lan", "--role", "call_taker", "--agency", "police", "--desk", "desk-9"), "desk 'desk-9' is not a desk of the city file"),
        (("--name", "lan", "--role", "call_taker", "--agency", "police", "--desk", "desk-201"), "desk 'desk-201' is a fire desk, not police"),
        (("--name", "lan", "--role", "supervisor", "--agency", "police"), "agency 'police': only a call_taker belongs to an agency"),
        (("--name", "lan", "--role", "viewer", "--desk", "desk-101"), "desk 'desk-101': only a call_taker works at a desk"),
    ],
)
def test_bad_values_are_named(cli, redis_client, options, expected):
    result = cli("add", *options, "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 2
    assert expected in result.stderr, result.stderr
    assert Accounts(redis_client).users() == []


def test_a_short_password_or_a_taken_name_is_refused(cli):
    short = add(cli, "lan", "--role", "viewer", password="short")
    assert short.exit_code == 2 and "the password is too short: at least 8 characters" in short.stderr
    assert add(cli, "lan", "--role", "viewer").exit_code == 0
    taken = add(cli, "lan", "--role", "supervisor")
    assert taken.exit_code == 2 and "user lan exists" in taken.stderr

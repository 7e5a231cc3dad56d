"""Shared fixtures. Redis: a real redis-server, started once per session.

Set REDIS_URL to use a running server instead. Each test FLUSHDBs that database, so point
REDIS_URL at a database you can lose (e.g. redis://localhost:6379/15).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis

from config.settings import CitySettings
from hotline.lab.redis_server import start_redis_server
from queueing.routing import Routing

# The real lab (Asterisk, Redis, bridge, SIPp phones), shared by tests/e2e and tests/faults;
# started only by the tests that ask for it.
pytest_plugins = ["tests.lab_fixtures"]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("REDIS_URL"):
        yield url
        return
    server = start_redis_server(tmp_path_factory.mktemp("redis"))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.flushdb()
    try:
        yield client
    finally:
        client.close()



class _HashedOnce:
    """The accounts' own argon2 hasher, each password hashed once per session: a user added
    to every test's fresh Redis gets the same real argon2id hash without a new ~0.2 s round
    of it (verify, sign-in's half, still runs in full each time)."""

    def __init__(self, hasher) -> None:
        self._hasher = hasher
        self._hashes: dict[str, str] = {}

    def hash(self, password: str) -> str:
        if password not in self._hashes:
            self._hashes[password] = self._hasher.hash(password)
        return self._hashes[password]

    def __getattr__(self, name: str):
        return getattr(self._hasher, name)


@pytest.fixture(scope="session")
def _hashed_once() -> _HashedOnce:
    from queueing import accounts

    return _HashedOnce(accounts._hasher)


@pytest.fixture
def hash_once(monkeypatch: pytest.MonkeyPatch, _hashed_once: _HashedOnce) -> None:
    """Users added in this test reuse the session's argon2 hash of their password."""
    monkeypatch.setattr("queueing.accounts._hasher", _hashed_once)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No HOTLINE_* variable from the machine leaks into a test of the settings."""
    for name in list(os.environ):
        if name.startswith("HOTLINE_"):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def city_routing(redis_client: redis.Redis, city: CitySettings) -> Routing:
    """A Routing with the module's ``city`` desks registered, as the bridge does at start."""
    routing = Routing(redis_client)
    for desk in city.desks:
        routing.register_desk(desk.id, desk.agency, cross_trained=desk.cross_trained)
    return routing


# A skipped end-to-end, fault or browser test proves nothing: report it as a failure.
_MUST_RUN = ("e2e", "faults", "browser")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and any(item.get_closest_marker(m) for m in _MUST_RUN):
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid} was skipped, and a skipped {'/'.join(_MUST_RUN)} test is a failure: {report.longrepr}"

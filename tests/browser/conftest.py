"""The console in a real browser: Debian's chromium (``/usr/bin/chromium``, from bootstrap's
APT_PACKAGES) driven by playwright, against the API served by a real uvicorn on a free port
over the test Redis.

Playwright never downloads a browser here: it launches the system's chromium, headless, with
no background networking, so any request to a host other than 127.0.0.1 is the page's own
doing (and the tests fail on it). Screenshots of every step go to ``var/screenshots/``.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import uvicorn

from api.app import create_app
from config.settings import RuntimeSettings, load_settings
from hotline.lab.ports import TCP, free_port
from queueing.routing import Routing
from tests.api_tokens import TOKENS
from tests.replay import E2E_CITY

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
CITY = load_settings(E2E_CITY)


# Package scope: playwright's sync API keeps an event loop running in this thread until it
# stops, and the tests after this package call asyncio.run().
@pytest.fixture(scope="package")
def playwright_driver() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright_driver):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: ./run-tests installs Debian's chromium (scripts/bootstrap.sh)")
    browser = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM), headless=True,
        args=["--no-sandbox", "--disable-background-networking", "--disable-component-update",
              "--disable-default-apps", "--disable-sync", "--no-first-run", "--disable-features=Translate,MediaRouter"])
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(autouse=True)
def _users_hashed_once(hash_once) -> None:
    """The tests' console users are added afresh in each test's Redis, their hashes made once."""


class Server:
    """The API served by uvicorn in a thread on 127.0.0.1:<free port>; ``stop()`` cuts every
    connection (the events stream included), as a dead server would."""

    def __init__(self, redis_url: str, port: int | None = None, asterisk_root: Path | None = None) -> None:
        self.redis_url = redis_url
        self.client = redis.Redis.from_url(redis_url, decode_responses=True)
        self.routing = Routing(self.client)
        # asterisk_root: where recordings are read ([recording] dir under it), e.g. a test's tmp_path.
        runtime = RuntimeSettings(city_file=E2E_CITY, redis_url=redis_url,
                                  **({"asterisk_root": asterisk_root} if asterisk_root is not None else {}))
        self.app = create_app(runtime, city=CITY, routing=self.routing, tokens=TOKENS)
        self.port = port or free_port(TCP)
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                timeout_graceful_shutdown=1, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn:{self.port}", daemon=True)

    def start(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if not self.thread.is_alive():
            return
        self.server.should_exit = True
        self.thread.join(5)
        if self.thread.is_alive():  # a stream that does not end by itself
            self.server.force_exit = True
            self.thread.join(5)
        assert not self.thread.is_alive(), f"uvicorn on {self.url} did not stop"


@contextmanager
def serving(redis_url: str, *, register_desks: bool = True, asterisk_root: Path | None = None) -> Iterator[Server]:
    """A started Server (the e2e city's desks registered unless the caller's Redis has them),
    stopped and its client closed at the end."""
    srv = Server(redis_url, asterisk_root=asterisk_root)
    if register_desks:
        for desk in CITY.desks:
            srv.routing.register_desk(desk.id, desk.agency, cross_trained=desk.cross_trained)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        srv.client.close()


@pytest.fixture
def server(redis_client: redis.Redis, redis_url: str) -> Iterator[Server]:
    """The API over a flushed test Redis, with the e2e city's desks registered."""
    with serving(redis_url) as srv:
        yield srv


@dataclass
class Requests:
    """Every request the page made, and every one that went anywhere but the test server."""

    urls: list[str] = field(default_factory=list)

    def outside(self) -> list[str]:
        return [u for u in self.urls if not re.match(r"^(http|ws)s?://127\.0\.0\.1(:\d+)?/", u) and not u.startswith("data:")]


@pytest.fixture
def requests_seen() -> Requests:
    return Requests()


@pytest.fixture
def page(browser, server: Server, requests_seen: Requests, request: pytest.FixtureRequest):
    context = browser.new_context(base_url=server.url, locale="vi-VN", viewport={"width": 1100, "height": 720})
    context.set_default_timeout(5000)
    page = context.new_page()
    page.on("request", lambda r: requests_seen.urls.append(r.url))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield page
        assert not errors, f"the page threw: {errors}"
        assert not requests_seen.outside(), f"requests to other hosts: {requests_seen.outside()}"
    finally:
        if not page.is_closed():  # how the page looked when the test ended, passed or failed
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{_file_name(request.node.name)}-99-end.png"), full_page=True)
        context.close()


def _file_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text)


class Shots:
    """Screenshots of a test's steps: var/screenshots/<test>-<nn>-<step>.png."""

    def __init__(self, page, test_name: str) -> None:
        self.page = page
        self.prefix = _file_name(test_name)
        self.count = 0

    def take(self, step: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.count += 1
        path = SCREENSHOTS / f"{self.prefix}-{self.count:02d}-{_file_name(step)}.png"
        if not self.page.is_closed():
            self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def shots(page, request: pytest.FixtureRequest) -> Shots:
    return Shots(page, request.node.name)

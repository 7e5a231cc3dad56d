"""The API under test: the app over a test Redis with the test tokens, in a TestClient."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from api.app import create_app
from api.tokens import TokenTable
from config.settings import CitySettings, RuntimeSettings, load_settings
from queueing.routing import Routing
from tests.api_tokens import TOKENS
from tests.replay import E2E_CITY

CITY = load_settings(E2E_CITY)


def api_client(routing: Routing, *, city: CitySettings = CITY, headers: dict[str, str] | None = None,
               tokens: TokenTable = TOKENS, **runtime: Any) -> TestClient:
    """The app for the e2e city file (or ``city``), ``runtime`` settings on top; ``headers`` on every request."""
    app = create_app(RuntimeSettings(city_file=E2E_CITY, **runtime), city=city, routing=routing, tokens=tokens)
    return TestClient(app, headers=headers)

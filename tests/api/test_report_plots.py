"""The report page's plots (api/report_plots.py, ``GET /reports/plots/{name}.png``) and the page
itself (``GET /supervisor/reports``): every plot decodes as a PNG of the stated size, for a real day
and for an empty one; supervisors and viewers read them, a call-taker gets 403."""

from __future__ import annotations

import io
import re

import matplotlib.image
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.report_plots import PLOTS, SIZE_PX, png
from config.settings import RuntimeSettings, load_settings
from queueing.kpis import kpi_report
from queueing.routing import Routing
from tests.api_tokens import SUPERVISOR, TOKENS, bearer
from tests.queueing.test_kpis import CALLBACKS, CALLS, DAY, T0, TRANSFERS
from tests.replay import E2E_CITY

CITY = load_settings(E2E_CITY)


def decoded(data: bytes):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return matplotlib.image.imread(io.BytesIO(data), format="png")


@pytest.mark.parametrize("name", sorted(PLOTS))
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_each_plot_of_the_known_day_is_a_png_of_its_size(name, lang):
    report = kpi_report(CALLS, from_ms=T0, to_ms=T0 + DAY, callbacks=CALLBACKS, transfers=TRANSFERS)
    image = decoded(png(PLOTS[name](report, lang)))
    assert (image.shape[1], image.shape[0]) == SIZE_PX
    assert image.std() > 0  # something is drawn


@pytest.mark.parametrize("name", sorted(PLOTS))
def test_a_plot_of_an_empty_range_is_drawn_too(name):
    image = decoded(png(PLOTS[name](kpi_report([], from_ms=T0, to_ms=T0 + 3_600_000), "en")))
    assert (image.shape[1], image.shape[0]) == SIZE_PX


@pytest.fixture
def client(redis_client):
    app = create_app(RuntimeSettings(city_file=E2E_CITY), city=CITY, routing=Routing(redis_client), tokens=TOKENS)
    with TestClient(app) as c:
        yield c


def test_the_plot_route(client):
    reply = client.get("/reports/plots/calls_per_hour.png", params={"from_ms": T0, "to_ms": T0 + DAY, "lang": "vi"},
                       headers=SUPERVISOR)
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "image/png"
    image = decoded(reply.content)
    assert (image.shape[1], image.shape[0]) == SIZE_PX
    assert client.get("/reports/plots/abandons.png", headers=bearer("viewer")).status_code == 200
    assert client.get("/reports/plots/abandons.png", headers=bearer("police")).status_code == 403
    assert client.get("/reports/plots/nothing.png", headers=SUPERVISOR).status_code == 422
    reply = client.get("/reports/plots/abandons.png", params={"from_ms": 10, "to_ms": 5}, headers=SUPERVISOR)
    assert reply.status_code == 422


def test_the_page_is_served_from_this_server_only(client):
    reply = client.get("/supervisor/reports")
    assert reply.status_code == 200
    assert "default-src 'self'" in reply.headers["content-security-policy"]
    page = reply.text
    assert re.findall(r'(?:src|href)="([^"]+)"', page) == ["data:,", "/console/assets/console.css",
                                                           "/console/assets/reports.css", "/console/assets/reports.js",
                                                           "/supervisor", "/reports/calls.csv"]
    for asset in ("reports.js", "report_strings.js", "reports.css"):
        assert client.get(f"/console/assets/{asset}").status_code == 200

"""The supervisors' report page: ``GET /supervisor/reports`` (one page; its script and style under
``/console/assets``, served by api/routers/console.py, so everything comes from this server).

The page signs in with ``/session`` (a supervisor or a viewer), reads ``GET /reports/kpis`` for a day
or any range, shows each KPI as a PNG drawn by the server (``GET /reports/plots/{name}.png``) with its
numbers as a table beside it and its definition (docs/kpis.md), and links the range's CSV.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from api.routers.console import PAGE_HEADERS, console_page
from config.settings import CitySettings


def report_page_router(city: CitySettings) -> APIRouter:
    page = console_page(city, "reports.html")
    router = APIRouter(tags=["console"])

    @router.get("/supervisor/reports", response_class=HTMLResponse, include_in_schema=False)
    def reports_page() -> HTMLResponse:
        return HTMLResponse(page, headers=PAGE_HEADERS)

    return router

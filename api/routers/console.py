"""The call-taker's console: ``GET /console`` (one page) and its assets under ``/console/assets``.

The page and everything it loads come from this server (no outside host, no outside font):
it works on a closed network. It signs in with ``/session`` (a cookie), reads ``/desks`` and
``/calls/{id}``, changes its desk with ``PUT /desks/{id}/state`` and follows ``GET /events``.

The city's languages and agency names are written into the page, so the console speaks the
city file's languages and names its agencies as the city does.
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from config.settings import GENERAL_QUEUE, OTHER_NATURE, CitySettings
from queueing.incidents import LOWEST_PRIORITY, MAX_LOCATION, MAX_NATURE_TEXT, MAX_NOTE
from queueing.states import Disposition

STATIC = Path(__file__).resolve().parent.parent / "static"
ASSETS_PATH = "/console/assets"
CITY_MARK = "{{city_json}}"


def city_json(city: CitySettings) -> str:
    """The city facts the console shows, as JSON safe inside a ``<script>`` element."""
    facts = {
        "number": city.hotline.number,
        "languages": city.languages,
        "general": GENERAL_QUEUE,
        "agencies": {a.id: {"name": dict(a.name), "label": a.label, "digit": a.digit,
                            "natures": [{"id": n.id, "name": dict(n.name)} for n in a.natures]} for a in city.agencies},
        "desks": {d.id: d.agency for d in city.desks},
        # the incident form's choices: what the server accepts (queueing/incidents.py checks the same)
        "dispositions": list(Disposition),
        "other_nature": OTHER_NATURE,
        "lowest_priority": LOWEST_PRIORITY,
        "limits": {"note": MAX_NOTE, "location_text": MAX_LOCATION, "nature_text": MAX_NATURE_TEXT},
    }
    text = json.dumps(facts, ensure_ascii=False, separators=(",", ":"))
    # No "</script>", "<!--" or "&" can end or change the element: JSON allows \u escapes.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def console_page(city: CitySettings, name: str = "console.html") -> str:
    """A page of ``api/static`` with the city's facts written in (the wallboard's too)."""
    template = (STATIC / name).read_text(encoding="utf-8")
    if CITY_MARK not in template:
        raise RuntimeError(f"{STATIC / name} has no {CITY_MARK} mark for the city's facts")
    return template.replace(CITY_MARK, city_json(city))


#: The people's pages' headers (the console's, the wallboard's).
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    # Everything from this server only; no inline script runs (the city facts are data).
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; font-src 'self'; object-src 'none'; "
                                "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def add_console(app: FastAPI, city: CitySettings) -> None:
    """Serves the console page and its assets; neither needs a token (the page signs in itself)."""
    page = console_page(city)
    router = APIRouter(tags=["console"])

    @router.get("/console", response_class=HTMLResponse, include_in_schema=False)
    def console() -> HTMLResponse:
        return HTMLResponse(page, headers=PAGE_HEADERS)

    app.include_router(router)
    app.mount(ASSETS_PATH, StaticFiles(directory=STATIC), name="console-assets")


def page_router(city: CitySettings, path: str, template: str) -> APIRouter:
    """One more page of the same kind (the wallboard, the reports): ``template`` from api/static
    with the city's facts, at ``path``, with the console's headers; its assets are the console's."""
    page = console_page(city, template)
    router = APIRouter(tags=["console"])

    @router.get(path, response_class=HTMLResponse, include_in_schema=False)
    def serve_page() -> HTMLResponse:
        return HTMLResponse(page, headers=PAGE_HEADERS)

    return router

"""The supervisors' wallboard: ``GET /supervisor`` (one page; assets under ``/console/assets``,
served by api/routers/console.py) and ``GET /board``, the figures it draws.

The page signs in with ``/session`` like the console (a supervisor or a viewer; a call-taker is
told it is the wrong page), follows ``GET /events`` to move desks and waiting counts at once,
and reads ``/board`` again (at most once a second) for the windows' figures.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from fastapi.responses import HTMLResponse

from api.auth import AUTH_RESPONSES, Access
from api.errors import REDIS_DOWN
from api.routers.console import PAGE_HEADERS, console_page
from api.schemas import BoardView
from api.services.board import BoardService
from api.tokens import Principal
from config.settings import CitySettings


def board_router(access: Access, boards: BoardService) -> APIRouter:
    router = APIRouter(responses={**AUTH_RESPONSES, **REDIS_DOWN})

    @router.get("/board", response_model=BoardView)
    def get_board(principal: Principal = Depends(access.overseer)) -> Response:
        """Every queue's callers and figures (last 15 min, the 15 before, last hour, shift), the desks
        and the line's health; computed at most once a second (supervisors and viewers)."""
        return Response(boards.board_json(), media_type="application/json")

    return router


def supervisor_page_router(city: CitySettings) -> APIRouter:
    page = console_page(city, "supervisor.html")
    router = APIRouter(tags=["console"])

    @router.get("/supervisor", response_class=HTMLResponse, include_in_schema=False)
    def supervisor() -> HTMLResponse:
        return HTMLResponse(page, headers=PAGE_HEADERS)

    return router

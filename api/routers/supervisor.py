"""The supervisors' wallboard's figures: ``GET /board``. The page itself (``GET /supervisor``,
api/static/supervisor.html) is served by api/routers/console.py's ``page_router``.

The page signs in with ``/session`` like the console (a supervisor or a viewer; a call-taker is
told it is the wrong page), follows ``GET /events`` to move desks and waiting counts at once,
and reads ``/board`` again (at most once a second) for the windows' figures.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from api.auth import AUTH_RESPONSES, Access
from api.errors import REDIS_DOWN
from api.schemas import BoardView
from api.services.board import BoardService
from api.tokens import Principal


def board_router(access: Access, boards: BoardService) -> APIRouter:
    router = APIRouter(responses={**AUTH_RESPONSES, **REDIS_DOWN})

    @router.get("/board", response_model=BoardView)
    def get_board(principal: Principal = Depends(access.overseer)) -> Response:
        """Every queue's callers and figures (last 15 min, the 15 before, last hour, shift), the desks
        and the line's health; computed at most once a second (supervisors and viewers)."""
        return Response(boards.board_json(), media_type="application/json")

    return router

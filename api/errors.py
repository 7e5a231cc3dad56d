"""How the API answers the errors the domain raises, registered once by ``create_app``.

* Redis does not answer (any ``redis.exceptions.RedisError``: ConnectionError, TimeoutError, …):
  503 ``Redis unreachable: <the driver's words>``, which name the address an operator must check.
* A routing script refuses the change (:class:`~queueing.errors.RoutingRefused`): 409 with the
  script's own message, e.g. ``desk desk-101 is ringing; cannot set paused``.

* The console's sign-in is refused (:class:`SignInRefused`): its own status (400, 401, 403,
  404) and reason; a wrong user name and a wrong password get the same 401.

* An incident change the city file does not allow (:class:`~queueing.incidents.IncidentInvalid`: an
  unknown nature, agency or disposition, a note too long): 422 naming the field. A save from an
  older version (:class:`~queueing.incidents.IncidentConflict`, a refusal) is a 409 saying who
  changed what meanwhile.

All with the body of every other error, :class:`api.auth.Problem`. A route that means
something else by a refusal (a number that cannot call is a bad request: 400) says so itself.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from redis.exceptions import RedisError

from api.auth import Problem
from queueing.errors import RoutingRefused
from queueing.incidents import IncidentInvalid
from queueing.recording_files import BadCallId

log = logging.getLogger("hotline.api")

# Declared on the routes that can answer them, so the OpenAPI spec says what they look like.
REDIS_DOWN: dict[int | str, dict[str, Any]] = {503: {"model": Problem, "description": "Redis does not answer"}}
REFUSED: dict[int | str, dict[str, Any]] = {
    409: {"model": Problem, "description": "refused in the current state; the reason says why"},
}


class FieldIssue(BaseModel):
    """One field the request's shape got wrong, as FastAPI's validation reports it."""

    loc: list[str | int]
    msg: str
    type: str


class InvalidProblem(BaseModel):
    """A 422: our message naming what does not exist, or the fields whose shape was wrong."""

    detail: str | list[FieldIssue]


INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": InvalidProblem,
          "description": "the request names something that does not exist, or a field is malformed; it says which"},
}


class InvalidInput(Exception):
    """A request that names something the city does not have (e.g. an agency): 422 with the message."""


async def invalid_input(request: Request, exc: Exception) -> JSONResponse:
    log.info("%s %s: 422 %s", request.method, request.url.path, exc)
    return JSONResponse({"detail": str(exc)}, status_code=422)


class SignInRefused(Exception):
    """``POST /session`` refused, with the status to answer and why."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


async def sign_in_refused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SignInRefused)
    log.info("%s %s: %d %s", request.method, request.url.path, exc.status, exc.detail)
    headers = {"WWW-Authenticate": 'Bearer realm="hotline"'} if exc.status == 401 else None
    return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=headers)


async def redis_unreachable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("%s %s: Redis unreachable: %s", request.method, request.url.path, exc)
    return JSONResponse({"detail": f"Redis unreachable: {exc}"}, status_code=503)


async def refused(request: Request, exc: Exception) -> JSONResponse:
    log.info("%s %s refused: %s", request.method, request.url.path, exc)
    return JSONResponse({"detail": str(exc)}, status_code=409)


async def recording_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.info("%s %s: 404 %s", request.method, request.url.path, exc)
    return JSONResponse({"detail": str(exc)}, status_code=404)


async def bad_call_id(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=400)


def add_error_handlers(app: FastAPI) -> None:
    from api.services.recordings import RecordingUnavailable

    app.add_exception_handler(RecordingUnavailable, recording_unavailable)
    app.add_exception_handler(BadCallId, bad_call_id)
    app.add_exception_handler(RedisError, redis_unreachable)
    app.add_exception_handler(RoutingRefused, refused)
    app.add_exception_handler(SignInRefused, sign_in_refused)
    app.add_exception_handler(InvalidInput, invalid_input)
    app.add_exception_handler(IncidentInvalid, invalid_input)

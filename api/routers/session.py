"""The console's sign-in: ``POST /session``, ``GET /session``, ``DELETE /session``.

The session is a cookie (``hotline_session``: HttpOnly, SameSite=Strict, Path=/, Secure when
HOTLINE_API_SECURE_COOKIES is on) that every other route accepts in place of a bearer token
(``api/auth.py``); its csrf value goes in ``X-CSRF-Token`` with every change.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Response

from api.auth import CSRF_HEADER, SESSION_COOKIE, Access, Problem
from api.errors import REDIS_DOWN
from api.schemas import SessionView, SignIn
from api.services.session import SessionService
from queueing.accounts import ConsoleSession

log = logging.getLogger("hotline.api")


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}


def session_router(access: Access, sessions: SessionService, *, secure_cookies: bool) -> APIRouter:
    router = APIRouter(responses=REDIS_DOWN)

    def cookie_attributes() -> dict[str, Any]:
        return {"path": "/", "httponly": True, "samesite": "strict", "secure": secure_cookies}

    @router.post("/session", response_model=SessionView, responses={
        400: _problem("a desk for someone who is not a call-taker"),
        401: _problem("wrong user name or password (the same answer for both)"),
        403: _problem("a desk of another agency, or not the user's desk"),
        404: _problem("no such desk in the city file"),
        409: _problem("another user is signed in at that desk"),
    })
    def sign_in(body: SignIn, response: Response) -> SessionView:
        """Sign in; a call-taker with a desk logs it in (paused "logged in" when it was offline)
        and is bound to it. Sets the session cookie; no max-age: the session ends in Redis."""
        token, view = sessions.sign_in(body)
        response.set_cookie(SESSION_COOKIE, token, **cookie_attributes())
        log.info("user %r signed in%s", view.user, f" at desk {view.desk}" if view.desk else "")
        return view

    @router.get("/session", response_model=SessionView, responses={401: _problem("not signed in or session expired")})
    def current_session(session: ConsoleSession = Depends(access.signed_in)) -> SessionView:
        """Who is signed in, and the session's csrf value (after a page reload)."""
        return sessions.view(session)

    @router.delete("/session", status_code=204, response_class=Response, responses={
        401: _problem("not signed in or session expired"),
        403: _problem(f"missing or wrong {CSRF_HEADER} header"),
        409: _problem("the bound desk rings or is on a call: it cannot be logged out yet"),
    })
    def sign_out(session: ConsoleSession = Depends(access.signed_in)) -> Response:
        """Logs the bound desk out, ends the session, clears the cookie."""
        sessions.sign_out(session)
        log.info("user %r signed out", session.user)
        response = Response(status_code=204)
        response.delete_cookie(SESSION_COOKIE, **cookie_attributes())
        return response

    return router

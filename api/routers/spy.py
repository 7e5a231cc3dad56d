"""A supervisor on a desk's call: ``POST /desks/{desk_id}/spy`` (listen, whisper or barge, from the
supervisor's own desk phone, which rings), ``PUT …/spy`` (another mode, live), ``DELETE …/spy``
(the supervisor's leg hangs up; the call goes on), ``GET …/spy`` (the session, if any).
Acting is for supervisors only; viewers read."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, HTTPException

from api.auth import AUTH_RESPONSES, Access, Problem
from api.errors import REDIS_DOWN, REFUSED
from api.schemas import SpyModeChange, SpyStart, SpyView
from api.services.spy import SpyService
from api.tokens import Principal

log = logging.getLogger("hotline.api")

UNKNOWN: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "no such desk in the city file"}}


def spy_router(access: Access, spies: SpyService) -> APIRouter:
    router = APIRouter(responses={**AUTH_RESPONSES, **REDIS_DOWN, **UNKNOWN})

    def known(*desk_ids: str) -> None:
        for desk_id in desk_ids:
            if not spies.known(desk_id):
                raise HTTPException(404, f"unknown desk {desk_id!r}")

    @router.get("/desks/{desk_id}/spy", response_model=SpyView | None)
    def get_spy(desk_id: str, principal: Principal = Depends(access.overseer)) -> SpyView | None:
        """The supervisor on the desk's call; null when none."""
        known(desk_id)
        return spies.view(desk_id)

    @router.post("/desks/{desk_id}/spy", response_model=SpyView, status_code=201, responses=REFUSED)
    def start_spy(desk_id: str, body: SpyStart, principal: Principal = Depends(access.supervisor)) -> SpyView:
        """Rings ``supervisor_desk``'s phone; answered, it hears the desk's call in ``mode``. 409 when the
        desk is not on a call, its caller is on hold or being transferred, a supervisor is on it already,
        or the supervisor's desk is busy, ready or listening elsewhere."""
        known(desk_id, body.supervisor_desk)
        log.info("spy on desk %s from desk %s (%s) by %s", desk_id, body.supervisor_desk, body.mode, principal)
        return spies.start(desk_id, body.supervisor_desk, body.mode, principal.name)

    @router.put("/desks/{desk_id}/spy", response_model=SpyView, responses=REFUSED)
    def switch_spy(desk_id: str, body: SpyModeChange, principal: Principal = Depends(access.supervisor)) -> SpyView:
        """Listen, whisper or barge from now on, without anyone pressing a key. 409 when nobody listens."""
        known(desk_id)
        return spies.switch(desk_id, body.mode, principal.name)

    @router.delete("/desks/{desk_id}/spy", response_model=SpyView, responses=REFUSED)
    def stop_spy(desk_id: str, principal: Principal = Depends(access.supervisor)) -> SpyView:
        """The supervisor's phone hangs up; the desk's call goes on. 409 when nobody listens."""
        known(desk_id)
        return spies.stop(desk_id, principal.name)

    return router

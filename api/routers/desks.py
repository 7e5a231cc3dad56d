"""``GET /desks`` and a desk's state: ``PUT /desks/{desk_id}/state``, ``POST …/login``, ``POST …/logout``."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, HTTPException

from api.auth import AUTH_RESPONSES, Access, Problem
from api.errors import INVALID, REDIS_DOWN, REFUSED, InvalidInput
from api.schemas import DeskReason, DeskStateChange, DeskView
from api.services.desks import DeskService
from api.tokens import Principal

log = logging.getLogger("hotline.api")


def desks_router(access: Access, desks: DeskService) -> APIRouter:
    router = APIRouter(responses={**AUTH_RESPONSES, **REDIS_DOWN})

    @router.get("/desks", response_model=list[DeskView])
    def list_desks(principal: Principal = Depends(access.reader)) -> list[DeskView]:
        """Every desk; a call-taker's token sees its agency's."""
        return desks.views(access.visible_desks(principal, desks.agency_of))

    @router.get("/desks/{desk_id}", response_model=DeskView)
    def get_desk(desk_id: str, principal: Principal = Depends(access.reader)) -> DeskView:
        """One desk: what a console reads on each change of its own desk (not the whole list)."""
        if not desks.known(desk_id):
            raise HTTPException(404, f"unknown desk {desk_id!r}")
        if not access.visible_desks(principal, [desk_id]):
            raise HTTPException(403, f"desk {desk_id} is a {desks.agency_of[desk_id]} desk: a {principal.agency} "
                                     f"call-taker sees {principal.agency} desks only")
        return desks.view(desk_id)

    def allowed(principal: Principal, desk_id: str) -> None:
        if not desks.known(desk_id):  # before Redis: an unknown desk is 404 even while Redis is down
            raise HTTPException(404, f"unknown desk {desk_id!r}")
        access.check_desk_change(principal, desk_id)

    def change_desk(principal: Principal, desk_id: str, target: str, reason: str = "") -> DeskView:
        allowed(principal, desk_id)
        log.info("desk %s → %s requested by token %s", desk_id, target, principal)
        return desks.change(desk_id, target, reason, set_by=access.forcing(principal, desk_id))

    @router.put("/desks/{desk_id}/state", response_model=DeskView, responses={
        **REFUSED, **INVALID,
        400: {"model": Problem, "description": "from the console: a pause reason not in the city file's list"}})
    def set_desk_state(desk_id: str, change: DeskStateChange, principal: Principal = Depends(access.operator)) -> DeskView:
        """ready, paused (with a reason) or offline; 409 with the reason when refused. From the console
        (session cookie) a pause gives one of the city file's ``[console] pause_reasons``. A supervisor
        forcing a desk that is not their own gives a reason (any text); the desk record (``state_set_by``)
        and the audit event (``set_by``) name the supervisor."""
        forced(principal, desk_id, change.state, change.reason)
        if change.state == "paused" and not access.forcing(principal, desk_id):
            access.check_pause_reason(principal, change.reason)
        return change_desk(principal, desk_id, change.state, change.reason)

    def forced(principal: Principal, desk_id: str, target: str, reason: str) -> None:
        """A supervisor forcing a desk that is not their own says why (any text): 422 without."""
        allowed(principal, desk_id)
        if access.forcing(principal, desk_id) and not reason.strip():
            raise InvalidInput(f"a supervisor forcing desk {desk_id} to {target} gives a reason (any text)")

    @router.post("/desks/{desk_id}/login", response_model=DeskView, responses={**REFUSED, **INVALID})
    def login(desk_id: str, body: DeskReason | None = None, principal: Principal = Depends(access.operator)) -> DeskView:
        """Start of a shift: the desk is logged in, not ready yet (paused "logged in"). A supervisor
        logging in a desk not their own gives a reason."""
        reason = body.reason if body else ""
        forced(principal, desk_id, "login", reason)
        return change_desk(principal, desk_id, "login", reason)

    @router.post("/desks/{desk_id}/logout", response_model=DeskView, responses={**REFUSED, **INVALID})
    def logout(desk_id: str, body: DeskReason | None = None, principal: Principal = Depends(access.operator)) -> DeskView:
        """The desk goes offline. A supervisor logging out a desk not their own gives a reason."""
        reason = body.reason if body else ""
        forced(principal, desk_id, "offline", reason)
        return change_desk(principal, desk_id, "offline", reason)

    return router

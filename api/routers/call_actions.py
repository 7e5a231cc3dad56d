"""Actions on a call by the desk on it: ``POST /calls/{call_id}/transfer`` (and its consult steps),
``GET /calls/{call_id}/transfer``, ``POST /calls/{call_id}/hold`` and ``/resume``,
``POST /calls/{call_id}/hangup``."""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException

from api.auth import AUTH_RESPONSES, Access
from api.errors import INVALID, REDIS_DOWN, REFUSED
from api.schemas import HangupRequest, TransferRequest
from api.services.call_actions import CallActionService
from api.services.calls import CallService
from api.tokens import Principal
from queueing.transfers import TransferEvent

log = logging.getLogger("hotline.api")

CONSULT_STEPS: dict[str, TransferEvent] = {"complete": TransferEvent.COMPLETE, "conference": TransferEvent.CONFERENCE,
                                           "cancel": TransferEvent.CANCEL}


def call_actions_router(access: Access, calls: CallService, actions: CallActionService) -> APIRouter:
    router = APIRouter(responses={**AUTH_RESPONSES, **REDIS_DOWN})

    def the_call(principal: Principal, call_id: str) -> dict[str, str]:
        record = calls.record(call_id)
        if not record:
            raise HTTPException(404, f"unknown call {call_id!r}")
        access.check_call(principal, call_id, record)
        return record

    @router.get("/calls/{call_id}/transfer")
    def get_transfer(call_id: str, principal: Principal = Depends(access.reader)) -> dict[str, str]:
        """The call's latest transfer (``transfer_state``: ready when none)."""
        the_call(principal, call_id)
        return actions.state(call_id)

    @router.post("/calls/{call_id}/transfer", responses={**REFUSED, **INVALID})
    def transfer(call_id: str, body: TransferRequest, principal: Principal = Depends(access.operator)) -> dict[str, str]:
        """Blind: the caller waits at the head of the agency's queue with its original arrival time, and
        the desk wraps up. Consult: the caller on hold music while the agency's desk ready longest rings
        and talks with this desk; then ``/transfer/complete`` or ``/transfer/cancel``. 409 while a
        transfer is under way or when no desk of the agency is logged in (consult: ready); 422 for an
        agency that does not exist."""
        desk_id = access.desk_on_call(principal, call_id, the_call(principal, call_id))
        log.info("transfer of call %s to %s (%s) asked by %s", call_id, body.agency, body.mode, principal)
        return actions.transfer(call_id, desk_id, body.agency, body.mode)

    @router.post("/calls/{call_id}/transfer/{step}", responses=REFUSED)
    def consult_step(call_id: str, step: Literal["complete", "conference", "cancel"],
                     principal: Principal = Depends(access.operator)) -> dict[str, str]:
        """A consultative transfer's next step: complete (once the target desk answered: the caller talks
        with it, this desk wraps up), conference (once it answered: the caller and both desks in one
        room; whichever desk hangs up, the caller stays with the other) or cancel (the caller back with
        this desk); 409 with the reason when the transfer is not in a state for it."""
        desk_id = access.desk_on_call(principal, call_id, the_call(principal, call_id))
        log.info("consult %s of call %s asked by %s", step, call_id, principal)
        return actions.consult_step(call_id, CONSULT_STEPS[step], desk_id, principal.name)

    @router.post("/calls/{call_id}/hangup", status_code=202, responses={**REFUSED, **INVALID})
    def hang_up(call_id: str, body: HangupRequest, principal: Principal = Depends(access.operator)) -> dict[str, str]:
        """Ends the call from our side: the bridge hangs the caller's channel up; the call's record
        and audit trail end as for any answered call."""
        desk_id = access.desk_on_call(principal, call_id, the_call(principal, call_id))
        log.info("hang-up of call %s asked by %s", call_id, principal)
        return actions.hang_up(call_id, desk_id, principal.name)

    @router.post("/calls/{call_id}/hold", status_code=202, responses=REFUSED)
    def hold(call_id: str, principal: Principal = Depends(access.operator)) -> dict[str, str]:
        """The caller hears hold music and the desk waits on the line; the call stays the desk's
        (``held`` on its record). 409 unless the desk is on the call, not held, with no transfer under way."""
        desk_id = access.desk_on_call(principal, call_id, the_call(principal, call_id))
        log.info("hold of call %s asked by %s", call_id, principal)
        return actions.hold(call_id, desk_id, principal.name)

    @router.post("/calls/{call_id}/resume", status_code=202, responses=REFUSED)
    def resume(call_id: str, principal: Principal = Depends(access.operator)) -> dict[str, str]:
        """The held caller and the desk talk again. 409 unless the call is held at the desk; if the
        bridge cannot join them the caller stays on hold music (event ``call_resume_failed``)."""
        desk_id = access.desk_on_call(principal, call_id, the_call(principal, call_id))
        log.info("resume of call %s asked by %s", call_id, principal)
        return actions.resume(call_id, desk_id, principal.name)

    return router

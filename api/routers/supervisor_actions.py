"""A supervisor's actions on a waiting caller (supervisor tokens only; a viewer or a call-taker gets 403):

* ``POST /calls/{call_id}/move`` {queue, note}: to another queue, keeping its arrival time (its place
  there is by arrival among the callers of its priority); 409 while it rings at a desk.
* ``PUT /calls/{call_id}/priority`` {priority, note}: 0 is the highest; it keeps its arrival time.
* ``POST /calls/{call_id}/pick`` {desk_id, note}: offered next to that desk (ready, and of the caller's
  queue's agency, or general's, or cross-trained for it) by the bridges' normal delivery.

Each leaves an audit event naming the supervisor (``call_moved``, ``call_reprioritized``, ``call_picked``).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, HTTPException

from api.auth import AUTH_RESPONSES, Access
from api.errors import INVALID, REDIS_DOWN, REFUSED
from api.schemas import CallMove, CallPick, CallPriority
from api.services.calls import CallService
from api.services.supervisor_actions import SupervisorActionService
from api.tokens import Principal

log = logging.getLogger("hotline.api")


def supervisor_actions_router(access: Access, calls: CallService, actions: SupervisorActionService) -> APIRouter:
    router = APIRouter(responses={**AUTH_RESPONSES, **REDIS_DOWN, **REFUSED})

    def known(call_id: str) -> None:
        if not calls.record(call_id):
            raise HTTPException(404, f"unknown call {call_id!r}")

    @router.post("/calls/{call_id}/move", responses=INVALID)
    def move(call_id: str, body: CallMove, principal: Principal = Depends(access.supervisor)) -> dict[str, str]:
        """The waiting caller to another queue with its arrival time; 409 while it rings at a desk or
        once it is no longer waiting; 422 for a queue the city does not have."""
        known(call_id)
        log.info("move of call %s to %s asked by %s", call_id, body.queue, principal)
        return actions.move(call_id, body.queue, principal.name, body.note)

    @router.put("/calls/{call_id}/priority", responses=INVALID)
    def reprioritize(call_id: str, body: CallPriority, principal: Principal = Depends(access.supervisor)) -> dict[str, str]:
        """A waiting (or ringing) caller's new priority; it keeps its arrival time. A ringing caller keeps
        ringing, and comes back at its new place if the desk does not answer."""
        known(call_id)
        log.info("priority %d for call %s asked by %s", body.priority, call_id, principal)
        return actions.reprioritize(call_id, body.priority, principal.name, body.note)

    @router.post("/calls/{call_id}/pick", responses=INVALID)
    def pick(call_id: str, body: CallPick, principal: Principal = Depends(access.supervisor)) -> dict[str, str]:
        """The waiting caller goes next to this desk; 409 unless the desk is ready and serves the caller's
        queue; 422 for a desk the city does not have."""
        known(call_id)
        log.info("pick of call %s for desk %s asked by %s", call_id, body.desk_id, principal)
        return actions.pick(call_id, body.desk_id, principal.name, body.note)

    return router

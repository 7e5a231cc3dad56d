"""Callbacks of abandoned calls.

* ``GET /callbacks/{agency}``: open callback tasks a desk of that agency may call back (its
  own and the general queue's), by priority, then oldest abandonment first.
* ``POST /callbacks/{call_id}/outcome``: a call-taker who called back by hand says how it
  went (reached, no_answer, busy, failed, not_needed); retries follow ``[callbacks]``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException

from api.auth import AUTH_RESPONSES, Access
from api.errors import REDIS_DOWN, REFUSED
from api.schemas import CallbackOutcome
from api.services.callbacks import CallbackService
from api.services.desks import DeskService
from api.tokens import Principal


def callbacks_router(access: Access, callbacks: CallbackService, desks: DeskService) -> APIRouter:
    router = APIRouter(responses={**AUTH_RESPONSES, **REDIS_DOWN})

    @router.get("/callbacks/{agency}")
    def list_callbacks(agency: str, principal: Principal = Depends(access.reader)) -> list[dict[str, str]]:
        if agency not in callbacks.queues:
            raise HTTPException(404, f"unknown agency {agency!r}; known: {', '.join(callbacks.queues)}")
        access.check_agency(principal, agency, "callbacks")
        return callbacks.open_tasks(agency)

    @router.post("/callbacks/{call_id}/outcome", responses=REFUSED)
    def record_outcome(call_id: str, body: CallbackOutcome,
                       principal: Principal = Depends(access.operator)) -> dict[str, str]:
        """A call-taker's token: callbacks of its agency and the general queue, from its own desk(s)."""
        if body.desk_id and not desks.known(body.desk_id):
            raise HTTPException(404, f"unknown desk {body.desk_id!r}")
        if body.desk_id:
            access.check_desk_change(principal, body.desk_id)
        if (existing := callbacks.task(call_id)) is None:
            raise HTTPException(404, f"no callback task for call {call_id!r}")
        access.check_call(principal, call_id, {"queue": existing.queue}, "callback")
        return callbacks.record_outcome(call_id, body.outcome, desk_id=body.desk_id, note=body.note)

    return router

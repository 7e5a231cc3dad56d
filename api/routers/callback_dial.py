"""``POST /callbacks/{call_id}/dial``: a call-taker starts a call-back from the console's list.

The rq job ``telephony.callback_jobs.dial_callback`` books a ready desk of the task's agency,
rings it first and, once answered, the citizen; the outcome is recorded by the job. A caller
waiting on the line still comes first (the job waits for a desk no caller needs).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException

from api.auth import AUTH_RESPONSES, Access, Problem
from api.errors import REDIS_DOWN
from api.services.callback_dial import CallbackDialService
from api.tokens import Principal


def callback_dial_router(access: Access, dialer: CallbackDialService) -> APIRouter:
    router = APIRouter(responses={**AUTH_RESPONSES, **REDIS_DOWN})

    @router.post("/callbacks/{call_id}/dial", status_code=202,
                 responses={409: {"model": Problem, "description": "not dialable now; the reason says what to do"}})
    def dial_callback(call_id: str, principal: Principal = Depends(access.operator)) -> dict[str, str]:
        if (task := dialer.task(call_id)) is None:
            raise HTTPException(404, f"no callback task for call {call_id!r}")
        access.check_call(principal, call_id, {"queue": task.queue}, "callback")
        return dialer.dial(task)

    return router

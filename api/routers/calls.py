"""``GET /calls/{call_id}``: a call's record."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException

from api.auth import AUTH_RESPONSES, Access
from api.errors import REDIS_DOWN
from api.services.calls import CallService
from api.tokens import Principal


def calls_router(access: Access, calls: CallService) -> APIRouter:
    router = APIRouter(responses={**AUTH_RESPONSES, **REDIS_DOWN})

    @router.get("/calls/{call_id}")
    def get_call(call_id: str, principal: Principal = Depends(access.reader)) -> dict[str, str]:
        """A call's record; a call-taker's token sees its agency's and the general queue's calls."""
        record = calls.record(call_id)
        if not record:
            raise HTTPException(404, f"unknown call {call_id!r}")
        access.check_call(principal, call_id, record)
        return record

    return router

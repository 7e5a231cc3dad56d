"""The screen pop and what feeds it.

* ``GET /calls/{call_id}/pop``: the call record with its IVR path, priority and its reason, the
  number's earlier calls (with dispositions), nuisance score and explanation, open callback and
  location fixes. Whoever may read ``GET /calls/{call_id}`` may read it; nobody else sees anything.
* ``POST /calls/{call_id}/pop-seen``: the page drew the pop (audit trail, with the delay since
  the offer).
* ``POST /locations``: one location fix of a caller number (supervisors; AML arrives later).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException

from api.auth import AUTH_RESPONSES, Access, Problem
from api.errors import REDIS_DOWN, REFUSED
from api.schemas import LocationFix, PopSeen
from api.services.pop import PopService
from api.tokens import Principal
from queueing.errors import RoutingRefused


def pop_router(access: Access, pops: PopService) -> APIRouter:
    router = APIRouter(responses={**AUTH_RESPONSES, **REDIS_DOWN})

    def visible_call(principal: Principal, call_id: str) -> dict[str, str]:
        record = pops.record(call_id)
        if not record:
            raise HTTPException(404, f"unknown call {call_id!r}")
        access.check_call(principal, call_id, record)
        return record

    @router.get("/calls/{call_id}/pop")
    def get_pop(call_id: str, principal: Principal = Depends(access.reader)) -> dict[str, Any]:
        """What the call-taker's screen shows when the desk rings."""
        return pops.pop(visible_call(principal, call_id))

    @router.post("/calls/{call_id}/pop-seen", responses=REFUSED)
    def pop_seen(call_id: str, body: PopSeen, principal: Principal = Depends(access.operator)) -> dict[str, str]:
        record = visible_call(principal, call_id)
        desk_id = body.desk_id or principal.desk or record.get("desk", "")
        if not desk_id:
            raise HTTPException(400, f"desk_id is required: call {call_id} was never offered to a desk and this "
                                     "session has none")
        access.check_desk_change(principal, desk_id)
        return pops.seen(call_id, desk_id, body.browser_ms, principal.name)

    @router.post("/locations", status_code=201,
                 responses={400: {"model": Problem, "description": "not a caller number or a value out of range"}})
    def add_location(body: LocationFix, principal: Principal = Depends(access.supervisor)) -> dict[str, str]:
        try:
            return pops.add_location(body.number, body.lat, body.lon, body.radius_m, source=body.source,
                                     at_ms=body.at_ms, method=body.method, confidence=body.confidence)
        except RoutingRefused as exc:  # the fix itself is wrong, not a state: a clear 400
            raise HTTPException(400, str(exc)) from None

    return router

"""The incident of a call, written by the call-taker during and after the call.

* ``GET /calls/{call_id}/incident``: the form (version 0 and empty when nothing is written yet) and its notes.
* ``PUT /calls/{call_id}/incident``: a change of its fields, from the version it started from (409 when the
  incident changed meanwhile, saying who changed what; 422 naming a bad field).
* ``POST /calls/{call_id}/incident/notes``: appends a note (notes never conflict).
* ``GET /calls/search?number=&from_ms=&to_ms=``: calls a duplicate may point at, as the principal may see them.

Who: whoever may see the call (``Access.check_call``: its agency's call-takers, the agency it was
transferred to, supervisors and viewers) reads it; call-takers and supervisors change it. Every
change is an event on the audit trail (``incident_saved``, ``incident_note``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query

from api.auth import AUTH_RESPONSES, Access
from api.errors import INVALID, REDIS_DOWN, REFUSED
from api.schemas import IncidentChange, IncidentNote
from api.services.incidents import IncidentService
from api.tokens import Principal
from queueing.routing import wall_clock_ms

DAY_MS = 86_400_000
SEARCH_SHOWN = 50


def incidents_router(access: Access, incidents: IncidentService) -> APIRouter:
    router = APIRouter(responses={**AUTH_RESPONSES, **REDIS_DOWN})

    def visible_call(principal: Principal, call_id: str) -> dict[str, str]:
        record = incidents.call(call_id)
        if not record:
            raise HTTPException(404, f"unknown call {call_id!r}")
        access.check_call(principal, call_id, record, "the incident of call")
        return record

    # Declared before /calls/{call_id} takes "search" for a call id: this router is included first.
    @router.get("/calls/search", responses=INVALID)
    def search_calls(number: str = Query(default="", max_length=32, description="the caller number; empty: any"),
                     from_ms: int | None = Query(default=None, ge=0, description="default: 24 h before to_ms"),
                     to_ms: int | None = Query(default=None, ge=0, description="default: now"),
                     principal: Principal = Depends(access.reader)) -> list[dict[str, str]]:
        """Calls that arrived in the range, newest first (at most 50), the ones this principal may see:
        what the incident form's "duplicate of" picks from."""
        end = wall_clock_ms() if to_ms is None else to_ms
        start = end - DAY_MS if from_ms is None else from_ms
        found = [c for c in incidents.search(number, start, end) if access.sees_call(principal, c)]
        return found[:SEARCH_SHOWN]

    @router.get("/calls/{call_id}/incident")
    def get_incident(call_id: str, principal: Principal = Depends(access.reader)) -> dict[str, Any]:
        return incidents.view(call_id, visible_call(principal, call_id))

    @router.put("/calls/{call_id}/incident", responses={**REFUSED, **INVALID})
    def save_incident(call_id: str, change: IncidentChange,
                      principal: Principal = Depends(access.operator)) -> dict[str, Any]:
        """Changes the fields sent; the incident after the change, with ``changed``."""
        record = visible_call(principal, call_id)
        changes = {field: getattr(change, field) for field in change.model_fields_set if field != "expected_version"}
        return incidents.save(call_id, record, changes, expected_version=change.expected_version, by=principal.name)

    @router.post("/calls/{call_id}/incident/notes", status_code=201, responses={**REFUSED, **INVALID})
    def add_note(call_id: str, note: IncidentNote, principal: Principal = Depends(access.operator)) -> dict[str, Any]:
        """Appends a note: ``index, at_ms, by, text``."""
        visible_call(principal, call_id)
        return incidents.add_note(call_id, note.text, by=principal.name)

    return router

"""A call's incident in the standard shape (NENA EIDO) and its pushes to the agencies' CAD.

* ``GET /calls/{call_id}/eido``: the EIDO document now, as a download named by the call id;
  whoever may read the call (``GET /calls/{call_id}``) may read it.
* ``GET /calls/{call_id}/cad-push``: each agency's push: pending, sent (when), failed (tries, the
  HTTP status or error, whether rq tries again); whether the document is kept.
* ``POST /calls/{call_id}/cad-push``: build the document again and send it (a resend after a
  failure, or a push by hand); 202, the pushes as they are now. The CAD's answer comes later: as
  ``cad_push`` events and in ``GET``.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import JSONResponse

from api.auth import AUTH_RESPONSES, Access
from api.errors import INVALID, REDIS_DOWN, REFUSED
from api.schemas import CadPushRequest
from api.services.eido import EidoService
from api.tokens import Principal


def eido_router(access: Access, eido: EidoService) -> APIRouter:
    router = APIRouter(responses={**AUTH_RESPONSES, **REDIS_DOWN})
    agencies = [a.id for a in eido.city.agencies]

    def visible_call(call_id: str, principal: Principal) -> dict[str, str]:
        record = eido.routing.call(call_id)
        if not record:
            raise HTTPException(404, f"unknown call {call_id!r}")
        access.check_call(principal, call_id, record)
        return record

    @router.get("/calls/{call_id}/eido", response_class=JSONResponse,
                responses={200: {"content": {"application/json": {}}, "description": "the EIDO document"}})
    def get_eido(call_id: str, principal: Principal = Depends(access.reader)) -> JSONResponse:
        """The call's EIDO document (NENA-STA-021), as an attachment ``eido-<call_id>.json``."""
        record = visible_call(call_id, principal)
        filename = "eido-" + re.sub(r"[^A-Za-z0-9._-]", "_", call_id) + ".json"
        return JSONResponse(eido.document(call_id, record),
                            headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    @router.get("/calls/{call_id}/cad-push")
    def get_cad_push(call_id: str, principal: Principal = Depends(access.reader)) -> dict[str, Any]:
        visible_call(call_id, principal)
        return eido.status(call_id)

    @router.post("/calls/{call_id}/cad-push", status_code=202, responses={**REFUSED, **INVALID})
    def post_cad_push(call_id: str, body: CadPushRequest | None = None,
                      principal: Principal = Depends(access.operator)) -> dict[str, Any]:
        """Sends the document now to the agencies' CAD; 409 when none of them has a webhook."""
        record = visible_call(call_id, principal)
        asked = body.agencies if body is not None else None
        unknown = [a for a in asked or [] if a not in agencies]
        if unknown:
            raise HTTPException(422, f"unknown agency {', '.join(map(repr, unknown))}; agencies: {', '.join(agencies)}")
        return eido.push_to_cad(call_id, record, by=principal.name, agencies=asked)

    return router

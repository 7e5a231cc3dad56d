"""Caller numbers (supervisors and viewers: a number's calls span agencies).

* ``GET /numbers/{number}``: repeat count, nuisance score (and how it is computed), policy
  and recent calls of a caller number.
* ``PUT /numbers/{number}/policy``: a supervisor's policy for a number (none,
  lower_priority, general_only), applied when its next call is queued. Nobody is blocked.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException

from api.auth import AUTH_RESPONSES, Access, Problem
from api.errors import REDIS_DOWN
from api.schemas import NumberPolicy
from api.services.numbers import NumberService
from api.tokens import Principal
from queueing.errors import RoutingRefused


def numbers_router(access: Access, numbers: NumberService) -> APIRouter:
    router = APIRouter(responses={**AUTH_RESPONSES, **REDIS_DOWN})

    @router.get("/numbers/{number}")
    def get_number(number: str, principal: Principal = Depends(access.overseer)) -> dict[str, Any]:
        return numbers.view(number)

    @router.put("/numbers/{number}/policy",
                responses={400: {"model": Problem, "description": "not a caller number; the reason says why"}})
    def set_number_policy(number: str, body: NumberPolicy,
                          principal: Principal = Depends(access.supervisor)) -> dict[str, str]:
        try:
            return numbers.set_policy(number, body.policy, set_by=body.set_by, priority_delta=body.priority_delta,
                                      note=body.note)
        except RoutingRefused as exc:  # the request's own number is wrong, not a state: a clear 400, not the app's 409
            raise HTTPException(400, str(exc)) from None

    return router

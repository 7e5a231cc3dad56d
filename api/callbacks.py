"""HTTP API for callbacks and caller numbers; ``api/app.py`` includes this router.

* ``GET /callbacks/{agency}``: open callback tasks a desk of that agency may call back (its
  own and the general queue's), by priority, then oldest abandonment first.
* ``POST /callbacks/{call_id}/outcome``: a call-taker who called back by hand says how it
  went (reached, no_answer, busy, failed, not_needed); retries follow ``[callbacks]``.
* ``GET /numbers/{number}``: repeat count, nuisance score (and how it is computed), policy
  and recent calls of a caller number (supervisors and viewers: a number's calls span agencies).
* ``PUT /numbers/{number}/policy``: a supervisor's policy for a number (none,
  lower_priority, general_only), applied when its next call is queued. Nobody is blocked.

Every route needs a bearer token; ``api/auth.py`` says which roles and agencies may use it.
"""

from __future__ import annotations

from typing import Any, Literal

import redis
from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from api.auth import AUTH_RESPONSES, Access
from api.tokens import Principal
from config.settings import CitySettings
from queueing.callbacks import Callbacks, RetryRules
from queueing.errors import RoutingRefused
from queueing.numbers import NuisanceRules, Numbers
from queueing.routing import Routing


class CallbackOutcome(BaseModel):
    outcome: Literal["reached", "no_answer", "busy", "failed", "not_needed"]
    desk_id: str = Field(default="", max_length=64, description="the desk that called back")
    note: str = Field(default="", max_length=200, description="why it is not needed, for instance")


class NumberPolicy(BaseModel):
    policy: Literal["none", "lower_priority", "general_only"]
    priority_delta: int | None = Field(default=None, ge=1, le=9,
                                       description="lower_priority: added to the call's priority; "
                                                   "default [numbers] lower_priority_by")
    set_by: str = Field(min_length=1, max_length=80, description="the supervisor setting it")
    note: str = Field(default="", max_length=500)


def callbacks_router(city: CitySettings, routing: Routing, access: Access) -> APIRouter:
    callbacks = Callbacks(routing.redis, prefix=routing.keys.prefix, clock=routing.clock)
    numbers = Numbers(routing.redis, prefix=routing.keys.prefix, clock=routing.clock)
    desk_ids = {d.id for d in city.desks}
    router = APIRouter(responses=AUTH_RESPONSES)

    def unavailable(exc: Exception) -> HTTPException:
        return HTTPException(503, f"Redis unreachable: {exc}")

    @router.get("/callbacks/{agency}")
    def list_callbacks(agency: str, principal: Principal = Depends(access.reader)) -> list[dict[str, str]]:
        if agency not in city.queues:
            raise HTTPException(404, f"unknown agency {agency!r}; known: {', '.join(city.queues)}")
        access.check_agency(principal, agency, "callbacks")
        try:
            return callbacks.open_tasks(agency)
        except redis.RedisError as exc:
            raise unavailable(exc) from None

    @router.post("/callbacks/{call_id}/outcome")
    def record_outcome(call_id: str, body: CallbackOutcome,
                       principal: Principal = Depends(access.operator)) -> dict[str, str]:
        """A call-taker's token: callbacks of its agency and the general queue, from its own desk(s)."""
        if body.desk_id and body.desk_id not in desk_ids:
            raise HTTPException(404, f"unknown desk {body.desk_id!r}")
        if body.desk_id:
            access.check_desk_change(principal, body.desk_id)
        try:
            if (existing := callbacks.task(call_id)) is None:
                raise HTTPException(404, f"no callback task for call {call_id!r}")
            access.check_call(principal, call_id, {"queue": existing.queue}, "callback")
            task = callbacks.record(call_id, body.outcome, RetryRules.from_settings(city.callbacks), expected="open",
                                    desk_id=body.desk_id, note=body.note)
        except RoutingRefused as exc:
            raise HTTPException(409, str(exc)) from None
        except redis.RedisError as exc:
            raise unavailable(exc) from None
        return task.record

    @router.get("/numbers/{number}")
    def get_number(number: str, principal: Principal = Depends(access.overseer)) -> dict[str, Any]:
        try:
            return numbers.view(number, NuisanceRules.from_settings(city.numbers))
        except redis.RedisError as exc:
            raise unavailable(exc) from None

    @router.put("/numbers/{number}/policy")
    def set_number_policy(number: str, body: NumberPolicy,
                          principal: Principal = Depends(access.supervisor)) -> dict[str, str]:
        delta = body.priority_delta or city.numbers.lower_priority_by
        try:
            return numbers.set_policy(number, body.policy, set_by=body.set_by, priority_delta=delta,
                                      note=body.note)
        except RoutingRefused as exc:  # e.g. not a number that can call: a clear 400, not a schema error
            raise HTTPException(400, str(exc)) from None
        except redis.RedisError as exc:
            raise unavailable(exc) from None

    return router

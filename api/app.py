"""HTTP API: desk states for call-takers, call records and queues for supervisors.

The HTTP layer only translates; every change is one routing operation (a Lua script), so
the API and the bridges can never disagree about a desk.

Every route but ``GET /health`` needs a bearer token; what each role and agency may see and
change is ``api/auth.py``'s.
"""

from __future__ import annotations

import logging
from typing import Literal

import redis
from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, Field

from api.auth import AUTH_RESPONSES, Access, Problem, tokens_for
from api.tokens import Principal, TokenTable
from queueing.redis_connect import redis_client
from config.settings import CitySettings, RuntimeSettings, load_settings
from queueing.errors import RoutingRefused
from queueing.routing import Routing

log = logging.getLogger("hotline.api")


class DeskStateChange(BaseModel):
    state: Literal["ready", "paused", "offline"]
    reason: str = Field(default="", max_length=80, description="why the desk is paused, shown to supervisors")


class DeskView(BaseModel):
    desk_id: str
    agency: str
    state: str
    call_id: str = ""
    reason: str = ""


class QueueView(BaseModel):
    queue: str
    waiting: list[str]


class Health(BaseModel):
    status: Literal["ok"]
    redis: Literal["reachable"]


def create_app(runtime: RuntimeSettings, city: CitySettings | None = None, routing: Routing | None = None,
               tokens: TokenTable | None = None) -> FastAPI:
    """The API. ``tokens`` default: HOTLINE_API_TOKENS_FILE's (SettingsError when it is not set or
    not valid, unless HOTLINE_API_AUTH=off)."""
    city = city or load_settings(runtime.city_file)
    access = Access(city, tokens if tokens is not None else tokens_for(runtime, city))
    routing = routing or Routing(redis_client(runtime.redis_url, decode_responses=True, socket_timeout=5))
    desk_ids = {d.id: d.agency for d in city.desks}
    app = FastAPI(title="hotline", version="0.1.0")

    def known_desk(desk_id: str) -> str:
        if desk_id not in desk_ids:
            raise HTTPException(404, f"unknown desk {desk_id!r}")
        return desk_id

    def unavailable(exc: Exception) -> HTTPException:
        return HTTPException(503, f"Redis unreachable: {exc}")

    @app.get("/health", response_model=Health,
             responses={503: {"model": Problem, "description": "Redis does not answer"}})
    def health() -> Health:
        """No token needed (load balancers, monitoring): 200 while Redis answers, else 503."""
        try:
            routing.redis.ping()
        except redis.RedisError as exc:
            log.warning("health: Redis unreachable: %s", exc)
            raise HTTPException(503, "Redis unreachable") from None
        return Health(status="ok", redis="reachable")

    @app.get("/desks", response_model=list[DeskView], responses=AUTH_RESPONSES)
    def list_desks(principal: Principal = Depends(access.reader)) -> list[DeskView]:
        """Every desk; a call-taker's token sees its agency's."""
        try:
            return [_desk_view(d, desk_ids[d], routing.desk(d)) for d in access.visible_desks(principal, desk_ids)]
        except redis.RedisError as exc:
            raise unavailable(exc) from None

    def change_desk(principal: Principal, desk_id: str, target: str, reason: str = "") -> DeskView:
        known_desk(desk_id)
        access.check_desk_change(principal, desk_id)
        log.info("desk %s → %s requested by token %s", desk_id, target, principal)
        desk = next(d for d in city.desks if d.id == desk_id)
        try:
            # Idempotent: makes the desk if Redis has lost it (or no bridge registered it yet).
            routing.register_desk(desk_id, desk.agency, cross_trained=desk.cross_trained)
            routing.set_desk_state(desk_id, target, reason=reason)
            return _desk_view(desk_id, desk_ids[desk_id], routing.desk(desk_id))
        except RoutingRefused as exc:
            raise HTTPException(409, str(exc)) from None
        except redis.RedisError as exc:
            raise unavailable(exc) from None

    @app.put("/desks/{desk_id}/state", response_model=DeskView, responses=AUTH_RESPONSES)
    def set_desk_state(desk_id: str, change: DeskStateChange, principal: Principal = Depends(access.operator)) -> DeskView:
        """ready, paused (with a reason) or offline; 409 with the reason when refused."""
        return change_desk(principal, desk_id, change.state, change.reason)

    @app.post("/desks/{desk_id}/login", response_model=DeskView, responses=AUTH_RESPONSES)
    def login(desk_id: str, principal: Principal = Depends(access.operator)) -> DeskView:
        """Start of a shift: the desk is logged in, not ready yet (paused "logged in")."""
        return change_desk(principal, desk_id, "login")

    @app.post("/desks/{desk_id}/logout", response_model=DeskView, responses=AUTH_RESPONSES)
    def logout(desk_id: str, principal: Principal = Depends(access.operator)) -> DeskView:
        return change_desk(principal, desk_id, "offline")

    @app.get("/calls/{call_id}", responses=AUTH_RESPONSES)
    def get_call(call_id: str, principal: Principal = Depends(access.reader)) -> dict[str, str]:
        """A call's record; a call-taker's token sees its agency's and the general queue's calls."""
        try:
            record = routing.call(call_id)
        except redis.RedisError as exc:
            raise unavailable(exc) from None
        if not record:
            raise HTTPException(404, f"unknown call {call_id!r}")
        access.check_call(principal, call_id, record)
        return record

    @app.get("/queues", response_model=list[QueueView], responses=AUTH_RESPONSES)
    def list_queues(principal: Principal = Depends(access.reader)) -> list[QueueView]:
        """Callers waiting, per queue; a call-taker's token sees the general queue and its agency's."""
        visible = access.queues_for(principal)
        try:
            return [QueueView(queue=q, waiting=routing.queue(q)) for q in city.queues if q in visible]
        except redis.RedisError as exc:
            raise unavailable(exc) from None

    from api.callbacks import callbacks_router  # GET /callbacks/{agency}, /numbers/{number}, …
    app.include_router(callbacks_router(city, routing, access))
    return app


def _desk_view(desk_id: str, agency: str, record: dict[str, str]) -> DeskView:
    return DeskView(desk_id=desk_id, agency=agency, state=record.get("state", "offline"),
                    call_id=record.get("call_id", ""), reason=record.get("reason", ""))

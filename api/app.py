"""HTTP API: desk states for call-takers, call records and queues for supervisors.

The HTTP layer only translates; every change is one routing operation (a Lua script), so
the API and the bridges can never disagree about a desk.
"""

from __future__ import annotations

from typing import Literal

import redis
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from hotline.redis_connect import redis_client
from hotline.settings import CitySettings, RuntimeSettings, load_settings
from queueing.errors import RoutingRefused
from queueing.routing import Routing


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


def create_app(runtime: RuntimeSettings, city: CitySettings | None = None, routing: Routing | None = None) -> FastAPI:
    city = city or load_settings(runtime.city_file)
    routing = routing or Routing(redis_client(runtime.redis_url, decode_responses=True, socket_timeout=5))
    desk_ids = {d.id: d.agency for d in city.desks}
    app = FastAPI(title="hotline", version="0.1.0")

    def known_desk(desk_id: str) -> str:
        if desk_id not in desk_ids:
            raise HTTPException(404, f"unknown desk {desk_id!r}")
        return desk_id

    def unavailable(exc: Exception) -> HTTPException:
        return HTTPException(503, f"Redis unreachable: {exc}")

    @app.get("/desks", response_model=list[DeskView])
    def list_desks() -> list[DeskView]:
        try:
            return [_desk_view(d, desk_ids[d], routing.desk(d)) for d in desk_ids]
        except redis.RedisError as exc:
            raise unavailable(exc) from None

    def change_desk(desk_id: str, target: str, reason: str = "") -> DeskView:
        known_desk(desk_id)
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

    @app.put("/desks/{desk_id}/state", response_model=DeskView)
    def set_desk_state(desk_id: str, change: DeskStateChange) -> DeskView:
        """ready, paused (with a reason) or offline; 409 with the reason when refused."""
        return change_desk(desk_id, change.state, change.reason)

    @app.post("/desks/{desk_id}/login", response_model=DeskView)
    def login(desk_id: str) -> DeskView:
        """Start of a shift: the desk is logged in, not ready yet (paused "logged in")."""
        return change_desk(desk_id, "login")

    @app.post("/desks/{desk_id}/logout", response_model=DeskView)
    def logout(desk_id: str) -> DeskView:
        return change_desk(desk_id, "offline")

    @app.get("/calls/{call_id}")
    def get_call(call_id: str) -> dict[str, str]:
        try:
            record = routing.call(call_id)
        except redis.RedisError as exc:
            raise unavailable(exc) from None
        if not record:
            raise HTTPException(404, f"unknown call {call_id!r}")
        return record

    @app.get("/queues", response_model=list[QueueView])
    def list_queues() -> list[QueueView]:
        try:
            return [QueueView(queue=q, waiting=routing.queue(q)) for q in city.queues]
        except redis.RedisError as exc:
            raise unavailable(exc) from None

    from api.callbacks import callbacks_router  # GET /callbacks/{agency}, /numbers/{number}, …
    app.include_router(callbacks_router(city, routing))
    return app


def _desk_view(desk_id: str, agency: str, record: dict[str, str]) -> DeskView:
    return DeskView(desk_id=desk_id, agency=agency, state=record.get("state", "offline"),
                    call_id=record.get("call_id", ""), reason=record.get("reason", ""))

"""The API's request and response bodies, by feature (their names are the OpenAPI spec's).

Errors have one body everywhere: :class:`api.auth.Problem` (``{"detail": "..."}``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

# --- health ---------------------------------------------------------------------------


class Health(BaseModel):
    status: Literal["ok"]
    redis: Literal["reachable"]


# --- desks ----------------------------------------------------------------------------


class DeskStateChange(BaseModel):
    state: Literal["ready", "paused", "offline"]
    reason: str = Field(default="", max_length=80, description="why the desk is paused, shown to supervisors")


class DeskView(BaseModel):
    desk_id: str
    agency: str
    state: str
    call_id: str = ""
    reason: str = ""


# --- queues ---------------------------------------------------------------------------


class QueueView(BaseModel):
    queue: str
    waiting: list[str]


# --- callbacks ------------------------------------------------------------------------


class CallbackOutcome(BaseModel):
    outcome: Literal["reached", "no_answer", "busy", "failed", "not_needed"]
    desk_id: str = Field(default="", max_length=64, description="the desk that called back")
    note: str = Field(default="", max_length=200, description="why it is not needed, for instance")


# --- numbers --------------------------------------------------------------------------


class NumberPolicy(BaseModel):
    policy: Literal["none", "lower_priority", "general_only"]
    priority_delta: int | None = Field(default=None, ge=1, le=9,
                                       description="lower_priority: added to the call's priority; "
                                                   "default [numbers] lower_priority_by")
    set_by: str = Field(min_length=1, max_length=80, description="the supervisor setting it")
    note: str = Field(default="", max_length=500)

"""The API's request and response bodies, by feature (their names are the OpenAPI spec's).

Errors have one body everywhere: :class:`api.auth.Problem` (``{"detail": "..."}``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from queueing import states

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
    since_ms: int | None = Field(default=None, description="when the desk entered this state (ms since the epoch); "
                                                          "none for a desk never logged in")


# --- the console's session -----------------------------------------------------------


class SignIn(BaseModel):
    user: str = Field(max_length=64)
    password: str = Field(max_length=1024)
    desk: str | None = Field(default=None, max_length=64,
                             description="a call-taker's desk: signing in logs it in and binds the session to it")


class SessionView(BaseModel):
    user: str
    role: str
    agency: str | None
    desk: str | None
    csrf: str = Field(description="send it as X-CSRF-Token with every request that changes something")
    idle_expiry_s: int = Field(description="the session ends after this long without a request")
    pause_reasons: list[str] = Field(description="the reasons a pause from the console may give (the city file's)")
    languages: list[str]


# --- queues ---------------------------------------------------------------------------


class QueueView(BaseModel):
    queue: str
    waiting: list[str]


# --- callbacks ------------------------------------------------------------------------


class CallbackOutcome(BaseModel):
    # What a call-taker can report by hand; the dialer reports the others itself.
    outcome: Literal[states.CallbackOutcome.REACHED, states.CallbackOutcome.NO_ANSWER, states.CallbackOutcome.BUSY,
                     states.CallbackOutcome.FAILED, states.CallbackOutcome.NOT_NEEDED]
    desk_id: str = Field(default="", max_length=64, description="the desk that called back")
    note: str = Field(default="", max_length=200, description="why it is not needed, for instance")


# --- numbers --------------------------------------------------------------------------


class NumberPolicy(BaseModel):
    policy: states.NumberPolicy
    priority_delta: int | None = Field(default=None, ge=1, le=9,
                                       description="lower_priority: added to the call's priority; "
                                                   "default [numbers] lower_priority_by")
    set_by: str = Field(min_length=1, max_length=80, description="the supervisor setting it")
    note: str = Field(default="", max_length=500)


# --- live events (GET /events: the data of its own messages; an event's data is its stream entry) ---


class EventsLive(BaseModel):
    """``event: live``, first on every connection: every event after ``after`` follows."""

    after: str = Field(description="the stream id the connection goes on from (also the message's id)")
    resumed: bool = Field(description="the request named a start (Last-Event-ID or ?after=)")


class EventsGap(BaseModel):
    """``event: gap``, before ``live``: events after ``requested`` are gone; reload the state."""

    requested: str
    first_kept: str = Field(description="the oldest event the stream still keeps; empty when it keeps none")
    resume_from: str = Field(description="the newest id at the time: the connection goes on from there")
    detail: str

"""The API's request and response bodies, by feature (their names are the OpenAPI spec's).

Errors have one body everywhere: :class:`api.auth.Problem` (``{"detail": "..."}``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

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
    wrap_up_until_ms: int | None = Field(default=None, description="in wrap-up: when it ends by itself (ms)")
    wrap_up_extended: bool = Field(default=False, description="in wrap-up: it was extended already (once only)")


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


# --- the screen pop and caller locations ------------------------------------------------


class PopSeen(BaseModel):
    """``POST /calls/{call_id}/pop-seen``: the page drew the pop of a call offered to its desk."""

    browser_ms: int | None = Field(default=None, ge=0, description="the browser's clock when it drew the pop (ms)")
    desk_id: str = Field(default="", max_length=64, description="the desk it was drawn at; default: the session's "
                                                                 "desk, else the call's")


class LocationFix(BaseModel):
    """``POST /locations``: one fix of a caller number (AML arrives in a later issue; the lab and tests add fixes)."""

    number: str = Field(max_length=32, description="the caller number: an optional + and 3-20 digits")
    lat: float = Field(ge=-90, le=90, description="latitude, WGS 84 degrees")
    lon: float = Field(ge=-180, le=180, description="longitude, WGS 84 degrees")
    radius_m: float = Field(ge=0, le=100_000, description="the uncertainty: radius in metres")
    source: states.LocationSource
    at_ms: int | None = Field(default=None, ge=0, description="when the fix was taken (ms); default now")
    method: str = Field(default="", max_length=40, description="GNSS, WiFi, Cell…")
    confidence: float | None = Field(default=None, ge=0, le=100, description="percent")


# --- actions on a call: transfer, hang up -------------------------------------------------


class TransferRequest(BaseModel):
    """``POST /calls/{call_id}/transfer``."""

    agency: str = Field(max_length=64, description="the agency to transfer the caller to (the city file's id)")
    mode: Literal["blind", "consult"] = Field(default="blind", description="blind: the caller waits at the head of "
                                                                           "the agency's queue; consult is not served yet")


class HangupRequest(BaseModel):
    """``POST /calls/{call_id}/hangup``: ending an emergency call needs a confirmation."""

    confirm: bool = Field(default=False, validate_default=True,
                          description="must be true: the console asks the call-taker first")

    @field_validator("confirm")
    @classmethod
    def confirmed(cls, value: bool) -> bool:
        if value is not True:
            raise ValueError('hanging up on a caller needs {"confirm": true} (the console asks first)')
        return value


# --- incidents (api/routers/incidents.py; the limits' clear messages are queueing.incidents') ---------


class IncidentChange(BaseModel):
    """A change of the incident form: only the fields sent change (null empties one)."""

    expected_version: int = Field(ge=0, description="the incident's version the change started from (0: none yet); "
                                                    "an older one is refused with 409 saying who changed what")
    nature: str | None = Field(default=None, max_length=200, description="one of the agency's natures in the city "
                                                                          "file, or 'other' with nature_text")
    nature_text: str | None = Field(default=None, max_length=20_000, description="the nature in words (at most 200)")
    location_text: str | None = Field(default=None, max_length=20_000, description="address or place (at most 500)")
    priority: int | None = Field(default=None, description="0 (highest) to 4 (lowest)")
    agencies: list[str] | None = Field(default=None, max_length=50, description="the agencies needed")
    disposition: str | None = Field(default=None, max_length=200, description=", ".join(states.Disposition))
    duplicate_of: str | None = Field(default=None, max_length=200, description="the call a duplicate repeats")


class IncidentNote(BaseModel):
    text: str = Field(max_length=200_000, description="the note (at most 2000 characters; markup is kept as text)")


class WrapUpChange(BaseModel):
    action: states.WrapUpAction = Field(description="end: ready now; extend: once per wrap-up, by the city file's "
                                                    "[console] wrap_up_extend_s")


# --- EIDO export and pushes to the agencies' CAD --------------------------------------------


class CadPushRequest(BaseModel):
    """``POST /calls/{call_id}/cad-push``: send the call's EIDO document (again) to agencies' CAD."""

    agencies: list[str] | None = Field(default=None, max_length=32, description=(
        "agency ids; default: the agencies the incident needs (its owner when none is ticked) that have a "
        "cad_webhook_url in the city file"))


# --- KPI reports (GET /reports/kpis; queueing/kpis.py computes them, docs/kpis.md defines them) ---------
# Times in ms; averages rounded to 0.1 ms, percentages to 0.01; null where there is nothing to measure.


class Timing(BaseModel):
    count: int
    average_ms: float | None
    p90_ms: int | None


class ServiceLevel(BaseModel):
    within_s: int
    target_percent: float
    answered_within: int = Field(description="answered calls whose answer time is at most within_s")
    percent: float | None = Field(description="% of the answered calls")
    met: bool | None


class Eu112Indicators(BaseModel):
    average_answer_ms: float | None
    answered_within_10s_percent: float | None
    slowest_10_percent_average_ms: float | None = Field(description="average of the slowest 10 % answer times")
    abandon_rate_percent: float | None
    false_call_percent: float | None = Field(description="false calls and pranks, % of the answered calls")


class KpiFigures(BaseModel):
    """One agency's figures, or every call's."""

    calls: int = Field(description="calls that arrived in the range")
    answered: int = Field(description="a desk answered (IVR answering does not count)")
    abandoned: int = Field(description="the caller hung up before any desk answered, short abandons included")
    fallback: int = Field(description="taken by Asterisk's own queue: answered or not is unknown here")
    in_progress: int
    answer_histogram: dict[str, int] = Field(description="answer time buckets in seconds, upper bound inclusive: "
                                                         "0-5, 5-10, 10-15, 15-20, 20-40, >40")
    answer_ms: dict[str, int | None] = Field(description="answer time p50, p90, p95 (nearest rank)")
    average_answer_ms: float | None
    queue_to_answer: Timing
    abandoned_by_stage: dict[str, int] = Field(description="ivr, queued, ringing")
    short_abandoned: int
    short_abandoned_by_stage: dict[str, int]
    abandon_rate_percent: float | None = Field(description="abandoned, % of the calls")
    abandon_rate_by_stage_percent: dict[str, float | None]
    abandon_rate_without_short_percent: float | None
    false_calls: int
    pranks: int
    false_call_percent: float | None = Field(description="% of the answered calls")
    prank_percent: float | None
    service_levels: list[ServiceLevel]
    eu112: Eu112Indicators
    calls_per_hour: list[int] = Field(description="calls that arrived in each hour from from_ms")


class RepeatNumberView(BaseModel):
    number: str
    calls: int


class RepeatCallers(BaseModel):
    numbers: int = Field(description="numbers with more than one call in the range")
    calls: int
    top: list[RepeatNumberView]


class CallbackFigures(BaseModel):
    tasks: int
    by_status: dict[str, int]
    by_last_outcome: dict[str, int]
    abandon_to_first_attempt: Timing = Field(description="abandoned_ms to the first attempt to call back")
    abandon_to_reached: Timing = Field(description="abandoned_ms to closed_ms, for the citizens reached")


class TransferFigures(BaseModel):
    transferred: int
    answered_at_target: int
    first_answer_to_target_answer: Timing
    requeue_to_target_answer: Timing


class KpiReportView(BaseModel):
    from_ms: int
    to_ms: int = Field(description="the range is [from_ms, to_ms), by arrival")
    short_abandon_s: int
    hours: int
    overall: KpiFigures
    agencies: dict[str, KpiFigures] = Field(description="by the queue a call was answered from; \"none\": never queued")
    repeats: RepeatCallers
    callbacks: CallbackFigures
    transfers: TransferFigures
    notes: list[str]


# --- the supervisors' wallboard (GET /board, queueing/board.py) ------------------------------


class BoardLevel(BaseModel):
    within_s: int
    target_percent: float
    answered_within: int
    percent: float | None = Field(description="% of the window's answered calls; null: none answered")
    met: bool | None
    trend: states.Trend | None = Field(description="last_15m only: against the 15 minutes before")


class BoardWindow(BaseModel):
    from_ms: int = Field(description="the window holds the calls that arrived from here to now")
    calls: int
    answered: int
    abandoned: int
    abandon_rate_percent: float | None
    short_abandoned: int = Field(description="abandons shorter than short_abandon_s; also in abandoned")
    abandoned_by_stage: dict[str, int] = Field(description="ivr, queued, ringing")
    short_abandoned_by_stage: dict[str, int]
    service_levels: list[BoardLevel]


class BoardQueue(BaseModel):
    queue: str = Field(description="general, an agency's id, or centre (every queue together)")
    in_ivr: int | None = Field(description="callers in the menu now (general only)")
    waiting: int
    oldest_waiting_arrived_ms: int | None = Field(description="the longest waiting caller's arrival; the page runs the clock")
    ringing: int
    callbacks_pending: int
    oldest_callback_abandoned_ms: int | None
    desks: dict[str, int] = Field(description="the queue's desks by state (general: every desk)")
    windows: dict[str, BoardWindow] = Field(description="last_15m, previous_15m, last_hour, shift")


class BoardDesk(BaseModel):
    desk_id: str
    agency: str
    state: states.DeskState
    reason: str = Field(description="the pause's reason")
    since_ms: int | None = Field(description="in this state since")
    call_id: str
    caller: str = Field(description="the current caller's number")


class BoardBridge(BaseModel):
    bridge_id: str
    heartbeat_ms: int
    heartbeat_age_ms: int
    alive: bool = Field(description="heard from within [queueing] bridge_heartbeat_stale_s")
    ami_up: bool
    ami_since_ms: int
    loop_lag_ms: int = Field(description="how late the bridge's event loop woke at its last heartbeat")


class BoardHealth(BaseModel):
    ami_up: bool = Field(description="a live bridge has its AMI link up")
    bridges_alive: int
    bridges: list[BoardBridge]
    newest_heartbeat_age_ms: int | None
    redis_role: str = Field(description="master (the primary) or replica")
    redis_sentinel_master: str = Field(description="the master's name when Redis is reached through Sentinel")
    redis_sentinel_primary: str
    redis_sentinels: int
    fallback_callers: int = Field(description="callers in Asterisk's own fallback queue: degraded service")
    fallback_oldest_arrived_ms: int | None
    recording_dir: str
    recording_free_bytes: int | None
    recording_total_bytes: int | None
    recording_free_percent: float | None


class BoardView(BaseModel):
    now_ms: int = Field(description="the server's clock when the board was computed")
    shift_start_ms: int
    short_abandon_s: int
    service_level_targets: list[tuple[int, float]] = Field(description="(within_s, percent) of the city file")
    queues: list[BoardQueue] = Field(description="general first, then the agencies in the city file's order")
    centre: BoardQueue = Field(description="the whole centre: every queue together, every desk")
    desks: list[BoardDesk]
    health: BoardHealth
    notes: list[str]


# --- a supervisor listening to a desk's call (POST/PUT/DELETE /desks/{desk_id}/spy) -------------


class SpyStart(BaseModel):
    mode: states.SpyMode = Field(description="listen, whisper (the desk hears the supervisor) or barge (both do)")
    supervisor_desk: str = Field(min_length=1, max_length=64,
                                 description="the supervisor's own desk phone (a desk of the city file): it rings")


class SpyModeChange(BaseModel):
    mode: states.SpyMode


class SpyView(BaseModel):
    spy_id: str = Field(description="the session (the supervisor's leg in Asterisk)")
    desk_id: str
    call_id: str
    supervisor_desk: str
    mode: states.SpyMode
    started_ms: int | None
    answered_ms: int | None = Field(description="when the supervisor's phone was answered; none while it rings")
    tell_call_taker: bool = Field(description="the call-taker's console says a supervisor is on the call")


# --- a supervisor's actions on a waiting caller (api/routers/supervisor_actions.py) -------------

class CallMove(BaseModel):
    queue: str = Field(min_length=1, max_length=64, description="the queue to wait in: an agency's id or general")
    note: str = Field(default="", max_length=200, description="why, for the audit trail")


class CallPriority(BaseModel):
    priority: int = Field(ge=0, le=99, description="0 is the highest; the caller keeps its arrival time")
    note: str = Field(default="", max_length=200, description="why, shown with the call and in the audit trail")


class DeskReason(BaseModel):
    reason: str = Field(default="", max_length=80, description="why: a supervisor forcing a desk not their own gives one")


class CallPick(BaseModel):
    desk_id: str = Field(min_length=1, max_length=64, description="a ready desk that serves the caller's queue")
    note: str = Field(default="", max_length=200, description="why, for the audit trail")


# --- supervisor alerts (GET /alerts, POST /alerts/{alert_id}/ack) --------------------------------


class AlertView(BaseModel):
    alert_id: str
    kind: states.AlertKind
    subject: str = Field(description="the queue, agency or desk; \"\" for the whole centre")
    level: states.AlertLevel
    value: int = Field(description="the figure that crossed the threshold (seconds, %, count)")
    threshold: int
    detail: str = Field(description="in English, for the audit trail; pages word it from kind and params")
    params: dict[str, str | int | float] = Field(description="the values the alert is worded with")
    raised_ms: int | None
    changed_ms: int | None = Field(description="when its level last changed")
    acked_by: str | None
    acked_ms: int | None
    cleared_ms: int | None


class AlertsView(BaseModel):
    active: list[AlertView] = Field(description="critical first, then the newest")
    history: list[AlertView] = Field(description="the newest cleared alerts, newest first")
    repeat_critical_s: int = Field(description="an unacknowledged critical alert sounds again this often")

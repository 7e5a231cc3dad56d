"""The supervisors' wallboard: a pure function (no Redis, no clock) from what Redis holds now
to the figures the page draws.

:func:`build_board` takes :class:`BoardInputs` (waiting callers, calls under way, the call
records of the shift, desks, callbacks, bridges' heartbeats, Redis and disk health) and
returns a :class:`Board`: one :class:`QueueBoard` per queue (the general queue first, then
each agency), one for the whole centre (every queue together: ``centre``), the desks, and
the health line. The windows' figures come from
:func:`queueing.kpis.figures` (the reports' definitions, docs/kpis.md), never computed again
here: a call belongs to a window when it *arrived* in it, and to the queue it was in (an IVR
abandon, which never reached a queue, counts in the general column, next to the callers in
the menu now).

The page runs the clocks itself: the board gives moments (``oldest_waiting_arrived_ms``,
``since_ms``), and ``now_ms`` to set the page's clock against the server's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from config.names import GENERAL_QUEUE
from queueing.kpis import NO_QUEUE, SERVICE_LEVEL_TARGETS, SHORT_ABANDON_S, figures
from queueing.states import CallState, DeskState, Trend

MINUTE_MS = 60_000
#: The windows of every queue's figures: name → length in ms ("shift": since the shift began).
WINDOW_15M, WINDOW_HOUR, WINDOW_SHIFT = "last_15m", "last_hour", "shift"
#: The 15 minutes before the last 15: the service level's trend is the last 15 against these.
WINDOW_PREVIOUS = "previous_15m"
#: Service levels closer than this (percentage points) are "the same": no arrow for noise.
TREND_DEAD_BAND = 0.5
#: The whole centre's column: every queue together (one caller counts once, in its own queue).
CENTRE = "centre"


def shift_start(now: datetime, starts: Sequence[str]) -> datetime:
    """When the current shift began: the latest of ``starts`` ("HH:MM", local) at or before ``now``
    (yesterday's last one before today's first)."""
    times = sorted((int(s[:2]), int(s[3:5])) for s in starts)
    today = [now.replace(hour=h, minute=m, second=0, microsecond=0) for h, m in times]
    passed = [t for t in today if t <= now]
    return passed[-1] if passed else today[-1] - timedelta(days=1)


def records_since(now_ms: int, shift_start_ms: int) -> int:
    """The earliest arrival the board needs records from: the shift's start or 60 min ago
    (the last hour; the previous 15 min lie in it), whichever is earlier."""
    return min(shift_start_ms, now_ms - 60 * MINUTE_MS)


@dataclass(frozen=True)
class DeskNow:
    """A desk as its record says (``desk:{id}``) with its call's caller number."""

    desk_id: str
    agency: str
    state: str = DeskState.OFFLINE
    reason: str = ""
    since_ms: int | None = None
    call_id: str = ""
    caller: str = ""


@dataclass(frozen=True)
class BridgeBeat:
    """A bridge's last heartbeat (``bridges``)."""

    bridge_id: str
    heartbeat_ms: int
    ami_up: bool
    ami_since_ms: int
    loop_lag_ms: int


@dataclass(frozen=True)
class RedisNow:
    role: str  # INFO replication's role: master (the primary), or replica
    sentinel_master: str = ""  # the master name when reached through Sentinel
    sentinel_primary: str = ""  # host:port the sentinels last named
    sentinels: int = 0  # sentinels the client knows


@dataclass(frozen=True)
class DiskNow:
    path: str
    free_bytes: int
    total_bytes: int


@dataclass(frozen=True)
class BoardInputs:
    now_ms: int
    shift_start_ms: int
    queues: Sequence[str]  # the general queue first, then the agencies
    waiting: Mapping[str, Sequence[int]]  # queue → waiting callers' arrival ms
    active_calls: Sequence[Mapping[str, str]]  # records of the calls not ended (state, queue, …)
    records: Sequence[Mapping[str, str]]  # records of the calls that arrived since records_since()
    desks: Sequence[DeskNow]
    callbacks: Mapping[str, Sequence[int]]  # queue → open callback tasks' abandoned-at ms
    bridges: Sequence[BridgeBeat]
    bridge_stale_ms: int
    redis: RedisNow
    disk: DiskNow | None  # None: the recording folder cannot be read from here
    service_levels: Sequence[tuple[int, float]] = SERVICE_LEVEL_TARGETS
    short_abandon_s: int = SHORT_ABANDON_S


@dataclass(frozen=True)
class LevelNow:
    """A service level of a window: the % of answered calls answered within ``within_s``."""

    within_s: int
    target_percent: float
    answered_within: int
    percent: float | None  # None: nothing answered in the window
    met: bool | None
    trend: str | None = None  # last 15 min only: against the 15 min before (states.Trend)


@dataclass(frozen=True)
class WindowFigures:
    from_ms: int
    calls: int
    answered: int
    abandoned: int
    abandon_rate_percent: float | None
    short_abandoned: int  # < short_abandon_s; still in ``abandoned``
    abandoned_by_stage: dict[str, int]
    short_abandoned_by_stage: dict[str, int]
    service_levels: list[LevelNow]


@dataclass(frozen=True)
class QueueBoard:
    queue: str
    in_ivr: int | None  # callers in the menu now (the general column only)
    waiting: int
    oldest_waiting_arrived_ms: int | None
    ringing: int  # callers of this queue being offered to a desk now
    callbacks_pending: int
    oldest_callback_abandoned_ms: int | None
    desks: dict[str, int]  # the queue's desks by state (general: every desk)
    windows: dict[str, WindowFigures]


@dataclass(frozen=True)
class BridgeHealth:
    bridge_id: str
    heartbeat_ms: int
    heartbeat_age_ms: int
    alive: bool  # heard from within [queueing] bridge_heartbeat_stale_s
    ami_up: bool
    ami_since_ms: int
    loop_lag_ms: int


@dataclass(frozen=True)
class Health:
    ami_up: bool  # some live bridge has its AMI link up
    bridges_alive: int
    bridges: list[BridgeHealth]
    newest_heartbeat_age_ms: int | None
    redis_role: str
    redis_sentinel_master: str
    redis_sentinel_primary: str
    redis_sentinels: int
    fallback_callers: int  # callers held by Asterisk's own fallback queue: degraded service
    fallback_oldest_arrived_ms: int | None
    recording_dir: str
    recording_free_bytes: int | None
    recording_total_bytes: int | None
    recording_free_percent: float | None


@dataclass(frozen=True)
class DeskBoard:
    desk_id: str
    agency: str
    state: str
    reason: str
    since_ms: int | None
    call_id: str
    caller: str


@dataclass(frozen=True)
class Board:
    now_ms: int
    shift_start_ms: int
    short_abandon_s: int
    service_level_targets: list[tuple[int, float]]
    queues: list[QueueBoard]
    centre: QueueBoard  # every queue together: the centre's own service level and abandons
    desks: list[DeskBoard]
    health: Health
    notes: list[str] = field(default_factory=list)


def trend(now: float | None, before: float | None) -> str | None:
    """better / worse / same, or None when either side has nothing answered."""
    if now is None or before is None:
        return None
    if abs(now - before) < TREND_DEAD_BAND:
        return Trend.SAME
    return Trend.BETTER if now > before else Trend.WORSE


def _int(value: str | None) -> int | None:
    return int(value) if value and value.lstrip("-").isdigit() else None


def column_of(call: Mapping[str, str]) -> str:
    """The queue column a call counts in: its queue; a call that never reached one, general."""
    queue = call.get("queue") or NO_QUEUE
    return GENERAL_QUEUE if queue == NO_QUEUE else queue


def _window(calls: Sequence[Mapping[str, str]], from_ms: int, to_ms: int, inputs: BoardInputs,
            previous: WindowFigures | None = None) -> WindowFigures:
    inside = [c for c in calls if from_ms <= (_int(c.get("arrived_ms")) or -1) < to_ms]
    f = figures(inside, from_ms=from_ms, hours=1, short_abandon_s=inputs.short_abandon_s,
                service_levels=inputs.service_levels)
    before = previous.service_levels if previous else [None] * len(f.service_levels)
    levels = [LevelNow(s.within_s, s.target_percent, s.answered_within, s.percent, s.met,
                       trend(s.percent, b.percent) if b else None) for s, b in zip(f.service_levels, before, strict=True)]
    return WindowFigures(from_ms, f.calls, f.answered, f.abandoned, f.abandon_rate_percent, f.short_abandoned,
                         f.abandoned_by_stage, f.short_abandoned_by_stage, levels)


def _windows(calls: Sequence[Mapping[str, str]], inputs: BoardInputs) -> dict[str, WindowFigures]:
    now, end = inputs.now_ms, inputs.now_ms + 1  # a call that arrived this very ms is in
    previous = _window(calls, now - 30 * MINUTE_MS, now - 15 * MINUTE_MS + 1, inputs)
    return {
        WINDOW_15M: _window(calls, now - 15 * MINUTE_MS + 1, end, inputs, previous),
        WINDOW_PREVIOUS: previous,
        WINDOW_HOUR: _window(calls, now - 60 * MINUTE_MS + 1, end, inputs),
        WINDOW_SHIFT: _window(calls, inputs.shift_start_ms, end, inputs),
    }


def _desk_counts(desks: Sequence[DeskNow]) -> dict[str, int]:
    counts = Counter(d.state for d in desks)
    return {state: counts[state] for state in DeskState}


def build_board(inputs: BoardInputs) -> Board:
    now = inputs.now_ms
    by_queue: dict[str, list[Mapping[str, str]]] = {q: [] for q in inputs.queues}
    for record in inputs.records:
        by_queue.setdefault(column_of(record), []).append(record)
    active = Counter((c.get("state", ""), column_of(c)) for c in inputs.active_calls)
    queues = []
    for queue in inputs.queues:
        waiting = inputs.waiting.get(queue, ())
        callbacks = inputs.callbacks.get(queue, ())
        general = queue == GENERAL_QUEUE
        queues.append(QueueBoard(
            queue=queue,
            in_ivr=sum(n for (state, _), n in active.items() if state == CallState.IVR) if general else None,
            waiting=len(waiting),
            oldest_waiting_arrived_ms=min(waiting, default=None),
            ringing=active[(CallState.RINGING, queue)],
            callbacks_pending=len(callbacks),
            oldest_callback_abandoned_ms=min(callbacks, default=None),
            desks=_desk_counts([d for d in inputs.desks if general or d.agency == queue]),
            windows=_windows(by_queue[queue], inputs),
        ))
    every_waiting = [a for q in inputs.queues for a in inputs.waiting.get(q, ())]
    every_callback = [a for q in inputs.queues for a in inputs.callbacks.get(q, ())]
    centre = QueueBoard(
        queue=CENTRE,
        in_ivr=sum(n for (state, _), n in active.items() if state == CallState.IVR),
        waiting=len(every_waiting),
        oldest_waiting_arrived_ms=min(every_waiting, default=None),
        ringing=sum(n for (state, _), n in active.items() if state == CallState.RINGING),
        callbacks_pending=len(every_callback),
        oldest_callback_abandoned_ms=min(every_callback, default=None),
        desks=_desk_counts(inputs.desks),
        windows=_windows(inputs.records, inputs),
    )
    fallback = [_int(c.get("arrived_ms")) for c in inputs.active_calls if c.get("state") == CallState.FALLBACK]
    bridges = [BridgeHealth(b.bridge_id, b.heartbeat_ms, max(0, now - b.heartbeat_ms),
                            now - b.heartbeat_ms <= inputs.bridge_stale_ms, b.ami_up, b.ami_since_ms, b.loop_lag_ms)
               for b in inputs.bridges]
    disk = inputs.disk
    health = Health(
        ami_up=any(b.alive and b.ami_up for b in bridges),
        bridges_alive=sum(1 for b in bridges if b.alive),
        bridges=bridges,
        newest_heartbeat_age_ms=min((b.heartbeat_age_ms for b in bridges), default=None),
        redis_role=inputs.redis.role,
        redis_sentinel_master=inputs.redis.sentinel_master,
        redis_sentinel_primary=inputs.redis.sentinel_primary,
        redis_sentinels=inputs.redis.sentinels,
        fallback_callers=len(fallback),
        fallback_oldest_arrived_ms=min((a for a in fallback if a is not None), default=None),
        recording_dir=disk.path if disk else "",
        recording_free_bytes=disk.free_bytes if disk else None,
        recording_total_bytes=disk.total_bytes if disk else None,
        recording_free_percent=round(100 * disk.free_bytes / disk.total_bytes, 1) if disk and disk.total_bytes else None,
    )
    desks = [DeskBoard(d.desk_id, d.agency, d.state, d.reason, d.since_ms, d.call_id, d.caller) for d in inputs.desks]
    return Board(now_ms=now, shift_start_ms=inputs.shift_start_ms, short_abandon_s=inputs.short_abandon_s,
                 service_level_targets=[(s, p) for s, p in inputs.service_levels], queues=queues, centre=centre,
                 desks=desks,
                 health=health)

"""Supervisor alerts: which ones should be on now, from facts read out of Redis (a pure function).

:func:`evaluate` takes :class:`Facts` (what the queues, desks, recent calls and recordings say at one
moment) and the city's ``[supervision.alerts]`` thresholds, and returns the alerts that should be
active, each at its level. It decides nothing about the past: the Lua script ``alerts_apply``
compares the result with the alerts already on (raises, changes level, clears) and
``queueing.alert_store`` reads the facts. An alert's ``key`` (kind and subject) is what makes it
"the same alert" from one evaluation to the next.

Each alert carries ``params``: the values the page words it with in its own language
(``api/static/alerts.js``), and ``detail``, the same in English for the audit trail and the CLI.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from config.settings import AlertAbove, AlertBelow, AlertSettings
from queueing.kpis import agency_of, figures
from queueing.states import AlertKind, AlertLevel, DeskState

#: Service level and abandons are counted over the calls that arrived in this window.
WINDOW_MS = 15 * 60_000
#: The fields of a call record :func:`evaluate` reads (``queueing.kpis.figures``' own).
CALL_FIELDS = ("call_id", "queue", "state", "arrived_ms", "queued_ms", "answered_ms", "first_answered_ms",
               "ended_ms", "outcome", "abandon_stage", "disposition")


@dataclass(frozen=True)
class DeskFact:
    desk_id: str
    agency: str
    state: str
    since_ms: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class ShortageFact:
    shortages: int = 0
    callers_refused: int = 0
    desks_unrung: int = 0


@dataclass(frozen=True)
class Facts:
    """What Redis said at ``now_ms``."""

    now_ms: int
    agencies: Sequence[str]                      # every agency of the city
    waits: Mapping[str, Sequence[int]]           # queue (the general one too) → arrival ms of each waiting caller
    desks: Sequence[DeskFact] = ()
    recent_calls: Sequence[Mapping[str, str]] = ()  # records of the calls that arrived in the last WINDOW_MS
    fallback_callers: int = 0                    # calls held by Asterisk's fallback queue now
    broken_recordings: Sequence[str] = ()        # call ids whose recording was checked broken or missing lately
    # resource (queueing.states.Resource) → what Asterisk refused for lack of it within
    # [supervision.alerts] resource_shortage_window_min (telephony/resource_watch.py records it)
    shortages: Mapping[str, ShortageFact] = field(default_factory=dict)


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    level: AlertLevel
    subject: str = ""     # the queue, agency or desk; "" for the whole centre
    value: int = 0        # the figure that crossed the threshold (seconds, %, count)
    threshold: int = 0    # the level's threshold it crossed
    detail: str = ""      # in English, for the audit trail
    params: Mapping[str, str | int | float] = field(default_factory=dict)  # what the page words it with

    @property
    def key(self) -> str:
        """The same alert across evaluations: its kind, and its subject when it has one."""
        return f"{self.kind}:{self.subject}" if self.subject else str(self.kind)


def _above(value: int, levels: AlertAbove) -> tuple[AlertLevel, int] | None:
    if levels.critical is not None and value >= levels.critical:
        return AlertLevel.CRITICAL, levels.critical
    if levels.warning is not None and value >= levels.warning:
        return AlertLevel.WARNING, levels.warning
    return None


def _below(value: float, levels: AlertBelow) -> tuple[AlertLevel, float] | None:
    if levels.critical is not None and value < levels.critical:
        return AlertLevel.CRITICAL, levels.critical
    if levels.warning is not None and value < levels.warning:
        return AlertLevel.WARNING, levels.warning
    return None


def _clock(seconds: int) -> str:
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def evaluate(facts: Facts, settings: AlertSettings, service_level_within_s: int) -> list[Alert]:
    """The alerts that should be on, critical first, then by kind and subject."""
    now = facts.now_ms
    alerts: list[Alert] = []

    for queue, arrivals in facts.waits.items():
        if not arrivals:
            continue
        waited = max(0, now - min(arrivals)) // 1000
        if hit := _above(waited, settings.longest_wait_s):
            alerts.append(Alert(AlertKind.LONGEST_WAIT, hit[0], queue, waited, hit[1],
                                f"{queue}: a caller has waited {_clock(waited)} (alert at {hit[1]} s)",
                                {"queue": queue, "seconds": waited, "waiting": len(arrivals)}))

    recent = [c for c in facts.recent_calls if int(c.get("arrived_ms") or 0) >= now - WINDOW_MS]
    by_queue: dict[str, list[Mapping[str, str]]] = {}
    for call in recent:
        by_queue.setdefault(agency_of(call), []).append(call)
    for queue in facts.waits:
        shown = figures(by_queue.get(queue, []), from_ms=now - WINDOW_MS, hours=1,
                        service_levels=((service_level_within_s, 0.0),))
        percent = shown.service_levels[0].percent
        if percent is None or shown.answered < settings.service_level_min_calls:
            continue
        if hit_sl := _below(percent, settings.service_level_percent):
            alerts.append(Alert(AlertKind.SERVICE_LEVEL, hit_sl[0], queue, round(percent), round(hit_sl[1]),
                                f"{queue}: {_number(percent)} % of {shown.answered} calls answered within "
                                f"{service_level_within_s} s in the last 15 min (alert below {_number(hit_sl[1])} %)",
                                {"queue": queue, "percent": _number(percent), "within_s": service_level_within_s,
                                 "answered": shown.answered}))

    if settings.no_desk_level != "off":
        logged_in = {d.agency for d in facts.desks if d.state and d.state != DeskState.OFFLINE}
        for agency in facts.agencies:
            if agency not in logged_in:
                alerts.append(Alert(AlertKind.NO_DESK, AlertLevel(settings.no_desk_level), agency,
                                    detail=f"no {agency} desk logged in", params={"agency": agency}))

    abandons = figures(recent, from_ms=now - WINDOW_MS, hours=1).abandoned
    if hit := _above(abandons, settings.abandons_15min):
        alerts.append(Alert(AlertKind.ABANDON_SPIKE, hit[0], "", abandons, hit[1],
                            f"{abandons} callers hung up before an answer in the last 15 min (alert at {hit[1]})",
                            {"count": abandons}))

    if hit := _above(facts.fallback_callers, settings.fallback_callers):
        alerts.append(Alert(AlertKind.FALLBACK_CALLERS, hit[0], "", facts.fallback_callers, hit[1],
                            f"{facts.fallback_callers} callers in Asterisk's fallback queue: service is degraded",
                            {"count": facts.fallback_callers}))

    broken = len(facts.broken_recordings)
    if hit := _above(broken, settings.broken_recordings):
        newest = facts.broken_recordings[-1]
        alerts.append(Alert(AlertKind.BROKEN_RECORDING, hit[0], "", broken, hit[1],
                            f"{broken} recordings broken or missing in the last {settings.broken_recording_window_h} h "
                            f"(newest: call {newest})",
                            {"count": broken, "hours": settings.broken_recording_window_h, "call_id": newest}))

    for resource, shortage in sorted(facts.shortages.items()):
        if hit := _above(shortage.shortages, settings.resource_shortages):
            minutes = settings.resource_shortage_window_min
            alerts.append(Alert(AlertKind.RESOURCE_SHORTAGE, hit[0], resource, shortage.shortages, hit[1],
                                f"Asterisk ran out of {resource} {shortage.shortages} times in the last {minutes} min: "
                                f"{shortage.callers_refused} callers refused, {shortage.desks_unrung} desks not rung",
                                {"resource": resource, "count": shortage.shortages, "minutes": minutes,
                                 "callers": shortage.callers_refused, "desks": shortage.desks_unrung}))

    for desk in facts.desks:
        if desk.state != DeskState.PAUSED or desk.since_ms is None:
            continue
        paused = max(0, now - desk.since_ms) // 1000
        if hit := _above(paused, settings.desk_paused_s):
            alerts.append(Alert(AlertKind.DESK_PAUSED, hit[0], desk.desk_id, paused, hit[1],
                                f"{desk.desk_id} paused ({desk.reason or 'no reason'}) for {_clock(paused)}",
                                {"desk": desk.desk_id, "reason": desk.reason, "seconds": paused}))

    kinds = list(AlertKind)
    return sorted(alerts, key=lambda a: (a.level != AlertLevel.CRITICAL, kinds.index(a.kind), a.subject))

"""The supervisors' KPI report: answer times, abandons, false calls, repeats, callbacks, transfers.

A pure function (no Redis, no clock): :func:`kpi_report` takes call records (``call:{id}``
hashes, every value a string, as Redis holds them), the callback tasks of those calls
(``callback:{id}``) and the transfer records of the transferred ones (``transfer:{id}``), and
returns a :class:`KpiReport`. docs/kpis.md says what every figure means and which fields it
comes from; the definitions follow NENA (NENA-STA-020, 9-1-1 call processing) and the EU's
112 indicators (COCOM's yearly 112 implementation report).

* **answered**: a call-taker's desk and the caller were bridged: ``first_answered_ms`` (or, on
  records older than that field, ``answered_ms``) is set. The IVR answering is not an answer.
* **answer time**: arrival at Asterisk (``arrived_ms``) to that first bridge, IVR time included.
* **abandoned**: the caller hung up before any desk answered (``outcome`` abandoned and not
  answered), by ``abandon_stage`` (ivr, queued, ringing). An abandon shorter than
  ``short_abandon_s`` (arrival to hang-up) is a *short abandon*: counted separately, and still
  in every abandon count.

A call belongs to the range when it *arrived* in ``[from_ms, to_ms)``; it belongs to the
agency whose queue it was answered from (for a transferred call: the queue it was in before the
transfer, ``transfer:{id}``'s ``own_queue``), else its queue; a call that never left the IVR
has no queue (:data:`NO_QUEUE`).

Times are milliseconds; averages are rounded to 0.1 ms, percentages to 0.01. Percentiles are
nearest-rank (the smallest time that at least p % of the calls do not exceed).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from config.settings import NENA_SERVICE_LEVELS
from queueing.states import AbandonStage, CallbackStatus, CallOutcome, Disposition

#: Answer-time histogram: upper bounds in seconds (inclusive); the last bucket is "> 40".
ANSWER_BUCKETS_S = (5, 10, 15, 20, 40)
BUCKET_LABELS = ("0-5", "5-10", "10-15", "15-20", "20-40", ">40")
#: Service-level targets (seconds, % of answered calls) of NENA-STA-020: used when the city file
#: sets none ([supervision] service_levels).
SERVICE_LEVEL_TARGETS: tuple[tuple[int, float], ...] = NENA_SERVICE_LEVELS
#: EU 112 indicator: % of calls answered within this many seconds.
EU_FAST_ANSWER_S = 10
#: EU 112 indicator: the average of this share of the answer times, the slowest ones.
EU_SLOWEST_SHARE = 0.10
#: An abandon shorter than this (arrival to hang-up) is a short abandon.
SHORT_ABANDON_S = 5
#: How many repeat numbers the report lists.
REPEAT_TOP = 10
#: The agency of a call that never reached a queue (an IVR abandon).
NO_QUEUE = "none"
ABANDON_STAGES: tuple[str, ...] = tuple(AbandonStage)
PERCENTILES = (50, 90, 95)
HOUR_MS = 3_600_000


def _ms(record: Mapping[str, str], name: str) -> int | None:
    value = record.get(name, "")
    return int(value) if value and value.lstrip("-").isdigit() else None


def percentile(values: Sequence[int], p: float) -> int | None:
    """Nearest rank: the smallest value that at least ``p`` % of ``values`` do not exceed."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def _average(values: Sequence[int]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 2) if whole else None


def answered_at(call: Mapping[str, str]) -> int | None:
    """When a desk first answered the call (None: never)."""
    first = _ms(call, "first_answered_ms")
    return first if first is not None else _ms(call, "answered_ms")


def answer_time(call: Mapping[str, str]) -> int | None:
    """Arrival to the first desk's answer, in ms (None: not answered)."""
    answered, arrived = answered_at(call), _ms(call, "arrived_ms")
    return None if answered is None or arrived is None else answered - arrived


def is_abandoned(call: Mapping[str, str]) -> bool:
    return answered_at(call) is None and call.get("outcome") == CallOutcome.ABANDONED


def abandon_stage(call: Mapping[str, str]) -> str:
    stage = call.get("abandon_stage", "")
    if stage in ABANDON_STAGES:
        return stage
    if call.get("offered_ms"):
        return AbandonStage.RINGING.value
    return AbandonStage.QUEUED.value if call.get("queued_ms") else AbandonStage.IVR.value


@dataclass(frozen=True)
class Timing:
    """A set of durations (ms): how many, average, p90."""

    count: int
    average_ms: float | None
    p90_ms: int | None

    @classmethod
    def of(cls, values: Sequence[int]) -> Timing:
        return cls(len(values), _average(values), percentile(values, 90))


@dataclass(frozen=True)
class ServiceLevel:
    within_s: int
    target_percent: float
    answered_within: int
    percent: float | None
    met: bool | None


@dataclass(frozen=True)
class Eu112:
    """The EU 112 indicators."""

    average_answer_ms: float | None
    answered_within_10s_percent: float | None
    slowest_10_percent_average_ms: float | None
    abandon_rate_percent: float | None
    false_call_percent: float | None


@dataclass(frozen=True)
class Figures:
    """The figures of one agency, or of every call."""

    calls: int
    answered: int
    abandoned: int
    fallback: int  # Asterisk's static queue took the caller: whether someone answered is not ours to know
    in_progress: int  # not ended yet when the report was read
    answer_histogram: dict[str, int]
    answer_ms: dict[str, int | None]  # p50, p90, p95
    average_answer_ms: float | None
    queue_to_answer: Timing
    abandoned_by_stage: dict[str, int]
    short_abandoned: int
    short_abandoned_by_stage: dict[str, int]
    abandon_rate_percent: float | None
    abandon_rate_by_stage_percent: dict[str, float | None]
    abandon_rate_without_short_percent: float | None
    false_calls: int
    pranks: int
    false_call_percent: float | None
    prank_percent: float | None
    service_levels: list[ServiceLevel]
    eu112: Eu112
    calls_per_hour: list[int]


@dataclass(frozen=True)
class RepeatNumber:
    number: str
    calls: int


@dataclass(frozen=True)
class Repeats:
    numbers: int  # numbers with more than one call in the range
    calls: int  # the calls of those numbers
    top: list[RepeatNumber]


@dataclass(frozen=True)
class CallbackFigures:
    tasks: int
    by_status: dict[str, int]
    by_last_outcome: dict[str, int]
    abandon_to_first_attempt: Timing  # abandoned_ms -> first_attempt_ms (tasks attempted at least once)
    abandon_to_reached: Timing  # abandoned_ms -> closed_ms of the tasks reached


@dataclass(frozen=True)
class TransferFigures:
    transferred: int
    answered_at_target: int
    first_answer_to_target_answer: Timing  # first_answered_ms -> answered_ms
    requeue_to_target_answer: Timing  # transferred_ms -> answered_ms


@dataclass(frozen=True)
class KpiReport:
    from_ms: int
    to_ms: int
    short_abandon_s: int
    hours: int
    overall: Figures
    agencies: dict[str, Figures]
    repeats: Repeats
    callbacks: CallbackFigures
    transfers: TransferFigures
    notes: list[str] = field(default_factory=list)


def agency_of(call: Mapping[str, str], transfer: Mapping[str, str] | None = None) -> str:
    """The queue the call was answered from (before any transfer), else its queue, else :data:`NO_QUEUE`."""
    if transfer and call.get("transferred_from") and transfer.get("own_queue"):
        return transfer["own_queue"]
    return call.get("queue") or NO_QUEUE


def _histogram(times: Iterable[int]) -> dict[str, int]:
    counts = dict.fromkeys(BUCKET_LABELS, 0)
    for t in times:
        index = next((i for i, bound in enumerate(ANSWER_BUCKETS_S) if t <= bound * 1000), len(ANSWER_BUCKETS_S))
        counts[BUCKET_LABELS[index]] += 1
    return counts


def figures(calls: Sequence[Mapping[str, str]], *, from_ms: int, hours: int, short_abandon_s: int = SHORT_ABANDON_S,
            service_levels: Sequence[tuple[int, float]] = SERVICE_LEVEL_TARGETS) -> Figures:
    """The figures of these calls (all of one agency, or every call of the range)."""
    answered = [c for c in calls if answered_at(c) is not None]
    times = [t for c in answered if (t := answer_time(c)) is not None]
    abandoned = [c for c in calls if is_abandoned(c)]
    short = [c for c in abandoned if (_ms(c, "ended_ms") or 0) - (_ms(c, "arrived_ms") or 0) < short_abandon_s * 1000]
    fallback = sum(1 for c in calls if answered_at(c) is None and c.get("outcome") == CallOutcome.FALLBACK)
    in_progress = sum(1 for c in calls if answered_at(c) is None and c.get("outcome") not in set(CallOutcome))
    queue_waits = [a - q for c in answered if (a := answered_at(c)) is not None and (q := _ms(c, "queued_ms")) is not None]
    by_stage = Counter(abandon_stage(c) for c in abandoned)
    short_by_stage = Counter(abandon_stage(c) for c in short)
    false_calls = sum(1 for c in answered if c.get("disposition") == Disposition.FALSE_CALL)
    pranks = sum(1 for c in answered if c.get("disposition") == Disposition.PRANK)
    per_hour = [0] * hours
    for c in calls:
        arrived = _ms(c, "arrived_ms")
        if arrived is not None and 0 <= (arrived - from_ms) // HOUR_MS < hours:
            per_hour[(arrived - from_ms) // HOUR_MS] += 1
    levels = []
    for within_s, target in service_levels:
        within = sum(1 for t in times if t <= within_s * 1000)
        percent = _percent(within, len(answered))
        levels.append(ServiceLevel(within_s, target, within, percent, None if percent is None else percent >= target))
    slowest = sorted(times, reverse=True)[:math.ceil(EU_SLOWEST_SHARE * len(times))]
    abandon_rate = _percent(len(abandoned), len(calls))
    false_percent = _percent(false_calls + pranks, len(answered))
    return Figures(
        calls=len(calls), answered=len(answered), abandoned=len(abandoned), fallback=fallback, in_progress=in_progress,
        answer_histogram=_histogram(times),
        answer_ms={f"p{p}": percentile(times, p) for p in PERCENTILES},
        average_answer_ms=_average(times),
        queue_to_answer=Timing.of(queue_waits),
        abandoned_by_stage={s: by_stage[s] for s in ABANDON_STAGES},
        short_abandoned=len(short),
        short_abandoned_by_stage={s: short_by_stage[s] for s in ABANDON_STAGES},
        abandon_rate_percent=abandon_rate,
        abandon_rate_by_stage_percent={s: _percent(by_stage[s], len(calls)) for s in ABANDON_STAGES},
        abandon_rate_without_short_percent=_percent(len(abandoned) - len(short), len(calls)),
        false_calls=false_calls, pranks=pranks,
        false_call_percent=_percent(false_calls, len(answered)), prank_percent=_percent(pranks, len(answered)),
        service_levels=levels,
        eu112=Eu112(
            average_answer_ms=_average(times),
            answered_within_10s_percent=_percent(sum(1 for t in times if t <= EU_FAST_ANSWER_S * 1000), len(answered)),
            slowest_10_percent_average_ms=_average(slowest),
            abandon_rate_percent=abandon_rate,
            false_call_percent=false_percent,
        ),
        calls_per_hour=per_hour,
    )


def repeats(calls: Sequence[Mapping[str, str]], top: int = REPEAT_TOP) -> Repeats:
    """Numbers (withheld ones aside) with more than one call in the range; the top by calls, then number."""
    counts = Counter(c.get("caller", "") for c in calls if c.get("caller"))
    repeated = {number: n for number, n in counts.items() if n > 1}
    ordered = sorted(repeated.items(), key=lambda item: (-item[1], item[0]))[:top]
    return Repeats(len(repeated), sum(repeated.values()), [RepeatNumber(number, n) for number, n in ordered])


def callback_figures(tasks: Sequence[Mapping[str, str]]) -> CallbackFigures:
    reached = [closed - abandoned for t in tasks if t.get("status") == CallbackStatus.REACHED
               and (closed := _ms(t, "closed_ms")) is not None and (abandoned := _ms(t, "abandoned_ms")) is not None]
    first = [attempt - abandoned for t in tasks
             if (attempt := _ms(t, "first_attempt_ms")) is not None and (abandoned := _ms(t, "abandoned_ms")) is not None]
    return CallbackFigures(
        tasks=len(tasks),
        by_status=dict(sorted(Counter(t.get("status", "") for t in tasks).items())),
        by_last_outcome=dict(sorted(Counter(t.get("last_outcome") or "none" for t in tasks).items())),
        abandon_to_first_attempt=Timing.of(first),
        abandon_to_reached=Timing.of(reached),
    )


def transfer_figures(calls: Sequence[Mapping[str, str]]) -> TransferFigures:
    transferred = [c for c in calls if c.get("transferred_from")]
    at_target = [c for c in transferred if (a := _ms(c, "answered_ms")) is not None and (f := answered_at(c)) is not None
                 and a > f]
    first_to_target = [int(c["answered_ms"]) - (answered_at(c) or 0) for c in at_target]
    requeue_to_target = [int(c["answered_ms"]) - t for c in at_target if (t := _ms(c, "transferred_ms")) is not None]
    return TransferFigures(len(transferred), len(at_target), Timing.of(first_to_target), Timing.of(requeue_to_target))


def kpi_report(calls: Iterable[Mapping[str, str]], *, from_ms: int, to_ms: int,
               callbacks: Iterable[Mapping[str, str]] = (), transfers: Mapping[str, Mapping[str, str]] | None = None,
               short_abandon_s: int = SHORT_ABANDON_S,
               service_levels: Sequence[tuple[int, float]] | None = None) -> KpiReport:
    """The report of the calls that arrived in ``[from_ms, to_ms)`` (others are left out);
    ``callbacks``: the callback tasks (those of calls outside the range are left out);
    ``transfers``: call id → transfer record, for the transferred calls' agency;
    ``service_levels``: the city file's targets (None: it sets none, NENA-STA-020's apply)."""
    if to_ms <= from_ms:
        raise ValueError(f"to_ms ({to_ms}) must be after from_ms ({from_ms})")
    transfers = transfers or {}
    in_range = sorted((c for c in calls if from_ms <= (_ms(c, "arrived_ms") or -1) < to_ms),
                      key=lambda c: (_ms(c, "arrived_ms") or 0, c.get("call_id", "")))
    ids = {c.get("call_id", "") for c in in_range}
    hours = math.ceil((to_ms - from_ms) / HOUR_MS)
    by_agency: dict[str, list[Mapping[str, str]]] = {}
    for c in in_range:
        by_agency.setdefault(agency_of(c, transfers.get(c.get("call_id", ""))), []).append(c)

    targets = SERVICE_LEVEL_TARGETS if service_levels is None else tuple(service_levels)

    def of(group: Sequence[Mapping[str, str]]) -> Figures:
        return figures(group, from_ms=from_ms, hours=hours, short_abandon_s=short_abandon_s, service_levels=targets)

    return KpiReport(
        from_ms=from_ms, to_ms=to_ms, short_abandon_s=short_abandon_s, hours=hours,
        overall=of(in_range),
        agencies={agency: of(group) for agency, group in sorted(by_agency.items())},
        repeats=repeats(in_range),
        callbacks=callback_figures([t for t in callbacks if t.get("call_id") in ids]),
        transfers=transfer_figures(in_range),
        notes=["service-level targets: NENA-STA-020 (90 % within 15 s, 95 % within 20 s); the city file sets none"
               if service_levels is None else "service-level targets: the city file's ("
               + ", ".join(f"{percent:g} % within {within_s} s" for within_s, percent in targets) + ")"],
    )

"""The supervisors' reports: the KPI report of a range (queueing/kpis.py) and its calls as CSV.

A range is ``[from_ms, to_ms)`` by arrival; its calls are read from the ``calls`` index (a
zset scored by arrival, written by ``call_arrive``), never by scanning keys, in pipelined
batches. The callback task of every abandoned call and the transfer record of every
transferred one go with them.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from api.errors import InvalidInput
from api.report_plots import PLOTS, png
from config.settings import SupervisionSettings
from queueing.kpis import SHORT_ABANDON_S, KpiReport, kpi_report
from queueing.routing import Routing, _fields, _text
from queueing.states import CallOutcome

DAY_MS = 86_400_000
#: The longest range a report reads (a quarter and a day).
MAX_RANGE_DAYS = 92
#: Call records read per pipeline.
BATCH = 500
#: The CSV's columns: the raw fields every figure is computed from (docs/kpis.md).
CSV_COLUMNS = ("call_id", "caller", "arrived_ms", "queued_ms", "offered_ms", "first_answered_ms", "answered_ms",
               "ended_ms", "queue", "desk", "state", "outcome", "abandon_stage", "disposition", "transferred_from",
               "transferred_ms", "repeat_count")


def local_midnight_ms(now_ms: int, days_later: int = 0) -> int:
    """The server's local midnight that starts the day of ``now_ms`` (plus ``days_later`` days)."""
    day = time.localtime(now_ms / 1000)
    return int(time.mktime((day.tm_year, day.tm_mon, day.tm_mday + days_later, 0, 0, 0, 0, 0, -1))) * 1000


class ReportService:
    def __init__(self, routing: Routing, supervision: SupervisionSettings | None = None) -> None:
        self.routing = routing
        self.short_abandon_s = supervision.short_abandon_s if supervision else SHORT_ABANDON_S
        # None: the city file sets no targets (the report says NENA-STA-020's apply)
        self.service_levels = supervision.targets if supervision and supervision.service_levels is not None else None

    def range(self, from_ms: int | None, to_ms: int | None) -> tuple[int, int]:
        """The range asked for; by default today, from local midnight to the next. InvalidInput (422) when
        it ends before it starts or is longer than :data:`MAX_RANGE_DAYS`."""
        if from_ms is None and to_ms is None:
            now = self.routing.clock()
            start, end = local_midnight_ms(now), local_midnight_ms(now, 1)
        elif to_ms is None:
            start = from_ms or 0
            end = start + DAY_MS
        elif from_ms is None:
            end = to_ms
            start = max(0, end - DAY_MS)
        else:
            start, end = from_ms, to_ms
        if end <= start:
            raise InvalidInput(f"to_ms ({end}) must be after from_ms ({start}): the range is [from_ms, to_ms)")
        if end - start > MAX_RANGE_DAYS * DAY_MS:
            raise InvalidInput(f"the range from_ms={start} to_ms={end} is {(end - start) / DAY_MS:.1f} days: at most "
                               f"{MAX_RANGE_DAYS} days per report; ask for shorter ranges")
        return start, end

    def call_ids(self, from_ms: int, to_ms: int) -> list[str]:
        """Ids of the calls that arrived in ``[from_ms, to_ms)``, by arrival."""
        return [_text(c) for c in self.routing.redis.zrangebyscore(self.routing.keys.calls(), from_ms, f"({to_ms}")]

    def _hashes(self, keys: list[str]) -> Iterator[dict[str, str]]:
        for start in range(0, len(keys), BATCH):
            pipeline = self.routing.redis.pipeline(transaction=False)
            for key in keys[start:start + BATCH]:
                pipeline.hgetall(key)
            yield from (_fields(reply) for reply in pipeline.execute())

    def records(self, call_ids: list[str]) -> Iterator[dict[str, str]]:
        """The call records (a call whose record expired is skipped)."""
        keys = self.routing.keys
        yield from (r for r in self._hashes([keys.call(c) for c in call_ids]) if r)

    def kpis(self, from_ms: int, to_ms: int) -> dict[str, Any]:
        """The KPI report of the range, as JSON-ready data."""
        return asdict(self.report(from_ms, to_ms))

    def plot(self, name: str, from_ms: int, to_ms: int, lang: str) -> bytes:
        """One plot of the range's report as PNG (api/report_plots.py)."""
        return png(PLOTS[name](self.report(from_ms, to_ms), lang))

    def report(self, from_ms: int, to_ms: int) -> KpiReport:
        """The KPI report of the range."""
        keys = self.routing.keys
        calls = list(self.records(self.call_ids(from_ms, to_ms)))
        abandoned = [c["call_id"] for c in calls if c.get("outcome") == CallOutcome.ABANDONED]
        callbacks = [t for t in self._hashes([keys.callback(c) for c in abandoned]) if t]
        transferred = [c["call_id"] for c in calls if c.get("transferred_from")]
        transfers = {c: t for c, t in zip(transferred, self._hashes([keys.transfer(c) for c in transferred]), strict=True)
                     if t}
        report = kpi_report(calls, from_ms=from_ms, to_ms=to_ms, callbacks=callbacks, transfers=transfers,
                            short_abandon_s=self.short_abandon_s, service_levels=self.service_levels)
        return report

    def csv_lines(self, call_ids: list[str]) -> Iterator[str]:
        """The header, then one line per call (its raw fields, CSV_COLUMNS), by arrival."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for record in self.records(call_ids):
            writer.writerow([_csv_safe(record.get(column, "")) for column in CSV_COLUMNS])
            if out.tell() > 64_000:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()


def _csv_safe(value: str) -> str:
    """A value a spreadsheet will not run as a formula (a caller number may start with +)."""
    return "'" + value if value[:1] in ("=", "@") or (value[:1] in ("+", "-") and not value[1:].isdigit()) else value

"""Supervisor alerts in Redis: the facts :func:`queueing.alerts.evaluate` needs, read in a few
round trips, and the two scripts that change alerts (``alerts_apply``, ``alert_ack``).

One evaluation step is :meth:`AlertStore.evaluate`: read the facts, decide, apply. It is what the
API's loop runs every few seconds (``api/services/alerts.py``) and what tests call directly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from config.settings import CitySettings
from queueing.alerts import CALL_FIELDS, WINDOW_MS, Alert, DeskFact, Facts, ShortageFact, evaluate
from queueing.keys import PRIORITY_FACTOR
from queueing.routing import Routing, _fields, _text, _texts
from queueing.states import CallState, RecordingStatus

HOUR_MS = 3_600_000
#: The fields of an alert record (``alert:{alert_id}``) shown to people.
ALERT_FIELDS = ("alert_id", "key", "kind", "subject", "level", "value", "threshold", "detail", "params",
                "raised_ms", "changed_ms", "acked_by", "acked_ms", "cleared_ms")


def _int(value: str) -> int | None:
    return int(value) if value and value.lstrip("-").isdigit() else None


def _shortages(batches: Sequence[str]) -> dict[str, ShortageFact]:
    """``resources:recent`` entries (JSON, one per recorded batch) summed per resource."""
    sums: dict[str, list[int]] = {}
    for batch in batches:
        entry = json.loads(batch)
        total = sums.setdefault(str(entry["resource"]), [0, 0, 0])
        for i, name in enumerate(("shortages", "callers_refused", "desks_unrung")):
            total[i] += int(entry.get(name) or 0)
    return {resource: ShortageFact(*total) for resource, total in sums.items()}


class AlertStore(Routing):
    """The alerts' reader and scripts over a synchronous ``redis.Redis``."""

    # -- the facts ---------------------------------------------------------------------------

    def facts(self, city: CitySettings, now_ms: int) -> Facts:
        keys, r = self.keys, self.redis
        broken_window_ms = city.supervision.alerts.broken_recording_window_h * HOUR_MS
        pipeline = r.pipeline(transaction=False)
        for queue in city.queues:
            pipeline.zrange(keys.queue(queue), 0, -1, withscores=True)
        pipeline.smembers(keys.desks())
        pipeline.smembers(keys.calls_active())
        pipeline.zrangebyscore(keys.calls(), now_ms - WINDOW_MS, "+inf")
        pipeline.zrangebyscore(keys.recordings(), now_ms - broken_window_ms - HOUR_MS, "+inf")
        shortage_window_ms = city.supervision.alerts.resource_shortage_window_min * 60_000
        pipeline.zrangebyscore(keys.resource_recent(), now_ms - shortage_window_ms, "+inf")
        *waiting, desk_ids, active, recent_ids, recorded, shortage_batches = pipeline.execute()
        waits = {queue: [int(score) % PRIORITY_FACTOR for _, score in entries]
                 for queue, entries in zip(city.queues, waiting, strict=True)}

        desk_ids, active, recent_ids, recorded = (sorted(_texts(x)) if isinstance(x, set) else _texts(x)
                                                  for x in (desk_ids, active, recent_ids, recorded))
        pipeline = r.pipeline(transaction=False)
        for desk_id in desk_ids:
            pipeline.hmget(keys.desk(desk_id), ["agency", "state", "since_ms", "reason"])
        for call_id in active:
            pipeline.hget(keys.call(call_id), "state")
        for call_id in recent_ids:
            pipeline.hmget(keys.call(call_id), list(CALL_FIELDS))
        for call_id in recorded:
            pipeline.hmget(keys.call(call_id), ["recording", "recording_checked_ms"])
        replies = pipeline.execute()
        desk_rows = replies[:len(desk_ids)]
        states = replies[len(desk_ids):len(desk_ids) + len(active)]
        call_rows = replies[len(desk_ids) + len(active):len(desk_ids) + len(active) + len(recent_ids)]
        recording_rows = replies[len(desk_ids) + len(active) + len(recent_ids):]

        desks = [DeskFact(desk_id, _text(row[0] or ""), _text(row[1] or ""), _int(_text(row[2] or "")),
                          _text(row[3] or ""))
                 for desk_id, row in zip(desk_ids, desk_rows, strict=True)]
        recent = [{f: _text(v) if v is not None else "" for f, v in zip(CALL_FIELDS, row, strict=True)}
                  for row in call_rows]
        broken = [call_id for call_id, (status, checked) in zip(recorded, recording_rows, strict=True)
                  if _text(status or "") in (RecordingStatus.BROKEN, RecordingStatus.MISSING)
                  and (_int(_text(checked or "")) or 0) >= now_ms - broken_window_ms]
        return Facts(
            now_ms=now_ms,
            agencies=[a.id for a in city.agencies],
            waits=waits,
            desks=desks,
            recent_calls=recent,
            fallback_callers=sum(1 for s in states if s is not None and _text(s) == CallState.FALLBACK),
            broken_recordings=broken,
            shortages=_shortages(_texts(shortage_batches)),
        )

    # -- the scripts -------------------------------------------------------------------------

    def apply(self, alerts: Sequence[Alert], *, now_ms: int | None = None) -> dict[str, str]:
        """Makes ``alerts`` the active ones (``alerts_apply``); ``now_ms``: when their facts were read."""
        wanted = [{"key": a.key, "kind": str(a.kind), "subject": a.subject, "level": str(a.level), "value": a.value,
                   "threshold": a.threshold, "detail": a.detail,
                   "params": json.dumps(dict(a.params), ensure_ascii=False, sort_keys=True)} for a in alerts]
        return self._execute(self._script("alerts_apply", now_ms, json.dumps(wanted, ensure_ascii=False),
                                          parse=_fields))

    def acknowledge(self, alert_id: str, by: str, *, now_ms: int | None = None) -> dict[str, str]:
        """A supervisor acknowledges an active alert; RoutingRefused when unknown, cleared or acknowledged."""
        return self._execute(self._script("alert_ack", now_ms, alert_id, by, parse=_fields))

    def evaluate(self, city: CitySettings, *, now_ms: int | None = None) -> dict[str, str]:
        """One evaluation step: read the facts, decide, apply."""
        now = self.clock() if now_ms is None else now_ms
        facts = self.facts(city, now)
        alerts = evaluate(facts, city.supervision.alerts, city.supervision.targets[0][0])
        return self.apply(alerts, now_ms=now)

    # -- reading -----------------------------------------------------------------------------

    def _records(self, alert_ids: Sequence[str]) -> list[dict[str, str]]:
        pipeline = self.redis.pipeline(transaction=False)
        for alert_id in alert_ids:
            pipeline.hgetall(self.keys.alert(alert_id))
        return [record for reply in pipeline.execute() if (record := _fields(reply))]

    def active(self) -> list[dict[str, str]]:
        """The alerts on now: critical first, then the newest."""
        ids = _texts(self.redis.hvals(self.keys.alerts_active()))
        records = self._records(ids) if ids else []
        return sorted(records, key=lambda a: (a.get("level") != "critical", -(_int(a.get("raised_ms", "")) or 0)))

    def history(self, count: int = 50) -> list[dict[str, str]]:
        """The newest ``count`` cleared alerts, newest first."""
        ids = _texts(self.redis.lrange(self.keys.alerts_history(), 0, count - 1))
        return self._records(ids) if ids else []


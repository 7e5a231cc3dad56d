"""The screen pop: everything a call-taker needs the moment the desk phone rings, in one read.

The call record, its IVR path (each key with its time and the language heard), its priority and
where that came from, the caller number's earlier calls with their dispositions, the nuisance
score with its explanation, the number's open callback, and the location fixes near the call.
Location and history are advice: nothing here is written into an incident.
"""

from __future__ import annotations

import json
from typing import Any

from config.settings import CitySettings
from queueing.callbacks import Callbacks
from queueing.locations import Locations
from queueing.numbers import NuisanceRules, Numbers
from queueing.pops import PopAudit
from queueing.routing import Routing

#: Earlier calls shown: those of the last day (the nuisance window's default), at most this many.
HISTORY_SHOWN = 10
#: Read besides what the number's view gives of each earlier call.
EXTRA_FIELDS = ("disposition", "abandon_stage", "wait_ms")


def ivr_steps(record: dict[str, str]) -> list[dict[str, Any]]:
    """The stored ``ivr_path`` as a list; a call from before it was kept (or garbled) has none."""
    try:
        steps = json.loads(record.get("ivr_path") or "[]")
    except ValueError:
        return []
    return [s for s in steps if isinstance(s, dict)] if isinstance(steps, list) else []


def _int(value: str | None) -> int | None:
    return int(value) if value not in (None, "") else None


class PopService:
    def __init__(self, city: CitySettings, routing: Routing) -> None:
        self.routing = routing
        prefix, clock = routing.keys.prefix, routing.clock
        self.numbers = Numbers(routing.redis, prefix=prefix, clock=clock)
        self.locations = Locations(routing.redis, prefix=prefix, clock=clock)
        self.callbacks = Callbacks(routing.redis, prefix=prefix, clock=clock)
        self.audit = PopAudit(routing.redis, prefix=prefix, clock=clock)
        self.rules = NuisanceRules.from_settings(city.numbers)
        self.window_ms = city.console.location_window_s * 1000

    def record(self, call_id: str) -> dict[str, str]:
        return self.routing.call(call_id)

    def pop(self, record: dict[str, str]) -> dict[str, Any]:
        now = self.routing.clock()
        number = self.numbers.view(record.get("caller", ""), self.rules, now_ms=now, calls_shown=HISTORY_SHOWN + 1)
        earlier = [c for c in number.pop("recent_calls", [])
                   if c["call_id"] != record["call_id"] and now - int(c["arrived_ms"] or 0) <= self.rules.window_ms]
        history = [c | self._extra(c["call_id"]) for c in earlier[:HISTORY_SHOWN]]
        open_callback: dict[str, str] | None = None
        if number.get("open_callback"):
            task = self.callbacks.task(number["open_callback"])
            open_callback = task.record if task is not None else None
        return {
            "call": record,
            "call_id": record["call_id"],
            "caller": record.get("caller", ""),
            "queue": record.get("queue", ""),
            "desk": record.get("desk", ""),
            "state": record.get("state", ""),
            "times": {name: _int(record.get(name)) for name in ("arrived_ms", "queued_ms", "offered_ms", "answered_ms",
                                                                  "ended_ms", "ivr_ms", "wait_ms")},
            "ivr": {"path": ivr_steps(record), "ms": _int(record.get("ivr_ms")), "choice": record.get("choice", ""),
                    "language": record.get("language", ""), "route_reason": record.get("route_reason", "")},
            "priority": {"value": _int(record.get("priority")), "reason": record.get("priority_reason", ""),
                         "set_by": record.get("priority_set_by", ""), "note": record.get("priority_note", ""),
                         "policy_applied": record.get("policy_applied", "")},
            "number": number,
            "repeat": {"count": int(record.get("repeat_count") or 0), "previous_call_id": record.get("previous_call_id", ""),
                       "calls_24h": len(history)},
            "history": history,
            "open_callback": open_callback,
            "locations": self.locations.for_call(record, self.window_ms, now_ms=now),
            "now_ms": now,
        }

    def _extra(self, call_id: str) -> dict[str, str]:
        # The incident's disposition is kept in the call record once the call-taker sets it.
        values = self.routing.redis.hmget(self.routing.keys.call(call_id), *EXTRA_FIELDS)
        return {k: (v.decode() if isinstance(v, bytes) else v) or "" for k, v in zip(EXTRA_FIELDS, values, strict=True)}

    def seen(self, call_id: str, desk_id: str, browser_ms: int | None, user: str) -> dict[str, str]:
        return self.audit.seen(call_id, desk_id, browser_ms=browser_ms, user=user)

    def add_location(self, number: str, lat: float, lon: float, radius_m: float, *, source: str, at_ms: int | None,
                     method: str, confidence: float | None) -> dict[str, str]:
        return self.locations.add(number, lat, lon, radius_m, source=source, at_ms=at_ms, method=method,
                                  confidence=confidence)

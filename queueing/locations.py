"""Where a caller is: location fixes of a caller number (``location:{number}``).

AML (Advanced Mobile Location) fixes from handsets arrive in a later issue; what is here is the
store and its rules. A fix is ``lat, lon`` (WGS 84 degrees), ``radius_m`` (the uncertainty, m),
``at_ms`` (when it was taken), ``source`` (:class:`~queueing.states.LocationSource`),
``method`` (GNSS, WiFi, Cell…) and ``confidence`` (percent). ``location_add`` keeps the newest
20 per number for a day and tells the number's call going on now.

A call shows the fixes of its number taken from ``window_ms`` before it arrived until it ended
(or now): a fix is advice for the call-taker, never written into an incident by itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from queueing.routing import Routing, _fields, _text


@dataclass(frozen=True)
class Fix:
    lat: float
    lon: float
    radius_m: float
    at_ms: int
    source: str
    method: str = ""
    confidence: float | None = None
    received_ms: int | None = None

    def as_dict(self, now_ms: int) -> dict[str, Any]:
        return {"lat": self.lat, "lon": self.lon, "radius_m": self.radius_m, "at_ms": self.at_ms,
                "age_ms": max(0, now_ms - self.at_ms), "source": self.source, "method": self.method,
                "confidence": self.confidence, "received_ms": self.received_ms}


def parse_fix(member: str) -> Fix:
    raw = json.loads(member)
    confidence = raw.get("confidence")
    return Fix(float(raw["lat"]), float(raw["lon"]), float(raw["radius_m"]), int(raw["at_ms"]), str(raw["source"]),
               str(raw.get("method") or ""), float(confidence) if confidence not in (None, "") else None,
               int(raw["received_ms"]) if raw.get("received_ms") is not None else None)


class Locations(Routing):
    """Location fixes over a synchronous ``redis.Redis`` (the API, the CLI, the lab)."""

    def add(self, number: str, lat: float, lon: float, radius_m: float, *, source: str, at_ms: int | None = None,
            method: str = "", confidence: float | None = None, now_ms: int | None = None) -> dict[str, str]:
        """Keeps a fix on the number's trail; returns ``number, at_ms, call_id`` (the call going on now, or "").
        Out-of-range values are refused (RoutingRefused naming the value)."""
        return self._execute(self._script(
            "location_add", now_ms, number, repr(float(lat)), repr(float(lon)), repr(float(radius_m)),
            "" if at_ms is None else at_ms, source, method, "" if confidence is None else repr(float(confidence)),
            parse=_fields))

    def trail(self, number: str, since_ms: int = 0, until_ms: int | None = None) -> list[Fix]:
        """The number's fixes taken between ``since_ms`` and ``until_ms``, newest first."""
        members = self.redis.zrevrangebyscore(self.keys.location(number), "+inf" if until_ms is None else until_ms,
                                              since_ms)
        return [parse_fix(_text(m)) for m in members]

    def for_call(self, call: dict[str, str], window_ms: int, *, now_ms: int | None = None) -> list[dict[str, Any]]:
        """The fixes shown with a call: its number's, from ``window_ms`` before arrival until it ended (or now)."""
        now = self.clock() if now_ms is None else now_ms
        number = call.get("caller", "")
        if not number or not call.get("arrived_ms"):
            return []
        until = int(call["ended_ms"]) if call.get("ended_ms") else None
        return [fix.as_dict(now) for fix in self.trail(number, int(call["arrived_ms"]) - window_ms, until)]

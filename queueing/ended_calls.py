"""The records of a period's calls, each ended call read from Redis once.

The wallboard (every second) and ``GET /metrics`` (every scrape) read the same calls again and
again: the shift's, the day's. A call that has ended (its ``outcome`` set) never changes the
fields they read, so :class:`EndedCalls` keeps those and reads only the calls not yet ended.
The ids still come from the ``calls`` index at each reading: a call leaving the period (the
window moved, a new day) leaves the memory too.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from queueing.routing import Routing

OUTCOME = "outcome"  # set once, when the call ends (call_hangup)


class EndedCalls:
    def __init__(self, routing: Routing, fields: Sequence[str]) -> None:
        if OUTCOME not in fields:
            raise ValueError(f"the fields read must include {OUTCOME!r}: it tells an ended call")
        self.routing = routing
        self.fields = tuple(fields)
        self.ended: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()  # two scrapes (threads of the API) at once

    def since(self, since_ms: int) -> list[dict[str, str]]:
        """``fields`` of every call that arrived at or after ``since_ms``, by arrival."""
        with self._lock:
            call_ids = self.routing.call_ids_since(since_ms)
            fresh = self.routing.call_fields([c for c in call_ids if c not in self.ended], self.fields)
            kept = {c: self.ended[c] for c in call_ids if c in self.ended}
            kept |= {c: record for c, record in fresh.items() if record[OUTCOME]}
            self.ended = kept
            return [kept.get(c) or fresh[c] for c in call_ids]

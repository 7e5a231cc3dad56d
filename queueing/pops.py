"""The screen pop on the audit trail: when a call-taker's page drew a call it was offered."""

from __future__ import annotations

from queueing.routing import Routing, _fields


class PopAudit(Routing):
    def seen(self, call_id: str, desk_id: str, *, browser_ms: int | None = None, user: str = "",
             now_ms: int | None = None) -> dict[str, str]:
        """Records ``pop_seen`` (server time, delay since the offer); the call keeps the first one.
        Returns ``call_id, desk_id, pop_seen_ms, delay_ms, first``."""
        return self._execute(self._script("pop_seen", now_ms, call_id, desk_id,
                                          "" if browser_ms is None else browser_ms, user, parse=_fields))

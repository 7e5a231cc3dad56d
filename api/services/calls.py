"""Call records."""

from __future__ import annotations

from queueing.routing import Routing


class CallService:
    def __init__(self, routing: Routing) -> None:
        self.routing = routing

    def record(self, call_id: str) -> dict[str, str]:
        """The call's record; empty when the call is unknown."""
        return self.routing.call(call_id)

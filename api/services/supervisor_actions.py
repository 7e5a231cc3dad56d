"""A supervisor's actions on a waiting caller: move it to another queue, change its priority, pick it
for a named desk. Each is one Lua script (call_move, call_reprioritize, call_pick) that writes its
audit event naming the supervisor; a refusal (the caller is ringing, the desk is not ready) is a 409.

A pick rings nothing by itself: ``claim_next`` offers picked callers first, so a bridge delivers the
caller to the desk as any other offer (telephony/dispatcher.py).
"""

from __future__ import annotations

from api.errors import InvalidInput
from config.settings import CitySettings
from queueing.routing import Routing


class SupervisorActionService:
    def __init__(self, city: CitySettings, routing: Routing) -> None:
        self.routing = routing
        self.queues = list(city.queues)
        self.desks = {d.id for d in city.desks}

    def move(self, call_id: str, queue: str, by: str, note: str = "") -> dict[str, str]:
        if queue not in self.queues:
            raise InvalidInput(f"queue {queue!r} does not exist: move to one of {', '.join(self.queues)}")
        return self.routing.move(call_id, queue, moved_by=by, note=note)

    def reprioritize(self, call_id: str, priority: int, by: str, note: str = "") -> dict[str, str]:
        return self.routing.reprioritize(call_id, priority, set_by=by, note=note)

    def pick(self, call_id: str, desk_id: str, by: str, note: str = "") -> dict[str, str]:
        if desk_id not in self.desks:
            raise InvalidInput(f"desk {desk_id!r} is not a desk of the city file")
        return self.routing.pick(call_id, desk_id, picked_by=by, note=note)

"""Callback tasks of abandoned calls: the open ones, and outcomes reported by call-takers."""

from __future__ import annotations

from config.settings import CitySettings
from queueing.callbacks import Callbacks, CallbackTask, RetryRules
from queueing.routing import Routing


class CallbackService:
    def __init__(self, city: CitySettings, routing: Routing) -> None:
        self.callbacks = Callbacks(routing.redis, prefix=routing.keys.prefix, clock=routing.clock)
        self.queues = list(city.queues)
        self.rules = RetryRules.from_settings(city.callbacks)

    def open_tasks(self, agency: str) -> list[dict[str, str]]:
        """The tasks a desk of ``agency`` may call back (its own and the general queue's)."""
        return self.callbacks.open_tasks(agency)

    def task(self, call_id: str) -> CallbackTask | None:
        return self.callbacks.task(call_id)

    def record_outcome(self, call_id: str, outcome: str, *, desk_id: str = "", note: str = "") -> dict[str, str]:
        """The task's record after the outcome; refused when the task is not open (or being dialled)."""
        return self.callbacks.record(call_id, outcome, self.rules, expected="open", desk_id=desk_id, note=note).record

"""Callers waiting, per queue."""

from __future__ import annotations

from api.schemas import QueueView
from config.settings import CitySettings
from queueing.routing import Routing


class QueueService:
    def __init__(self, city: CitySettings, routing: Routing) -> None:
        self.queues = list(city.queues)
        self.routing = routing

    def waiting(self, visible: set[str]) -> list[QueueView]:
        """The ``visible`` queues in city order, each with its callers in service order."""
        return [QueueView(queue=q, waiting=self.routing.queue(q)) for q in self.queues if q in visible]

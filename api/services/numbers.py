"""Caller numbers: what is known of one, and a supervisor's policy for it."""

from __future__ import annotations

from typing import Any

from config.settings import CitySettings
from queueing.numbers import NuisanceRules, Numbers
from queueing.routing import Routing


class NumberService:
    def __init__(self, city: CitySettings, routing: Routing) -> None:
        self.numbers = Numbers(routing.redis, prefix=routing.keys.prefix, clock=routing.clock)
        self.rules = NuisanceRules.from_settings(city.numbers)
        self.lower_priority_by = city.numbers.lower_priority_by

    def view(self, number: str) -> dict[str, Any]:
        """Repeat count, nuisance score, policy and recent calls."""
        return self.numbers.view(number, self.rules)

    def set_policy(self, number: str, policy: str, *, set_by: str, priority_delta: int | None = None,
                   note: str = "") -> dict[str, str]:
        """``priority_delta`` default: the city's ``[numbers] lower_priority_by``."""
        return self.numbers.set_policy(number, policy, set_by=set_by,
                                       priority_delta=priority_delta or self.lower_priority_by, note=note)

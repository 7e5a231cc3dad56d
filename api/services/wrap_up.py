"""A desk's wrap-up, ended or extended once by its call-taker (queueing/wrap_up.py)."""

from __future__ import annotations

from api.schemas import DeskView
from api.services.desks import DeskService
from config.settings import CitySettings
from queueing.states import WrapUpAction
from queueing.wrap_up import WrapUps


class WrapUpService:
    def __init__(self, city: CitySettings, desks: DeskService) -> None:
        routing = desks.routing
        self.desks = desks
        self.wrap_ups = WrapUps(routing.redis, prefix=routing.keys.prefix, clock=routing.clock)
        self.extend_ms = city.wrap_up_extend_s * 1000

    def change(self, desk_id: str, action: WrapUpAction) -> DeskView:
        self.wrap_ups.change(desk_id, action, self.extend_ms)
        return self.desks.view(desk_id)

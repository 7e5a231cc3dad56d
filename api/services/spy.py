"""A supervisor listening to, whispering to or barging in on a desk's call from the supervisor's own
desk phone (queueing/lua/spy_*.lua; the bridge rings that phone and runs ChanSpy:
telephony/call_control.py)."""

from __future__ import annotations

from collections.abc import Mapping

from api.schemas import SpyView
from config.settings import CitySettings
from queueing.routing import Routing
from queueing.states import SpyMode


def _ms(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def spy_view(record: Mapping[str, str]) -> SpyView:
    return SpyView(spy_id=record["spy_id"], desk_id=record["desk_id"], call_id=record["call_id"],
                   supervisor_desk=record["supervisor_desk"], mode=SpyMode(record["mode"]),
                   started_ms=_ms(record.get("started_ms", "")), answered_ms=_ms(record.get("answered_ms", "")),
                   tell_call_taker=record.get("tell_call_taker") == "1")


class SpyService:
    def __init__(self, city: CitySettings, routing: Routing) -> None:
        self.routing = routing
        self.tell_call_taker = city.supervision.tell_call_taker_of_spy
        self.desks = {d.id for d in city.desks}

    def known(self, desk_id: str) -> bool:
        return desk_id in self.desks

    def view(self, desk_id: str) -> SpyView | None:
        record = self.routing.spy(desk_id)
        return spy_view(record) if record else None

    def start(self, desk_id: str, supervisor_desk: str, mode: SpyMode, by: str) -> SpyView:
        return spy_view(self.routing.spy_start(desk_id, supervisor_desk, mode.value, by=by,
                                               tell_call_taker=self.tell_call_taker))

    def switch(self, desk_id: str, mode: SpyMode, by: str) -> SpyView:
        return spy_view(self.routing.spy_mode(desk_id, mode.value, by=by))

    def stop(self, desk_id: str, by: str) -> SpyView:
        return spy_view(self.routing.spy_stop(desk_id, by=by))

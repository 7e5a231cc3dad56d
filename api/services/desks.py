"""Desks of the city file: their states, and a call-taker's or supervisor's change of state."""

from __future__ import annotations

from api.schemas import DeskView
from config.settings import CitySettings
from queueing.desks import register_and_set_state
from queueing.routing import Routing


class DeskService:
    def __init__(self, city: CitySettings, routing: Routing) -> None:
        self.routing = routing
        self.desks = {d.id: d for d in city.desks}  # city-file order: the order desks are listed in
        self.agency_of = {d.id: d.agency for d in city.desks}

    def known(self, desk_id: str) -> bool:
        return desk_id in self.desks

    def views(self, desk_ids: list[str]) -> list[DeskView]:
        return [self.view(d) for d in desk_ids]

    def view(self, desk_id: str) -> DeskView:
        record = self.routing.desk(desk_id)
        since = record.get("since_ms", "")
        state = record.get("state", "offline")
        until = record.get("wrap_up_until_ms", "") if state == "wrap_up" else ""
        return DeskView(desk_id=desk_id, agency=self.agency_of[desk_id], state=state,
                        call_id=record.get("call_id", ""), reason=record.get("reason", ""),
                        since_ms=int(since) if since.isdigit() else None,
                        wrap_up_until_ms=int(until) if until.isdigit() else None,
                        wrap_up_extended=state == "wrap_up" and bool(since)
                        and record.get("wrap_up_extended", "") == since)

    def change(self, desk_id: str, target: str, reason: str = "", set_by: str = "") -> DeskView:
        """``target``: login, ready, paused or offline; ``set_by``: the supervisor forcing it (else empty)."""
        register_and_set_state(self.routing, self.desks[desk_id], target, reason=reason, set_by=set_by)
        return self.view(desk_id)

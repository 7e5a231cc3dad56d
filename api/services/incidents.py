"""The incident of a call (queueing/incidents.py) for the console: read, change, notes, and the
calls a duplicate may point at."""

from __future__ import annotations

from typing import Any

from api.services.eido import EidoService, NoCadToPush
from config.settings import GENERAL_QUEUE, CitySettings
from queueing.incidents import RECORD_FIELDS, IncidentInvalid, Incidents, check_changes
from queueing.numbers import callable_number
from queueing.routing import Routing
from queueing.states import Disposition

#: The duplicate search reads at most this many calls of the range (newest first) before scoping.
SEARCH_READ = 500


class IncidentService:
    def __init__(self, city: CitySettings, routing: Routing, eido: EidoService | None = None) -> None:
        self.city = city
        self.routing = routing
        # A save that dispatches pushes the incident to the agencies' CAD (none: a test without pushes).
        self.eido = eido
        self.incidents = Incidents(routing.redis, prefix=routing.keys.prefix, clock=routing.clock)
        self.desk_agency = {d.id: d.agency for d in city.desks}

    def call(self, call_id: str) -> dict[str, str]:
        """The call's record; empty when the call is unknown."""
        return self.routing.call(call_id)

    def agency_of(self, record: dict[str, str]) -> str:
        """The agency a call's incident belongs to: the desk's that took it, else the call's queue."""
        return self.desk_agency.get(record.get("desk", "")) or record.get("queue") or GENERAL_QUEUE

    def view(self, call_id: str, record: dict[str, str]) -> dict[str, Any]:
        """The incident; an empty one at version 0 (``exists`` false) when nothing was written yet."""
        incident = self.incidents.get(call_id)
        if incident is None:
            incident = {field: "" for field in RECORD_FIELDS} | {
                "call_id": call_id, "agency": self.agency_of(record), "version": 0, "agencies": [], "notes": []}
        return incident | {"exists": incident["version"] > 0 or bool(incident["notes"])}

    def save(self, call_id: str, record: dict[str, str], changes: dict[str, Any], *, expected_version: int,
             by: str) -> dict[str, Any]:
        """Applies the form's changes; the incident after them with ``changed`` (the fields that changed)."""
        agency = (self.incidents.get(call_id) or {}).get("agency") or self.agency_of(record)
        clean = check_changes(self.city, agency, changes)
        duplicate_of = clean.get("duplicate_of", "")
        if duplicate_of and not self.routing.call(duplicate_of):
            raise IncidentInvalid(f"duplicate_of: unknown call {duplicate_of!r}: pick the call with the search")
        reply = self.incidents.save(call_id, clean, by=by, expected_version=expected_version)
        after = self.view(call_id, record) | {"changed": reply["changed"]}
        if "disposition" in reply["changed"] and after["disposition"] == Disposition.DISPATCHED:
            after["cad_push"] = self._push_dispatched(call_id, record, by)
        return after

    def _push_dispatched(self, call_id: str, record: dict[str, str], by: str) -> dict[str, Any] | None:
        """The dispatch's push to the agencies' CAD: their pushes' status, or None when none takes pushes.

        The incident is saved whatever happens here: a push that cannot start is on the page and
        the supervisor's (``GET /calls/{id}/cad-push``) and a resend starts it again."""
        if self.eido is None:
            return None
        try:
            return self.eido.push_to_cad(call_id, self.routing.call(call_id) or record, by=by)
        except NoCadToPush:
            return None

    def add_note(self, call_id: str, text: str, *, by: str) -> dict[str, Any]:
        return self.incidents.add_note(call_id, text, by=by)

    def search(self, number: str, from_ms: int, to_ms: int) -> list[dict[str, str]]:
        """Calls of the range (of ``number`` when given), newest first; the router scopes them."""
        if number and not callable_number(number):
            raise IncidentInvalid(f"number: {number!r} is not a caller number (an optional + and 3-20 digits)")
        if to_ms < from_ms:
            raise IncidentInvalid(f"to_ms ({to_ms}) is before from_ms ({from_ms})")
        return self.incidents.search(number, from_ms, to_ms, limit=SEARCH_READ)

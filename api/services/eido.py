"""A call's EIDO document (api/eido.py) from what Redis holds, and its pushes to the agencies' CAD.

:meth:`EidoService.push_to_cad` is what a dispatch starts: the incident service calls it after a
save that sets the disposition ``dispatched``; ``POST /calls/{call_id}/cad-push`` calls it by hand.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from redis.exceptions import RedisError

from api.cad_push import enqueue_push_jobs, webhook_agencies
from api.eido import eido_document
from config.settings import CitySettings
from queueing.cad_pushes import CadPushes, agency_pushes
from queueing.errors import RoutingRefused
from queueing.incidents import Incidents
from queueing.jobs import sync_client_like
from queueing.locations import Locations
from queueing.routing import Routing

log = logging.getLogger("hotline.api.eido")


class NoCadToPush(RoutingRefused):
    """Nothing to push: no agency of the request has a CAD webhook in the city file (409, like a refusal)."""


class EidoService:
    def __init__(self, city: CitySettings, routing: Routing) -> None:
        self.city = city
        self.routing = routing
        prefix, clock = routing.keys.prefix, routing.clock
        self.incidents = Incidents(routing.redis, prefix=prefix, clock=clock)
        self.locations = Locations(routing.redis, prefix=prefix, clock=clock)
        self.pushes = CadPushes(routing.redis, prefix=prefix, clock=clock)
        self.window_ms = city.console.location_window_s * 1000

    def document(self, call_id: str, record: dict[str, str]) -> dict[str, Any]:
        """The call's EIDO document now (``record``: its call record)."""
        now_ms = self.routing.clock()
        incident = self.incidents.get(call_id)
        notes = incident.pop("notes", []) if incident else []
        fixes = self.locations.for_call(record, self.window_ms, now_ms=now_ms)
        return eido_document(record, incident, notes, fixes, self.city, now_ms=now_ms)

    def cad_agencies(self, call_id: str, record: dict[str, str]) -> list[str]:
        """The agencies the incident needs that take pushes (the owning agency when none is ticked)."""
        incident = self.incidents.get(call_id) or {}
        needed = incident.get("agencies") or [incident.get("agency") or record.get("queue", "")]
        with_cad = webhook_agencies(self.city)
        return [a for a in needed if a in with_cad]

    def push_to_cad(self, call_id: str, record: dict[str, str], *, by: str,
                    agencies: Sequence[str] | None = None) -> dict[str, Any]:
        """Queues the current document for these agencies' CAD (default :meth:`cad_agencies`) and their jobs.

        NoCadToPush when none of them has a webhook. The document is in Redis before any job
        exists: rq down loses nothing (a resend finds it)."""
        with_cad = webhook_agencies(self.city)
        targets = [a for a in (agencies if agencies is not None else self.cad_agencies(call_id, record)) if a in with_cad]
        if not targets:
            asked = ", ".join(agencies) if agencies is not None else "the agencies the incident needs"
            raise NoCadToPush(f"no CAD to push call {call_id} to: {asked or 'none'} has no cad_webhook_url in the city "
                              f"file (agencies with one: {', '.join(with_cad) or 'none'})")
        body = json.dumps(self.document(call_id, record), ensure_ascii=False, separators=(",", ":"))
        queued = self.pushes.queue_document(call_id, body, targets, by=by)
        try:
            enqueue_push_jobs(sync_client_like(self.routing.redis), call_id, queued.seq, targets, self.routing.keys.prefix)
        except RedisError as exc:  # the document waits in Redis (pending): a resend or the worker's sweep sends it
            log.error("CAD push of call %s queued in Redis but its jobs were not enqueued: %s", call_id, exc)
        return self.status(call_id)

    def status(self, call_id: str) -> dict[str, Any]:
        """The pushes of the call: each agency's status, tries and last error; whether a document is kept."""
        record = self.pushes.record(call_id)
        return {"call_id": call_id, "seq": int(record.get("seq") or 0), "document_kept": bool(record.get("document")),
                "pushes": agency_pushes(record)}

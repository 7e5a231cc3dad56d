"""Pushes of a call's EIDO document to the agencies' CAD, in Redis (``cad_push:{call_id}``; docs/architecture.md).

The document waits in Redis until every agency it is for has it (``eido_push_queue``); each try's
outcome is one ``eido_push_result``, an event ``cad_push`` on the audit trail. The HTTP part (the
rq job, signing, sending) is ``api/cad_push.py``: here is only what Redis keeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from queueing.routing import Routing, _fields, _text
from queueing.states import CadPushStatus

#: Per-agency fields of ``cad_push:{call_id}``, after ``<agency>.``.
AGENCY_FIELDS = ("status", "seq", "attempts", "retrying", "last_error", "last_http_status", "queued_ms",
                 "last_attempt_ms", "sent_ms", "sent_seq")


@dataclass(frozen=True)
class Queued:
    call_id: str
    seq: int
    queue: str


@dataclass(frozen=True)
class Attempt:
    call_id: str
    agency: str
    status: CadPushStatus
    attempts: int
    current: bool  # the try was of the newest document


def _queued(reply: Any) -> Queued:
    f = _fields(reply)
    return Queued(f["call_id"], int(f["seq"]), f["queue"])


def _attempt(reply: Any) -> Attempt:
    f = _fields(reply)
    return Attempt(f["call_id"], f["agency"], CadPushStatus(f["status"]), int(f["attempts"]), f["current"] == "1")


class CadPushes(Routing):
    """The CAD pushes over a synchronous ``redis.Redis`` (the API, the rq worker)."""

    def queue_document(self, call_id: str, document: str, agencies: Sequence[str], *, by: str,
                       now_ms: int | None = None) -> Queued:
        """The document waits for these agencies (pending; their tries start again); its ``seq`` names it."""
        return self._execute(self._script("eido_push_queue", now_ms, call_id, document, by, *agencies, parse=_queued))

    def record_attempt(self, call_id: str, agency: str, seq: int, *, sent: bool, http_status: int | None = None,
                       error: str = "", retrying: bool = False, now_ms: int | None = None) -> Attempt:
        """How one try to send document ``seq`` to ``agency`` ended."""
        outcome = CadPushStatus.SENT if sent else CadPushStatus.FAILED
        return self._execute(self._script("eido_push_result", now_ms, call_id, agency, seq, outcome.value,
                                          "" if http_status is None else str(http_status), error,
                                          "1" if retrying else "0", parse=_attempt))

    def record(self, call_id: str) -> dict[str, str]:
        """``cad_push:{call_id}`` as it is (empty when nothing was ever queued)."""
        return _fields(self.redis.hgetall(self.keys.cad_push(call_id)))

    def pushes(self, call_id: str) -> list[dict[str, Any]]:
        """Each agency's push of the call, by agency id: ``agency`` and :data:`AGENCY_FIELDS`."""
        return agency_pushes(self.record(call_id))

    def open_calls(self) -> list[str]:
        """Calls with a push not yet sent, oldest first."""
        return [_text(m) for m in self.redis.zrange(self.keys.cad_pushes_open(), 0, -1)]


def agency_pushes(record: dict[str, str]) -> list[dict[str, Any]]:
    """The per-agency pushes of a ``cad_push:{call_id}`` record, with typed numbers."""
    out = []
    for agency in sorted(a for a in record.get("agencies", "").split(",") if a):
        push: dict[str, Any] = {"agency": agency}
        for field in AGENCY_FIELDS:
            value = record.get(f"{agency}.{field}", "")
            if field in ("seq", "attempts", "sent_seq", "last_http_status", "queued_ms", "last_attempt_ms", "sent_ms"):
                push[field] = int(value) if value else None
            elif field == "retrying":
                push[field] = value == "1"
            else:
                push[field] = value
        push["attempts"] = push["attempts"] or 0
        push["current"] = push["seq"] == int(record.get("seq") or 0)
        out.append(push)
    return out

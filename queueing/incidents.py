"""The incident of a call: what the call-taker writes while and after talking (``incident:{call_id}``).

One incident per call, created by its first change and owned by the agency of the desk that
took the call. Fields (all text in Redis): ``call_id, agency, nature`` (an id of the agency's
``natures`` in the city file, or ``other`` with the words in ``nature_text``), ``location_text,
priority`` (0 highest … 4 lowest), ``agencies`` (the agencies needed, comma-separated),
``disposition`` (:class:`~queueing.states.Disposition` or empty), ``duplicate_of`` (a call id,
required for a duplicate), ``version, created_ms, updated_ms, updated_by, dispatched_ms`` and
``last_changed`` (the fields the last save changed). Notes are a list beside it
(``incident:{call_id}:notes``), each ``{"at_ms", "by", "text"}``: appended, never edited.

Every change is one Lua script and one event on the audit trail (the ``events`` stream):
``incident_save`` (``incident_saved``: version, fields changed, by whom) and ``incident_note``
(``incident_note``: the note itself). A save carries the version it started from; a save from an
older version is refused (:class:`IncidentConflict`, saying who changed what meanwhile), so nothing
is overwritten unseen. Notes never conflict and do not change the version.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from config.settings import OTHER_NATURE, CitySettings
from queueing.errors import RoutingRefused
from queueing.routing import Routing, _fields, _text
from queueing.states import Disposition

MAX_NOTE = 2000
MAX_LOCATION = 500
MAX_NATURE_TEXT = 200
LOWEST_PRIORITY = 4
#: What a save may change (the form's fields); notes go through :meth:`Incidents.add_note`.
FIELDS = ("nature", "nature_text", "location_text", "priority", "agencies", "disposition", "duplicate_of")
#: Every field of the incident's hash (the shape the EIDO export and the CAD webhook read).
RECORD_FIELDS = ("call_id", "agency", *FIELDS, "version", "created_ms", "updated_ms", "updated_by", "dispatched_ms",
                 "last_changed")


class IncidentInvalid(ValueError):
    """A change the form should never send: the message names the field and what is wrong."""


class IncidentConflict(RoutingRefused):
    """A save that started from an older version than the incident's: who changed what meanwhile."""


def _clean_text(value: str) -> str:
    # Control characters other than line breaks and tabs have no place in a form; markup is kept as text.
    return "".join(ch for ch in value if ch in "\n\t" or ch >= " ").strip()


def check_changes(city: CitySettings, agency: str, changes: Mapping[str, Any]) -> dict[str, str]:
    """The changes as Redis text, or IncidentInvalid naming every bad field.

    ``agency``: the incident's agency, whose ``natures`` the nature is one of."""
    problems: list[str] = []
    out: dict[str, str] = {}
    agencies = [a.id for a in city.agencies]
    natures = [n.id for a in city.agencies if a.id == agency for n in a.natures]
    for field, value in changes.items():
        if field not in FIELDS:
            problems.append(f"{field}: not a field of the incident ({', '.join(FIELDS)})")
            continue
        if value is None:
            value = ""
        if field == "agencies":
            listed = [value] if isinstance(value, str) else list(value)
            unknown = [a for a in listed if a not in agencies]
            if unknown:
                problems.append(f"agencies: {', '.join(map(repr, unknown))} not an agency of the city file "
                                f"({', '.join(agencies)})")
            out[field] = ",".join(a for a in agencies if a in listed)  # the city's order, each once
            continue
        if field == "priority":
            if value == "":
                out[field] = ""
            elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= LOWEST_PRIORITY:
                problems.append(f"priority: must be an integer from 0 (highest) to {LOWEST_PRIORITY} (lowest), "
                                f"got {value!r}")
            else:
                out[field] = str(value)
            continue
        if not isinstance(value, str):
            problems.append(f"{field}: must be text, got {type(value).__name__}")
            continue
        text = _clean_text(value)
        if field == "nature" and text not in ("", OTHER_NATURE, *natures):
            problems.append(f"nature: {text!r} is not one of {agency}'s natures in the city file "
                            f"({', '.join(natures) or 'none listed'}); use {OTHER_NATURE!r} with nature_text")
        elif field == "nature_text" and len(text) > MAX_NATURE_TEXT:
            problems.append(f"nature_text: {len(text)} characters, at most {MAX_NATURE_TEXT}")
        elif field == "location_text" and len(text) > MAX_LOCATION:
            problems.append(f"location_text: {len(text)} characters, at most {MAX_LOCATION}")
        elif field == "disposition" and text not in ("", *Disposition):
            problems.append(f"disposition: {text!r} is not one of {', '.join(Disposition)}")
        out[field] = text
    if problems:
        raise IncidentInvalid("; ".join(problems))
    return out


def check_note(text: str) -> str:
    """The note to keep (markup stays text: it is shown as text), or IncidentInvalid."""
    text = _clean_text(text)
    if not text:
        raise IncidentInvalid("text: a note needs some text")
    if len(text) > MAX_NOTE:
        raise IncidentInvalid(f"text: the note has {len(text)} characters, at most {MAX_NOTE}: split it in two")
    return text


def _time_of_day(ms: str) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(int(ms) / 1000)) if ms.isdigit() else "?"


class Incidents(Routing):
    """Incidents over a synchronous ``redis.Redis`` (the API)."""

    def get(self, call_id: str) -> dict[str, Any] | None:
        """The incident (``version`` an int, ``agencies`` a list, ``notes`` oldest first); None when the call
        has none yet."""
        pipeline = self.redis.pipeline(transaction=False)
        pipeline.hgetall(self.keys.incident(call_id))
        pipeline.lrange(self.keys.incident_notes(call_id), 0, -1)
        record, notes = pipeline.execute()
        fields = _fields(record)
        if not fields:
            return None
        incident: dict[str, Any] = {field: "" for field in RECORD_FIELDS} | fields
        incident["version"] = int(fields.get("version") or 0)
        incident["agencies"] = [a for a in fields.get("agencies", "").split(",") if a]
        incident["notes"] = [json.loads(_text(note)) for note in notes]
        return incident

    def save(self, call_id: str, changes: Mapping[str, str], *, by: str, expected_version: int,
             now_ms: int | None = None) -> dict[str, Any]:
        """Applies ``changes`` (checked with :func:`check_changes`) when the incident is still at
        ``expected_version``; returns ``call_id, version, changed`` (the fields whose value changed).
        IncidentConflict when it is not; RoutingRefused for an unknown call or duplicate_of."""
        pairs: list[str] = []
        for field, value in changes.items():
            pairs += [field, value]
        try:
            reply = self._execute(self._script("incident_save", now_ms, call_id, by, expected_version, *pairs,
                                               parse=_fields))
        except RoutingRefused as refused:
            if not str(refused).startswith("stale version"):
                raise
            raise self._conflict(call_id, expected_version) from None
        return {"call_id": reply["call_id"], "version": int(reply["version"]),
                "changed": [f for f in reply["changed"].split(",") if f]}

    def set_disposition(self, call_id: str, disposition: Disposition | str, *, by: str, expected_version: int,
                        duplicate_of: str = "", now_ms: int | None = None) -> dict[str, Any]:
        """The disposition (and for a duplicate the call it repeats), as one save."""
        changes = {"disposition": str(disposition)}
        if disposition == Disposition.DUPLICATE:
            changes["duplicate_of"] = duplicate_of
        return self.save(call_id, changes, by=by, expected_version=expected_version, now_ms=now_ms)

    def add_note(self, call_id: str, text: str, *, by: str, now_ms: int | None = None) -> dict[str, Any]:
        """Appends a note (checked with :func:`check_note`); returns it with its ``index``."""
        reply = self._execute(self._script("incident_note", now_ms, call_id, by, check_note(text), parse=_fields))
        return {"index": int(reply["index"]), "at_ms": int(reply["at_ms"]), "by": reply["by"], "text": text}

    def _conflict(self, call_id: str, expected_version: int) -> IncidentConflict:
        now = self.get(call_id) or {}
        changed = (now.get("last_changed") or "").replace(",", ", ") or "its fields"
        return IncidentConflict(
            f"not saved: the incident of call {call_id} changed meanwhile (version {now.get('version', 0)}, "
            f"yours started from {expected_version}): {changed} by {now.get('updated_by') or '?'} at "
            f"{_time_of_day(str(now.get('updated_ms', '')))}. Nothing is lost: reload it, keep your changes "
            f"and save again")


    def search(self, number: str, from_ms: int, to_ms: int, limit: int = 200) -> list[dict[str, str]]:
        """Calls that arrived between ``from_ms`` and ``to_ms`` (from ``number`` when given), newest first:
        what a duplicate may point at. Each: the call's ``call_id, caller, arrived_ms, queue, desk, state,
        disposition`` and its incident's ``nature, location_text``."""
        key = self.keys.number_calls(number) if number else self.keys.calls()
        call_ids = [_text(c) for c in self.redis.zrevrangebyscore(key, to_ms, from_ms, start=0, num=limit)]
        pipeline = self.redis.pipeline(transaction=False)
        for call_id in call_ids:
            pipeline.hgetall(self.keys.call(call_id))
            pipeline.hmget(self.keys.incident(call_id), "nature", "location_text")
        replies = pipeline.execute() if call_ids else []
        found = []
        for record, (nature, location) in zip(replies[::2], replies[1::2], strict=True):
            call = _fields(record)
            if call:
                found.append({k: call.get(k, "") for k in ("call_id", "caller", "arrived_ms", "queue", "desk", "state",
                                                            "disposition")}
                             | {"nature": _text(nature or ""), "location_text": _text(location or "")})
        return found

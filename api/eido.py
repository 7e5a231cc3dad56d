"""A call and its incident as a NENA EIDO document (Emergency Incident Data Object, NENA-STA-021).

:func:`eido_document` is pure: the call record, the incident (``queueing.incidents``' shape), its
notes and the caller's location fixes in, a JSON-ready dict out; no Redis, no clock. The export
route (``GET /calls/{call_id}/eido``) and the CAD webhook (``api/cad_push.py``) send what it
builds; tests/api/test_eido.py validates it against NENA's published schema (docs/eido.md).

What goes where:

* the centre is the sending agency (``agencyComponent[0]``, the owner of every component); each
  agency the incident needs follows it;
* the call is a ``callComponent`` (``queueIdentifier`` = the hotline queue, times, state);
  the caller's number a ``callbackComponent`` when it can be dialled;
* the location text a civic ``locationComponent``, each fix a geodetic one: a PIDF-LO circle
  (point and uncertainty radius in metres) in ``locationByValue``;
* notes are ``notesComponent`` entries in HTML5 (escaped: a note is text, never markup);
* the disposition a ``dispositionComponent`` of the incident; a duplicate links the other
  call's incident (``linkComponent``, RELATED).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree as ET

from config.settings import CitySettings
from queueing.states import CallState, Disposition

EIDO_VERSION = "1.0"
# A call-taker's words for the disposition, in the Common Disposition Code registry's spirit;
# the registry itself is open, the schema takes any text.
DISPOSITION_CODES: dict[str, str] = {
    Disposition.DISPATCHED: "Dispatched",
    Disposition.ADVICE_GIVEN: "Advice Given",
    Disposition.FALSE_CALL: "False Call",
    Disposition.PRANK: "Prank Call",
    Disposition.DUPLICATE: "Duplicate",
}
# IANA urn:emergency:service:responder names of the city's agency ids where they differ.
RESPONDER_TYPES = {"medical": "ems", "ambulance": "ems", "disaster": "other"}
# The Call States registry's names for the call record's states.
CALL_STATES: dict[str, str] = {
    CallState.IVR: "callBegin", CallState.QUEUED: "callBegin", CallState.FALLBACK: "callBegin",
    CallState.RINGING: "callBegin", CallState.ON_CALL: "callAnswered",
    CallState.ENDED: "callEnd", CallState.ABANDONED: "callEnd",
}
# STA-023 call priority names for the incident's priority 0 (highest) … 4 (lowest).
PRIORITY_NAMES = ("highest", "high", "normal", "low", "lowest")
# PIDF-LO (RFC 4119, RFC 5491): a circle of the fix's uncertainty around its point.
PIDF = "urn:ietf:params:xml:ns:pidf"
GEOPRIV = "urn:ietf:params:xml:ns:pidf:geopriv10"
GP_DM = "urn:ietf:params:xml:ns:pidf:data-model"
GML = "http://www.opengis.net/gml"
GS = "http://www.opengis.net/pidflo/1.0"


def iso_time(ms: int) -> str:
    """An RFC 3339 timestamp in UTC with milliseconds."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def element_id(city: CitySettings) -> str:
    """The functional element that issues the documents: this hotline, named by its number."""
    return f"hotline-{city.hotline.number}"


def incident_tracking_id(call_id: str, city: CitySettings) -> str:
    """NENA's incident tracking identifier: one incident per call here."""
    return f"urn:emergency:uid:incidentid:{call_id}:{element_id(city)}"


def call_identifier(call_id: str, city: CitySettings) -> str:
    return f"urn:emergency:uid:callid:{call_id}:{element_id(city)}"


def _ms(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _ref(component_id: str) -> dict[str, str]:
    return {"$ref": component_id}


def pidf_circle(fix: Mapping[str, Any], entity: str) -> str:
    """A fix as a PIDF-LO document: its point (lat lon, WGS 84) and uncertainty radius (m)."""
    for prefix, uri in (("", PIDF), ("gp", GEOPRIV), ("dm", GP_DM), ("gml", GML), ("gs", GS)):
        ET.register_namespace(prefix, uri)
    presence = ET.Element(f"{{{PIDF}}}presence", {"entity": entity})
    device = ET.SubElement(presence, f"{{{GP_DM}}}device", {"id": "caller"})
    geopriv = ET.SubElement(device, f"{{{GEOPRIV}}}geopriv")
    location_info = ET.SubElement(geopriv, f"{{{GEOPRIV}}}location-info")
    circle = ET.SubElement(location_info, f"{{{GS}}}Circle", {"srsName": "urn:ogc:def:crs:EPSG::4326"})
    ET.SubElement(circle, f"{{{GML}}}pos").text = f"{float(fix['lat']):.6f} {float(fix['lon']):.6f}"
    radius = ET.SubElement(circle, f"{{{GS}}}radius", {"uom": "urn:ogc:def:uom:EPSG::9001"})
    radius.text = f"{float(fix.get('radius_m') or 0):g}"
    ET.SubElement(geopriv, f"{{{GEOPRIV}}}method").text = str(fix.get("source") or "unknown")
    at_ms = _ms(fix.get("at_ms"))
    if at_ms is not None:
        ET.SubElement(device, f"{{{GP_DM}}}timestamp").text = iso_time(at_ms)
    return ET.tostring(presence, encoding="unicode")


def eido_document(call: Mapping[str, str], incident: Mapping[str, Any] | None, notes: Sequence[Mapping[str, Any]],
                  fixes: Sequence[Mapping[str, Any]], city: CitySettings, *, now_ms: int) -> dict[str, Any]:
    """The EIDO document of one call and its incident (``incident`` None or empty: none typed yet)."""
    call_id = call["call_id"]
    incident = incident or {}
    element = element_id(city)
    centre_id = f"urn:emergency:uid:agencyid:{element}"
    updated_ms = _ms(incident.get("updated_ms")) or now_ms
    stamp = iso_time(updated_ms)

    def prologue(component_id: str, at: str = stamp) -> dict[str, Any]:
        return {"$id": component_id, "lastUpdateTimeStamp": at, "updatedByAgencyReference": _ref(centre_id)}

    def name_of(agency_id: str) -> str:
        try:
            names = city.agency(agency_id).name
        except KeyError:
            return agency_id
        return names.get(city.languages[0]) or next(iter(names.values()))

    agencies: list[dict[str, Any]] = [{
        **prologue(centre_id),
        "agencyRoleDescriptionRegistryText": ["Call Taking"],
        "agencyType": ["psap"],
        "incidentOwningAgencyIndicator": True,
    }]
    needed = [a for a in _agency_list(incident.get("agencies")) if a]
    owner = incident.get("agency") or (call.get("queue") if call.get("queue") in {a.id for a in city.agencies} else "")
    for agency_id in dict.fromkeys([*needed, *([owner] if owner and not needed else [])]):
        agencies.append({
            **prologue(f"urn:emergency:uid:agencyid:{agency_id}.{element}"),
            "agencyRoleDescriptionRegistryText": ["Responding"],
            "agencyType": [RESPONDER_TYPES.get(agency_id, agency_id)],
            "agencyJcard": _jcard(name_of(agency_id)),
        })

    agents: list[dict[str, Any]] = []
    agent_id = ""
    taker = str(incident.get("updated_by") or "")
    if taker:
        agent_id = f"urn:emergency:uid:agentid:{taker}:{element}"
        agent: dict[str, Any] = {**prologue(agent_id), "agentRoleRegistryText": ["Call Taker"],
                                 "agencyReference": _ref(centre_id)}
        if call.get("desk"):
            agent["agentWorkstationPositionIdentification"] = call["desk"]
        agents.append(agent)

    locations: list[dict[str, Any]] = []
    if incident.get("location_text"):
        locations.append({**prologue(f"urn:emergency:uid:locationid:{call_id}-text:{element}"),
                          "locationTypeDescriptionRegistryText": "Incident",
                          "locationDescriptionText": str(incident["location_text"])})
    for i, fix in enumerate(fixes, 1):
        at_ms = _ms(fix.get("at_ms"))
        locations.append({**prologue(f"urn:emergency:uid:locationid:{call_id}-fix{i}:{element}",
                                     iso_time(at_ms) if at_ms is not None else stamp),
                          "locationTypeDescriptionRegistryText": "Caller",
                          "locationByValue": pidf_circle(fix, f"pres:{call.get('caller') or call_id}"),
                          "locationDescriptionText": f"{fix.get('source') or 'unknown'} fix: "
                                                     f"{float(fix['lat']):.6f}, {float(fix['lon']):.6f} "
                                                     f"±{float(fix.get('radius_m') or 0):g} m"})
    location_refs = [_ref(loc["$id"]) for loc in locations]

    notes_out: list[dict[str, Any]] = []
    for i, note in enumerate(notes, 1):
        at_ms = _ms(note.get("at_ms"))
        entry: dict[str, Any] = {
            **prologue(f"urn:emergency:uid:notesid:{call_id}-{i}:{element}", iso_time(at_ms) if at_ms is not None else stamp),
            "notesActionComments": html.escape(str(note.get("text", ""))),  # HTML5 text: markup in a note is shown, never run
        }
        if note.get("by"):
            by_id = f"urn:emergency:uid:agentid:{note['by']}:{element}"
            entry["agentReference"] = _ref(by_id)
            if by_id not in {a["$id"] for a in agents}:
                agents.append({**prologue(by_id), "agentRoleRegistryText": ["Call Taker"], "agencyReference": _ref(centre_id)})
        notes_out.append(entry)
    note_refs = [_ref(n["$id"]) for n in notes_out]

    callbacks: list[dict[str, Any]] = []
    caller = call.get("caller", "")
    if _dialable(caller):
        callbacks.append({**prologue(f"urn:emergency:uid:callbackid:{call_id}:{element}"),
                          "callBackInformationUri": [f"tel:{caller}"]})

    call_component: dict[str, Any] = {
        **prologue(call_identifier(call_id, city)),
        "callStateRegistryText": CALL_STATES.get(call.get("state", ""), "callBegin"),
        "standardPrimaryCallType": "emergency",
        "direction": "incoming",
        "callStartTimestamp": iso_time(_ms(call.get("arrived_ms")) or updated_ms),
    }
    if (answered := _ms(call.get("answered_ms"))) is not None:
        call_component["answerDate"] = iso_time(answered)
    if call.get("queue"):
        call_component["queueIdentifier"] = call["queue"]
    if call.get("route_reason"):
        call_component["localCallType"] = f"menu: {call['route_reason']}" + (f" {call['choice']}" if call.get("choice") else "")
    if call.get("previous_call_id"):
        call_component["relatedCallIdentifier"] = [call_identifier(call["previous_call_id"], city)]
    if callbacks:
        call_component["callBackReference"] = _ref(callbacks[0]["$id"])
    if location_refs:
        call_component["locationReference"] = location_refs
    if agent_id:
        call_component["agentReference"] = [_ref(agent_id)]
    if len(agencies) > 1:
        call_component["agencyReference"] = [_ref(a["$id"]) for a in agencies[1:]]

    nature = str(incident.get("nature_text") or incident.get("nature") or "")
    incident_component: dict[str, Any] = {
        **prologue(incident_tracking_id(call_id, city)),
        "incidentTypeCommonRegistryText": nature or "unknown",
        "internalIncidentId": call_id,
        "incidentStatusCommonRegistryText": ["Closed" if incident.get("disposition") else "Open"],
    }
    if incident.get("nature"):
        incident_component["incidentTypeInternalCode"] = str(incident["nature"])
    if nature:
        incident_component["incidentTypeInternalText"] = nature
    priority = _ms(incident.get("priority"))
    if priority is None:
        priority = _ms(call.get("priority"))
    if priority is not None:
        incident_component["incidentCommonPriorityNumber"] = priority
        incident_component["incidentPriorityInternalText"] = str(priority)
        call_component["priorityIdentifier"] = PRIORITY_NAMES[min(max(priority, 0), len(PRIORITY_NAMES) - 1)]
    if location_refs:
        incident_component["locationReference"] = location_refs
    if note_refs:
        incident_component["notesReference"] = note_refs
    if agents:
        incident_component["agentReference"] = [_ref(a["$id"]) for a in agents]
    disposition = str(incident.get("disposition") or "")
    if disposition:
        incident_component["dispositionComponent"] = [{
            **prologue(f"urn:emergency:uid:dispositionid:{call_id}:{element}"),
            "dispositionCommonRegistryCode": DISPOSITION_CODES.get(disposition, disposition),
            "dispositionPrimaryIndicator": True,
            "dispositionCategoryText": disposition,
        }]

    document: dict[str, Any] = {
        **prologue(f"urn:emergency:uid:eidoid:{call_id}-{updated_ms}:{element}"),
        "eidoVersion": EIDO_VERSION,
        "issuingElementIdentification": element,
        "incidentComponent": incident_component,
        "callComponent": [call_component],
        "agencyComponent": agencies,
    }
    if disposition == Disposition.DUPLICATE and incident.get("duplicate_of"):
        other = str(incident["duplicate_of"])
        document["linkComponent"] = [{
            **prologue(f"urn:emergency:uid:linkid:{call_id}-{other}:{element}"),
            "incidentTrackingIdentifier": incident_tracking_id(other, city),
            "linkDirectionCode": "RELATED",
            "transactionReasonText": f"duplicate of call {other}",
        }]
    for name, items in (("callbackComponent", callbacks), ("notesComponent", notes_out), ("agentComponent", agents),
                        ("locationComponent", locations)):
        if items:
            document[name] = items
    return document


def _agency_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [a.strip() for a in value.split(",")]
    return [str(a) for a in value or []]


def _dialable(number: str) -> bool:
    digits = number[1:] if number.startswith("+") else number
    return digits.isdigit() and 3 <= len(digits) <= 20


def _jcard(name: str) -> str:
    """An agency's contact card (jCard, RFC 7095) with its name, as the schema's string."""
    return json.dumps(["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", name]]], ensure_ascii=False)

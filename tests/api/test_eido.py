"""api.eido.eido_document: the documents it builds are valid EIDO (NENA-STA-021) by NENA's published schema.

The schema is the extract in tests/api/eido_schema_extract.json (docs/eido.md says why an extract),
validated as OpenAPI 3.0 schema objects by openapi-schema-validator, formats (date-time) included.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from api.eido import eido_document, incident_tracking_id, iso_time
from config.settings import load_settings
from tests.replay import E2E_CITY

CITY = load_settings(E2E_CITY)
EXTRACT = json.loads((Path(__file__).with_name("eido_schema_extract.json")).read_text(encoding="utf-8"))
VALIDATOR = OAS30Validator({"$ref": f"#/components/schemas/{EXTRACT['root']}", "components": EXTRACT["components"]},
                           format_checker=oas30_format_checker)
T0 = 1_790_000_000_000


def errors(document: dict) -> list[str]:
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(document))


def call(**fields: str) -> dict[str, str]:
    return {"call_id": "c-1", "caller": "0912345678", "state": "on_call", "queue": "police", "desk": "desk-101",
            "arrived_ms": str(T0), "answered_ms": str(T0 + 9_000), "priority": "1", "route_reason": "chosen",
            "choice": "1", "language": "vi", **fields}


def incident(**fields: object) -> dict[str, object]:
    return {"call_id": "c-1", "agency": "police", "nature": "robbery", "location_text": "", "priority": "1",
            "agencies": ["police"], "disposition": "", "duplicate_of": "", "version": "3",
            "created_ms": str(T0 + 10_000), "updated_ms": str(T0 + 60_000), "updated_by": "lan", **fields}


NOTE = {"at_ms": T0 + 20_000, "by": "lan", "text": "two men, knife"}
FIX = {"lat": "21.0285", "lon": "105.8542", "radius_m": "18", "at_ms": str(T0 - 5_000), "source": "aml"}

CASES = {
    "minimal: a call in the menu, no incident yet": (call(state="ivr", queue="", desk="", answered_ms="", priority="",
                                                          route_reason="", choice=""), None, [], []),
    "withheld number, no incident": (call(caller="anonymous"), {}, [], []),
    "full": (call(state="ended"), incident(disposition="dispatched", agencies=["police", "medical"],
                                           location_text="12 Hàng Bài, Hoàn Kiếm", dispatched_ms=str(T0 + 50_000)),
             [NOTE, {"at_ms": T0 + 30_000, "by": "minh", "text": "one hurt"}], [FIX, {**FIX, "radius_m": "250", "source": "network"}]),
    "duplicate of another call": (call(state="ended"), incident(disposition="duplicate", duplicate_of="c-0"), [], []),
    "prank": (call(state="ended"), incident(disposition="prank", nature=""), [], []),
    "false call, comma-separated agencies": (call(state="ended"), incident(disposition="false_call", agencies="police,fire"), [], []),
    "location fix without location text": (call(), incident(), [], [FIX]),
    "location text without a fix": (call(), incident(location_text="ngã tư Lê Duẩn"), [], []),
    "Vietnamese with diacritics": (call(), incident(nature="cướp giật", location_text="Phố Đinh Tiên Hoàng, Hồ Hoàn Kiếm"),
                                   [{"at_ms": T0 + 21_000, "by": "lan", "text": "Người gọi hoảng loạn, cần xe cứu thương gấp"}], []),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_every_built_document_is_valid_eido(case):
    document = eido_document(*CASES[case], CITY, now_ms=T0 + 90_000)
    assert errors(document) == []
    assert json.loads(json.dumps(document, ensure_ascii=False)) == document  # plain JSON, nothing else


def test_a_broken_document_fails_validation():
    good = eido_document(*CASES["full"], CITY, now_ms=T0 + 90_000)
    assert errors(good) == []
    cases = {
        "no agency": ("agencyComponent", None),
        "unknown EIDO version": ("eidoVersion", "0.9"),
        "a time that is not a time": ("lastUpdateTimeStamp", "yesterday"),
    }
    for _, (field, value) in cases.items():
        broken = copy.deepcopy(good)
        if value is None:
            del broken[field]
        else:
            broken[field] = value
        assert errors(broken), f"{field}={value!r} passed validation"
    broken = copy.deepcopy(good)
    broken["callComponent"][0]["direction"] = "sideways"
    assert any("sideways" in e for e in errors(broken))
    broken = copy.deepcopy(good)
    del broken["incidentComponent"]["dispositionComponent"][0]["dispositionCommonRegistryCode"]
    assert errors(broken) == ["incidentComponent/dispositionComponent/0: 'dispositionCommonRegistryCode' is a required property"]


def test_the_full_document_carries_the_call_the_incident_and_the_centre():
    document = eido_document(*CASES["full"], CITY, now_ms=T0 + 90_000)
    centre = document["agencyComponent"][0]
    assert centre["incidentOwningAgencyIndicator"] is True
    assert document["updatedByAgencyReference"] == {"$ref": centre["$id"]}
    assert [a["agencyType"] for a in document["agencyComponent"][1:]] == [["police"], ["ems"]]
    assert document["incidentComponent"]["$id"] == incident_tracking_id("c-1", CITY)
    assert document["incidentComponent"]["dispositionComponent"][0]["dispositionCategoryText"] == "dispatched"
    assert document["incidentComponent"]["incidentCommonPriorityNumber"] == 1
    (the_call,) = document["callComponent"]
    assert the_call["callStartTimestamp"] == iso_time(T0) and the_call["answerDate"] == iso_time(T0 + 9_000)
    assert the_call["callStateRegistryText"] == "callEnd" and the_call["queueIdentifier"] == "police"
    assert the_call["priorityIdentifier"] == "high"
    assert document["callbackComponent"][0]["callBackInformationUri"] == ["tel:0912345678"]
    assert [n["notesActionComments"] for n in document["notesComponent"]] == ["two men, knife", "one hurt"]
    assert {a["$id"].split(":")[4] for a in document["agentComponent"]} == {"lan", "minh"}
    # every reference points at a component of the document
    ids = {c["$id"] for key, value in document.items() if key.endswith("Component") and isinstance(value, list) for c in value}
    refs = set(re.findall(r'"\$ref": "([^"]+)"', json.dumps(document)))
    assert refs <= ids | {document["incidentComponent"]["$id"]}


def test_a_fix_is_a_pidf_lo_circle_with_its_uncertainty():
    document = eido_document(*CASES["location fix without location text"], CITY, now_ms=T0 + 90_000)
    (location,) = document["locationComponent"]
    root = ET.fromstring(location["locationByValue"])
    ns = {"gml": "http://www.opengis.net/gml", "gs": "http://www.opengis.net/pidflo/1.0",
          "gp": "urn:ietf:params:xml:ns:pidf:geopriv10"}
    assert root.find(".//gs:Circle/gml:pos", ns).text == "21.028500 105.854200"
    assert root.find(".//gs:Circle/gs:radius", ns).text == "18"
    assert root.find(".//gp:method", ns).text == "aml"
    assert location["lastUpdateTimeStamp"] == iso_time(T0 - 5_000)
    assert document["callComponent"][0]["locationReference"] == [{"$ref": location["$id"]}]


def test_vietnamese_text_stays_as_typed_and_markup_in_a_note_is_escaped():
    document = eido_document(call(), incident(nature="cướp giật", location_text="Phố Đinh Tiên Hoàng"),
                             [{"at_ms": T0, "by": "lan", "text": "<script>alert('x')</script> Hồ Gươm & cầu"}], [], CITY,
                             now_ms=T0)
    assert errors(document) == []
    assert document["incidentComponent"]["incidentTypeInternalText"] == "cướp giật"
    assert document["locationComponent"][0]["locationDescriptionText"] == "Phố Đinh Tiên Hoàng"
    assert document["notesComponent"][0]["notesActionComments"] == "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; Hồ Gươm &amp; cầu"
    assert "cướp giật" in json.dumps(document, ensure_ascii=False)


def test_a_duplicate_links_the_other_calls_incident():
    document = eido_document(*CASES["duplicate of another call"], CITY, now_ms=T0)
    (link,) = document["linkComponent"]
    assert link["incidentTrackingIdentifier"] == incident_tracking_id("c-0", CITY)
    assert link["linkDirectionCode"] == "RELATED"


def test_the_extract_names_its_source():
    source = EXTRACT["x-source"]
    assert source["repository"] == "https://github.com/NENA911/EIDO-JSON"
    assert re.fullmatch(r"[0-9a-f]{40}", source["commit"]) and re.fullmatch(r"[0-9a-f]{40}", source["blob"])
    assert '"description"' not in json.dumps(EXTRACT["components"])  # NENA's prose is not carried

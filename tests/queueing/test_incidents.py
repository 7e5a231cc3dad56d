"""Incidents (queueing/incidents.py: incident_save, incident_note) against the real redis-server:
versions, notes, the audit trail's events, the disposition in the call record, and bad input."""

from __future__ import annotations

import json

import pytest

from config.settings import load_settings
from queueing import Keys, Routing, RoutingRefused
from queueing.audit import audit
from queueing.incidents import MAX_NOTE, IncidentConflict, IncidentInvalid, Incidents, check_changes, check_note
from queueing.numbers import NuisanceRules, Numbers
from tests.replay import E2E_CITY

T0 = 1_700_000_000_000
CITY = load_settings(E2E_CITY)


@pytest.fixture
def routing(redis_client):
    return Routing(redis_client)


@pytest.fixture
def incidents(redis_client):
    return Incidents(redis_client)


def answered(routing, call_id, *, caller="0912345678", queue="police", desk="desk-101", agency="police", at=T0):
    """A call answered at ``desk`` (of ``agency``), taken from ``queue``."""
    routing.register_desk(desk, agency, now_ms=at)
    routing.set_desk_state(desk, "ready", now_ms=at)
    routing.arrive(call_id, caller, f"PJSIP/citizens-{call_id}", now_ms=at)
    routing.enqueue(call_id, queue, 1, choice="1", route_reason="chosen", now_ms=at + 1_000)
    claim = routing.claim_next([agency], 20_000, now_ms=at + 2_000)
    assert claim is not None and claim.call_id == call_id
    routing.offer_answered(call_id, desk, now_ms=at + 3_000)


def events_of(routing, kind):
    return [e for e in routing.events(1000) if e["type"] == kind]


def test_the_first_save_creates_the_incident_at_version_1(routing, incidents):
    answered(routing, "c-1")
    reply = incidents.save("c-1", {"nature": "robbery", "location_text": "12 Hàng Bài", "priority": "1",
                                   "agencies": "police,medical"}, by="lan", expected_version=0, now_ms=T0 + 10_000)

    assert reply == {"call_id": "c-1", "version": 1,
                     "changed": ["agencies", "location_text", "nature", "priority"]}
    incident = incidents.get("c-1")
    assert incident is not None
    assert (incident["call_id"], incident["agency"], incident["nature"], incident["location_text"]) == (
        "c-1", "police", "robbery", "12 Hàng Bài")
    assert (incident["priority"], incident["agencies"], incident["version"], incident["notes"]) == (
        "1", ["police", "medical"], 1, [])
    assert (incident["created_ms"], incident["updated_ms"], incident["updated_by"]) == (
        str(T0 + 10_000), str(T0 + 10_000), "lan")
    assert incident["disposition"] == "" and incident["dispatched_ms"] == ""
    [event] = events_of(routing, "incident_saved")
    assert (event["call_id"], event["queue"], event["agency"], event["version"], event["fields"], event["by"]) == (
        "c-1", "police", "police", "1", "agencies,location_text,nature,priority", "lan")
    assert audit(routing.redis) == []


def test_each_change_is_one_version_and_one_event_and_an_unchanged_save_is_neither(routing, incidents):
    answered(routing, "c-1")
    incidents.save("c-1", {"nature": "robbery"}, by="lan", expected_version=0, now_ms=T0 + 10_000)
    second = incidents.save("c-1", {"nature": "robbery", "priority": "2"}, by="lan", expected_version=1,
                            now_ms=T0 + 11_000)
    same = incidents.save("c-1", {"priority": "2"}, by="lan", expected_version=2, now_ms=T0 + 12_000)

    assert (second["version"], second["changed"]) == (2, ["priority"])
    assert (same["version"], same["changed"]) == (2, [])
    assert [e["fields"] for e in events_of(routing, "incident_saved")] == ["nature", "priority"]
    assert incidents.get("c-1")["updated_ms"] == str(T0 + 11_000)


def test_a_save_from_an_older_version_is_refused_saying_who_changed_what(routing, incidents):
    answered(routing, "c-1")
    incidents.save("c-1", {"nature": "robbery"}, by="lan", expected_version=0, now_ms=T0 + 10_000)
    incidents.save("c-1", {"location_text": "Phố Huế", "priority": "0"}, by="minh", expected_version=1,
                   now_ms=T0 + 11_000)

    with pytest.raises(IncidentConflict) as refused:
        incidents.save("c-1", {"location_text": "Hàng Bài"}, by="lan", expected_version=1, now_ms=T0 + 12_000)

    message = str(refused.value)
    assert "changed meanwhile (version 2, yours started from 1)" in message
    assert "location_text, priority by minh" in message and "Nothing is lost" in message
    assert isinstance(refused.value, RoutingRefused)  # the API answers 409
    assert incidents.get("c-1")["location_text"] == "Phố Huế"
    assert len(events_of(routing, "incident_saved")) == 2


def test_a_double_submit_is_refused_the_second_time_and_changes_nothing(routing, incidents):
    answered(routing, "c-1")
    change = {"nature": "assault", "priority": "1"}
    incidents.save("c-1", change, by="lan", expected_version=0, now_ms=T0 + 10_000)
    with pytest.raises(IncidentConflict, match="version 1, yours started from 0"):
        incidents.save("c-1", change, by="lan", expected_version=0, now_ms=T0 + 10_001)
    assert incidents.get("c-1")["version"] == 1


def test_notes_are_appended_never_overwritten_and_do_not_move_the_version(routing, incidents):
    answered(routing, "c-1")
    first = incidents.add_note("c-1", "two men, one knife", by="lan", now_ms=T0 + 10_000)
    incidents.save("c-1", {"nature": "robbery"}, by="lan", expected_version=0, now_ms=T0 + 11_000)
    second = incidents.add_note("c-1", "<script>alert(1)</script> & <b>ran north</b>", by="minh", now_ms=T0 + 12_000)

    assert (first["index"], second["index"]) == (0, 1)
    incident = incidents.get("c-1")
    assert incident["notes"] == [
        {"at_ms": T0 + 10_000, "by": "lan", "text": "two men, one knife"},
        {"at_ms": T0 + 12_000, "by": "minh", "text": "<script>alert(1)</script> & <b>ran north</b>"},
    ]
    assert incident["version"] == 1 and incident["updated_by"] == "minh"
    raw = routing.redis.lrange(Keys().incident_notes("c-1"), 0, -1)
    assert [json.loads(n)["text"] for n in raw] == ["two men, one knife",
                                                    "<script>alert(1)</script> & <b>ran north</b>"]
    notes = events_of(routing, "incident_note")
    assert [(e["call_id"], e["queue"], e["agency"], e["index"], e["by"]) for e in notes] == [
        ("c-1", "police", "police", "0", "lan"), ("c-1", "police", "police", "1", "minh")]
    assert notes[1]["text"] == "<script>alert(1)</script> & <b>ran north</b>"


def test_the_disposition_goes_into_the_call_record_and_dispatch_is_stamped_once(routing, incidents):
    answered(routing, "c-1")
    incidents.set_disposition("c-1", "dispatched", by="lan", expected_version=0, now_ms=T0 + 10_000)
    incidents.save("c-1", {"priority": "1"}, by="lan", expected_version=1, now_ms=T0 + 11_000)
    incidents.set_disposition("c-1", "advice_given", by="lan", expected_version=2, now_ms=T0 + 12_000)
    incidents.set_disposition("c-1", "dispatched", by="lan", expected_version=3, now_ms=T0 + 13_000)

    assert routing.call("c-1")["disposition"] == "dispatched"
    incident = incidents.get("c-1")
    assert (incident["disposition"], incident["dispatched_ms"], incident["version"]) == (
        "dispatched", str(T0 + 10_000), 4)
    assert [e["disposition"] for e in events_of(routing, "incident_saved")] == [
        "dispatched", "dispatched", "advice_given", "dispatched"]


def test_a_duplicate_names_an_existing_other_call(routing, incidents):
    answered(routing, "c-1")
    routing.arrive("c-2", "0987654321", "PJSIP/citizens-c-2", now_ms=T0 + 20_000)
    with pytest.raises(RoutingRefused, match="a duplicate needs duplicate_of"):
        incidents.save("c-1", {"disposition": "duplicate"}, by="lan", expected_version=0)
    with pytest.raises(RoutingRefused, match="duplicate_of: unknown call c-404"):
        incidents.set_disposition("c-1", "duplicate", duplicate_of="c-404", by="lan", expected_version=0)
    with pytest.raises(RoutingRefused, match="cannot be a duplicate of itself"):
        incidents.set_disposition("c-1", "duplicate", duplicate_of="c-1", by="lan", expected_version=0)
    assert incidents.get("c-1") is None  # nothing written by a refusal

    incidents.set_disposition("c-1", "duplicate", duplicate_of="c-2", by="lan", expected_version=0)
    incident = incidents.get("c-1")
    assert (incident["disposition"], incident["duplicate_of"]) == ("duplicate", "c-2")
    assert routing.call("c-1")["disposition"] == "duplicate"


def test_an_unknown_call_has_no_incident_and_takes_no_change(routing, incidents):
    assert incidents.get("c-404") is None
    with pytest.raises(RoutingRefused, match="unknown call c-404"):
        incidents.save("c-404", {"nature": "robbery"}, by="lan", expected_version=0)
    with pytest.raises(RoutingRefused, match="unknown call c-404"):
        incidents.add_note("c-404", "hello", by="lan")
    assert routing.redis.exists(Keys().incident("c-404"), Keys().incident_notes("c-404")) == 0


def test_the_incident_belongs_to_the_desk_agency_even_for_a_general_call(routing, incidents):
    answered(routing, "c-1", queue="general", desk="desk-201", agency="fire")
    routing.arrive("c-2", "0912345679", "PJSIP/citizens-c-2", now_ms=T0)  # still in the menu
    incidents.add_note("c-1", "smoke on the 3rd floor", by="hoa")
    incidents.add_note("c-2", "caller still in the menu", by="sup")
    assert incidents.get("c-1")["agency"] == "fire"
    assert incidents.get("c-2")["agency"] == "general"


def test_the_nuisance_score_learns_from_a_prank_disposition(routing, incidents):
    answered(routing, "c-1", at=T0)
    routing.hangup("c-1", 10_000, now_ms=T0 + 120_000)  # a two-minute call: not short
    numbers = Numbers(routing.redis)
    before = numbers.view("0912345678", NuisanceRules(), now_ms=T0 + 130_000)["nuisance"]
    incidents.set_disposition("c-1", "prank", by="lan", expected_version=0, now_ms=T0 + 125_000)
    after = numbers.view("0912345678", NuisanceRules(), now_ms=T0 + 130_000)

    assert (before["score"], before["pranks"]) == (0, 0)
    assert (after["nuisance"]["pranks"], after["nuisance"]["score"]) == (1, pytest.approx(2, abs=0.01))
    assert after["recent_calls"][0]["disposition"] == "prank"
    assert after["recent_calls"][0]["nuisance"] == "prank"


# --- what the form may send (check_changes, check_note) -----------------------------------------

@pytest.mark.parametrize(("changes", "message"), [
    ({"nature": "arson"}, "nature: 'arson' is not one of police's natures in the city file (robbery, assault"),
    ({"nature": "building_fire"}, "not one of police's natures"),          # a fire nature on a police incident
    ({"agencies": ["police", "army"]}, "agencies: 'army' not an agency of the city file"),
    ({"priority": 5}, "priority: must be an integer from 0 (highest) to 4 (lowest), got 5"),
    ({"priority": "1"}, "priority: must be an integer"),
    ({"disposition": "hoax"}, "disposition: 'hoax' is not one of dispatched, advice_given, false_call, prank, duplicate"),
    ({"location_text": "x" * 501}, "location_text: 501 characters, at most 500"),
    ({"nature_text": "y" * 201}, "nature_text: 201 characters, at most 200"),
    ({"version": "9"}, "version: not a field of the incident"),
])
def test_bad_changes_are_named(changes, message):
    with pytest.raises(IncidentInvalid) as refused:
        check_changes(CITY, "police", changes)
    assert message in str(refused.value)


def test_good_changes_become_redis_text():
    assert check_changes(CITY, "police", {
        "nature": "other", "nature_text": " cat on a roof\x07 ", "priority": 0, "agencies": ["medical", "police"],
        "disposition": "", "location_text": "<b>12</b> Hàng Bài\nnear the bank"}) == {
        "nature": "other", "nature_text": "cat on a roof", "priority": "0", "agencies": "police,medical",
        "disposition": "", "location_text": "<b>12</b> Hàng Bài\nnear the bank"}


def test_notes_are_bounded_and_never_empty():
    assert check_note("  <img src=x onerror=alert(1)>  ") == "<img src=x onerror=alert(1)>"
    assert check_note("x" * MAX_NOTE) == "x" * MAX_NOTE
    with pytest.raises(IncidentInvalid, match="the note has 2001 characters, at most 2000"):
        check_note("x" * (MAX_NOTE + 1))
    with pytest.raises(IncidentInvalid, match="a note needs some text"):
        check_note(" \n ")

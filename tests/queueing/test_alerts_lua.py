"""Alert state in Redis: alerts_apply (raise, change, clear, idempotent, stale results ignored) and
alert_ack (who and when; refusals), and one evaluation step over real Redis facts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from config.settings import load_settings
from queueing.alert_store import AlertStore
from queueing.alerts import Alert
from queueing.errors import RoutingRefused
from queueing.recordings import Recordings
from queueing.states import AlertKind, AlertLevel, RecordingStatus
from tests.replay import E2E_CITY

T0 = 1_700_000_000_000
CITY = load_settings(E2E_CITY)
NO_POLICE = Alert(AlertKind.NO_DESK, AlertLevel.CRITICAL, "police", detail="no police desk logged in",
                  params={"agency": "police"})
WAIT_W = Alert(AlertKind.LONGEST_WAIT, AlertLevel.WARNING, "fire", 25, 20, "fire: a caller has waited 00:25",
               {"queue": "fire", "seconds": 25})
WAIT_C = Alert(AlertKind.LONGEST_WAIT, AlertLevel.CRITICAL, "fire", 61, 60, "fire: a caller has waited 01:01",
               {"queue": "fire", "seconds": 61})


@pytest.fixture
def store(redis_client):
    return AlertStore(redis_client)


def alert_events(store: AlertStore) -> list[dict[str, str]]:
    return [e for e in store.events(1000) if e["type"].startswith("alert")]


def test_a_new_alert_is_raised_once_on_the_audit_trail(store):
    assert store.apply([NO_POLICE], now_ms=T0) == {"result": "applied", "raised": "1", "changed": "0", "cleared": "0"}
    # a second API process with the same facts changes nothing
    assert store.apply([NO_POLICE], now_ms=T0) == {"result": "applied", "raised": "0", "changed": "0", "cleared": "0"}
    assert store.apply([NO_POLICE], now_ms=T0 + 2000)["raised"] == "0"
    (alert,) = store.active()
    assert alert["alert_id"] == f"no_desk:police@{T0}"
    assert {k: alert[k] for k in ("kind", "subject", "level", "detail", "params", "raised_ms", "acked_by")} == {
        "kind": "no_desk", "subject": "police", "level": "critical", "detail": "no police desk logged in",
        "params": '{"agency": "police"}', "raised_ms": str(T0), "acked_by": ""}
    (event,) = alert_events(store)
    assert {k: event[k] for k in ("type", "alert_id", "kind", "subject", "level", "ms")} == {
        "type": "alert_raised", "alert_id": f"no_desk:police@{T0}", "kind": "no_desk", "subject": "police",
        "level": "critical", "ms": str(T0)}


def test_a_level_change_is_one_event_and_an_escalation_wants_a_new_ack(store):
    store.apply([WAIT_W], now_ms=T0)
    alert_id = store.active()[0]["alert_id"]
    store.acknowledge(alert_id, "lan", now_ms=T0 + 1000)
    assert store.apply([WAIT_C], now_ms=T0 + 2000)["changed"] == "1"
    alert = store.active()[0]
    assert (alert["alert_id"], alert["level"], alert["acked_by"], alert["value"]) == (alert_id, "critical", "", "61")
    store.acknowledge(alert_id, "minh", now_ms=T0 + 3000)
    # going down keeps the acknowledgement; the figure is kept current without an event
    assert store.apply([WAIT_W], now_ms=T0 + 4000)["changed"] == "1"
    assert store.apply([replace(WAIT_W, value=30)], now_ms=T0 + 5000)["changed"] == "0"
    alert = store.active()[0]
    assert (alert["level"], alert["acked_by"], alert["value"]) == ("warning", "minh", "30")
    changed = [e for e in alert_events(store) if e["type"] == "alert_changed"]
    assert [(e["level"], e["previous_level"]) for e in changed] == [("critical", "warning"), ("warning", "critical")]


def test_a_gone_alert_is_cleared_into_the_history(store):
    store.apply([NO_POLICE, WAIT_W], now_ms=T0)
    assert store.apply([WAIT_W], now_ms=T0 + 2000) == {"result": "applied", "raised": "0", "changed": "0",
                                                       "cleared": "1"}
    assert [a["kind"] for a in store.active()] == ["longest_wait"]
    (cleared,) = store.history()
    assert (cleared["alert_id"], cleared["cleared_ms"]) == (f"no_desk:police@{T0}", str(T0 + 2000))
    assert [e["type"] for e in alert_events(store)] == ["alert_raised", "alert_raised", "alert_cleared"]
    # raised again later: a new alert, with its own id and no acknowledgement
    store.apply([NO_POLICE, WAIT_W], now_ms=T0 + 4000)
    assert {a["alert_id"] for a in store.active()} == {f"no_desk:police@{T0 + 4000}", f"longest_wait:fire@{T0}"}


def test_a_result_from_older_facts_is_ignored(store):
    store.apply([NO_POLICE], now_ms=T0)
    store.apply([], now_ms=T0 + 2000)  # a police desk logged in
    # a slower evaluator that read its facts before: it must not bring the alert back
    assert store.apply([NO_POLICE], now_ms=T0 + 1000)["result"] == "stale"
    assert store.active() == []


def test_the_history_keeps_the_newest_200(store):
    for i in range(205):
        store.apply([NO_POLICE], now_ms=T0 + 2 * i)
        store.apply([], now_ms=T0 + 2 * i + 1)
    history = store.history(300)
    assert len(history) == 200
    assert history[0]["alert_id"] == f"no_desk:police@{T0 + 2 * 204}"
    assert not store.redis.exists(store.keys.alert(f"no_desk:police@{T0}"))


def test_an_acknowledgement_keeps_who_and_when(store):
    store.apply([NO_POLICE], now_ms=T0)
    alert_id = f"no_desk:police@{T0}"
    acked = store.acknowledge(alert_id, "Nguyễn Lan", now_ms=T0 + 5000)
    assert (acked["acked_by"], acked["acked_ms"]) == ("Nguyễn Lan", str(T0 + 5000))
    event = alert_events(store)[-1]
    assert {k: event[k] for k in ("type", "alert_id", "acked_by", "level", "ms")} == {
        "type": "alert_ack", "alert_id": alert_id, "acked_by": "Nguyễn Lan", "level": "critical", "ms": str(T0 + 5000)}


@pytest.mark.parametrize(
    ("alert_id", "by", "message"),
    [
        ("no_desk:fire@1", "lan", "unknown alert no_desk:fire@1"),
        (f"no_desk:police@{T0}", "", "who acknowledges"),
        ("bad id", "lan", "is not a valid id"),
    ],
)
def test_acknowledging_what_is_not_there_is_refused(store, alert_id, by, message):
    store.apply([NO_POLICE], now_ms=T0)
    with pytest.raises(RoutingRefused, match=message):
        store.acknowledge(alert_id, by, now_ms=T0 + 1)


def test_acknowledging_twice_or_after_the_clear_is_refused(store):
    store.apply([NO_POLICE], now_ms=T0)
    alert_id = f"no_desk:police@{T0}"
    store.acknowledge(alert_id, "lan", now_ms=T0 + 1)
    with pytest.raises(RoutingRefused, match="acknowledged by lan already"):
        store.acknowledge(alert_id, "minh", now_ms=T0 + 2)
    store.apply([], now_ms=T0 + 3)
    with pytest.raises(RoutingRefused, match="cleared already"):
        store.acknowledge(alert_id, "minh", now_ms=T0 + 4)
    assert [e["type"] for e in alert_events(store)] == ["alert_raised", "alert_ack", "alert_cleared"]


def test_a_malformed_result_is_refused_before_any_write(store):
    bad = Alert(AlertKind.NO_DESK, AlertLevel.CRITICAL, "police")
    with pytest.raises(RoutingRefused, match="listed twice"):
        store.apply([bad, bad], now_ms=T0)
    with pytest.raises(RoutingRefused, match="not a valid id"):
        store.apply([Alert(AlertKind.DESK_PAUSED, AlertLevel.WARNING, "desk 1")], now_ms=T0)
    assert store.active() == [] and alert_events(store) == []
    assert not store.redis.exists(store.keys.alerts_evaluated())


def test_one_evaluation_step_over_redis(store):
    routing = store
    for desk in CITY.desks:
        routing.register_desk(desk.id, desk.agency, cross_trained=desk.cross_trained, now_ms=T0)
    for desk in CITY.desks:
        if desk.agency != "police":
            routing.set_desk_state(desk.id, "ready", now_ms=T0)
    routing.set_desk_state("desk-101", "login", now_ms=T0)  # paused "logged in"
    routing.arrive("c-1", "0912000001", "PJSIP/citizens-1", now_ms=T0 - 70_000)
    routing.enqueue("c-1", "medical", 1, now_ms=T0 - 68_000)  # no medical desk answers: it waits
    routing.arrive("c-2", "0912000002", "PJSIP/citizens-2", now_ms=T0 - 5_000)
    routing.fallback("c-2", reason="bridge silent", now_ms=T0 - 4_000)
    # no dispatcher runs here: the medical caller keeps waiting although desk-301 is ready
    facts = store.facts(CITY, T0)
    assert facts.waits["medical"] == [T0 - 70_000]
    assert facts.fallback_callers == 1
    assert {d.desk_id: d.state for d in facts.desks}["desk-101"] == "paused"
    store.evaluate(CITY, now_ms=T0)
    assert {(a["kind"], a["subject"], a["level"]) for a in store.active()} == {
        ("longest_wait", "medical", "critical"), ("fallback_callers", "", "critical")}
    # police logs out: nobody is left for police
    routing.set_desk_state("desk-101", "offline", now_ms=T0 + 1000)
    store.evaluate(CITY, now_ms=T0 + 2000)
    assert ("no_desk", "police") in {(a["kind"], a["subject"]) for a in store.active()}


def test_broken_recordings_of_the_window_are_counted(store):
    recordings = Recordings(store.redis)
    for i, verdict in enumerate((RecordingStatus.BROKEN, RecordingStatus.OK, RecordingStatus.MISSING)):
        store.arrive(f"c-{i}", "0912000001", "PJSIP/citizens-1", now_ms=T0 - 60_000)
        store.recording_start(f"c-{i}", f"c-{i}", now_ms=T0 - 50_000)
        recordings.checked(f"c-{i}", verdict, "test", now_ms=T0 - 10_000)
    assert store.facts(CITY, T0).broken_recordings == ["c-0", "c-2"]
    # a day later they are out of the window
    assert store.facts(CITY, T0 + 25 * 3_600_000).broken_recordings == []

"""resource_shortage against a real redis-server: counted, kept for the alert, one audit line per
resource, each stretch of Asterisk's log recorded once; and the alert's facts read from it."""

from __future__ import annotations

import json

import pytest

from config.settings import load_settings
from queueing.alert_store import AlertStore
from queueing.errors import RoutingRefused
from queueing.routing import Routing
from queueing.states import AlertKind
from tests.replay import E2E_CITY

T0 = 1_700_000_000_000
LOG = "/var/log/asterisk/warnings.log"
RTP = {"rtp_ports": {"shortages": 3, "callers_refused": 2, "desks_unrung": 1, "desks": ["desk-101"],
                     "line": "ERROR[1] res_rtp_asterisk.c: Oh dear... we couldn't allocate a port for RTP"}}


@pytest.fixture
def routing(redis_client):
    return Routing(redis_client)


def record(routing: Routing, start: int, end: int, tallies=None, *, file_id: str = "8:100", restart: bool = False,
           bridge: str = "host:4573", now_ms: int = T0) -> dict[str, str]:
    return routing.resource_shortage(LOG, file_id, start, end, bridge, json.dumps(tallies or RTP), restart=restart,
                                     now_ms=now_ms)


def shortage_events(routing: Routing) -> list[dict[str, str]]:
    return [e for e in routing.events(100) if e["type"] == "resource_shortage"]


def test_a_shortage_is_counted_kept_and_on_the_audit_trail(routing):
    both = {**RTP, "file_descriptors": {"shortages": 1, "callers_refused": 1, "desks_unrung": 0, "desks": [],
                                        "line": "alertpipe.c: Too many open files"}}
    assert record(routing, 0, 500, both) == {"recorded": "1", "file": "8:100", "offset": "500", "shortages": "4"}
    assert routing.resource_shortage_counts() == {
        "rtp_ports": 3, "rtp_ports:caller": 2, "rtp_ports:desk": 1,
        "file_descriptors": 1, "file_descriptors:caller": 1, "file_descriptors:desk": 0}
    events = shortage_events(routing)
    assert [(e["resource"], e["shortages"], e["callers_refused"], e["desks_unrung"], e["desks"]) for e in events] == [
        ("file_descriptors", "1", "1", "0", ""), ("rtp_ports", "3", "2", "1", "desk-101")]
    assert events[1]["line"] == RTP["rtp_ports"]["line"]
    assert (events[1]["bridge_id"], events[1]["log"], events[1]["ms"]) == ("host:4573", LOG, str(T0))
    assert record(routing, 500, 900, now_ms=T0 + 1000)["recorded"] == "1"
    assert routing.resource_shortage_counts()["rtp_ports"] == 6


def test_a_stretch_is_recorded_once_however_many_bridges_read_it(routing):
    assert record(routing, 0, 500)["recorded"] == "1"
    # a second bridge read the same stretch (and a little more): refused, told where to read on
    assert record(routing, 0, 600, bridge="other:4574") == {"recorded": "0", "file": "8:100", "offset": "500",
                                                            "shortages": "0"}
    assert record(routing, 500, 600, bridge="other:4574")["recorded"] == "1"
    assert routing.resource_shortage_counts()["rtp_ports"] == 6
    assert len(shortage_events(routing)) == 2


def test_a_rotated_or_truncated_log_is_read_from_its_start(routing):
    record(routing, 0, 500)
    # a new file (rotated): from 0 with restart
    assert record(routing, 0, 80, file_id="8:101", restart=True)["recorded"] == "1"
    # the same file truncated (copytruncate): from 0 with restart, when the recorded end is past the new end
    assert record(routing, 0, 40, file_id="8:101", restart=True)["recorded"] == "1"
    # but a restart that another bridge already recorded on the same file is refused
    assert record(routing, 0, 400, file_id="8:101", restart=True)["recorded"] == "0"
    # no restart: a stretch that does not start at the recorded end is refused
    assert record(routing, 10, 400, file_id="8:101")["recorded"] == "0"


def test_refusals_name_the_bad_argument(routing):
    with pytest.raises(RoutingRefused, match="tallies must be a JSON object"):
        routing.resource_shortage(LOG, "8:1", 0, 1, "b", "[1", now_ms=T0)
    with pytest.raises(RoutingRefused, match="rtp_ports.shortages must be a non-negative integer"):
        record(routing, 0, 1, {"rtp_ports": {"shortages": -1, "callers_refused": 0, "desks_unrung": 0}})
    with pytest.raises(RoutingRefused, match="is not a resource name"):
        record(routing, 0, 1, {"RTP ports": {"shortages": 1, "callers_refused": 0, "desks_unrung": 0}})
    with pytest.raises(RoutingRefused, match="to_offset must be between 10"):
        record(routing, 10, 5)
    assert routing.resource_shortage_counts() == {}


def test_the_alert_counts_the_window_only(redis_client, routing):
    city = load_settings(E2E_CITY)
    window_ms = city.supervision.alerts.resource_shortage_window_min * 60_000
    record(routing, 0, 100, now_ms=T0)
    record(routing, 100, 200, now_ms=T0 + window_ms // 2)
    store = AlertStore(redis_client)
    facts = store.facts(city, T0 + window_ms // 2)
    assert facts.shortages["rtp_ports"].shortages == 6
    assert store.facts(city, T0 + window_ms + 1).shortages["rtp_ports"].shortages == 3  # the first batch is out
    store.evaluate(city, now_ms=T0 + window_ms // 2)
    [alert] = [a for a in store.active() if a["kind"] == AlertKind.RESOURCE_SHORTAGE]
    assert (alert["subject"], alert["level"], alert["value"]) == ("rtp_ports", "critical", "6")
    # a day later the batches are gone from resources:recent (the counters stay)
    record(routing, 200, 300, now_ms=T0 + 86_400_000 + window_ms)
    assert redis_client.zcard(routing.keys.resource_recent()) == 1
    assert routing.resource_shortage_counts()["rtp_ports"] == 9

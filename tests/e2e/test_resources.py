"""Running out of media ports is never silent (issue 12): on a lab of its own whose RTP range
holds 5 channels, 12 callers at once and one ready desk. Asterisk refuses the callers it has no
port for before any dialplan runs (no call record can exist for them) and cannot ring the desk
while the callers hold every port; each refusal is in the metric, the supervisors' alert is on
in GET /alerts, and the audit trail says it, and every caller is either recorded or counted."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import httpx
import pytest

from hotline.lab.lab import Lab
from tests.lab_fixtures import CITY, Phones, wait_until

pytestmark = pytest.mark.e2e

CALLERS = 12
PORTS = 10  # a pair per channel with media: 5 channels


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """This module's lab (the plugin's fixtures reset it per test), with a tiny RTP range of its
    own: the session lab takes the slice at (pid % 100), the shipped-city lab (pid + 25), the
    sentinel lab (pid + 50)."""
    pid = os.getpid()
    rtp_start = 20000 + ((pid + 75) % 100) * 200
    the_lab = Lab(city_file=CITY, workdir=tmp_path_factory.mktemp("tiny-rtp-lab"), name=f"tiny-rtp-{pid}",
                  rtp_ports=(rtp_start, rtp_start + PORTS - 1))
    the_lab.start()
    the_lab.start_api()
    try:
        yield the_lab
    finally:
        the_lab.stop()


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    m = re.search(rf"^{name}\{{{re.escape(wanted)}\}} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def test_callers_refused_for_lack_of_rtp_ports_are_counted_alerted_and_audited(phones: Phones, lab: Lab):
    api = httpx.Client(base_url=f"http://127.0.0.1:{lab.api_port}",
                       headers={"Authorization": f"Bearer {lab.api_token}"}, timeout=10)
    phones.desk("desk-101", talk_ms=20000)
    for i in range(CALLERS):
        phones.citizen(f"091555{i:04d}", digits="1", stay_ms=20000)

    def scraped() -> str:
        return api.get("/metrics").raise_for_status().text

    refused = wait_until(lambda: metric(scraped(), "hotline_resource_refused_total", party="caller",
                                        resource="rtp_ports"), 30, "refused callers in GET /metrics")
    text = scraped()
    assert metric(text, "hotline_resource_shortages_total", resource="rtp_ports") >= refused
    assert metric(text, "hotline_resource_shortages_total", resource="file_descriptors") == 0

    # every caller is either on a call record or counted as refused: none is lost silently
    routing = lab.routing()
    recorded = wait_until(lambda: routing.redis.zcard(routing.keys.calls()) + refused >= CALLERS and
                          routing.redis.zcard(routing.keys.calls()), 30, "records of the callers let in")
    assert recorded + refused == CALLERS, (recorded, refused)

    def alert() -> dict | None:
        active = api.get("/alerts").raise_for_status().json()["active"]
        return next((a for a in active if a["kind"] == "resource_shortage"), None)

    shown = wait_until(alert, 15, "the resource_shortage alert in GET /alerts")
    assert (shown["subject"], shown["level"]) == ("rtp_ports", "critical")
    assert "callers refused" in shown["detail"]

    trail = [e for e in routing.events(10_000) if e["type"] == "resource_shortage"]
    assert trail and {e["resource"] for e in trail} == {"rtp_ports"}
    assert sum(int(e["callers_refused"]) for e in trail) == refused
    assert "couldn't allocate a port for RTP" in trail[0]["line"]


def test_the_lab_tells_the_tester_its_limits(lab: Lab):
    limits = lab.info()["limits"]
    first = lab.started_site().rtp_start
    assert limits["rtp_ports"] == [first, first + PORTS - 1]
    assert limits["channels_with_media"] == PORTS // 2
    assert limits["max_calls"] == "no limit"
    # Asterisk was given what it can have: its open-file limit is the one the lab asked for
    pid = lab.started_asterisk().proc.pid
    soft = next(line.split()[3] for line in open(f"/proc/{pid}/limits") if line.startswith("Max open files"))
    assert int(soft) == limits["max_files"]

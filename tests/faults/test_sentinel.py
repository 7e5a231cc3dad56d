"""Fault 4 (tracker issue 4): the Redis primary is lost under Sentinel. A lab of its own
whose bridge, rq worker and test client all use ``redis+sentinel://`` (a primary with AOF,
a replica and three sentinels on loopback); the primary is SIGKILLed while one caller talks
to a desk and one waits, one more calls during the failover and two after it. Every caller
is answered or on a callback list, none is rung twice nor offered to two desks at once, and the bridge logs that
it followed the new primary. A last caller gives up waiting after the failover and gets
a callback task from the rq worker, which followed the new primary too."""

from __future__ import annotations

import collections
import os
import re
import time
from collections.abc import Iterator
from datetime import datetime

import pytest

from hotline.lab.lab import Lab
from hotline.lab.redis_sentinel import SentinelCluster, start_sentinel_cluster
from queueing.callbacks import Callbacks
from tests.faults.ledger import Ledger
from tests.faults.test_faults import desk, place, settle
from tests.lab_fixtures import CITY, Phones, call_of, wait_call, wait_until

pytestmark = pytest.mark.faults

FOLLOWED = "following the new primary"


@pytest.fixture(scope="module")
def sentinel_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, SentinelCluster]]:
    """A second lab (its own Asterisk instance and RTP slice, beside the session's lab if
    that one runs): Lab.start() starts no redis-server of its own when given redis_url."""
    cluster = start_sentinel_cluster(tmp_path_factory.mktemp("sentinel"))
    pid = os.getpid()
    rtp_start = 20000 + ((pid + 50) % 100) * 200  # the session lab takes (pid % 100)
    lab = Lab(city_file=CITY, workdir=tmp_path_factory.mktemp("sentinel-lab"), name=f"sentinel-{pid}",
              redis_url=cluster.url, rtp_ports=(rtp_start, rtp_start + 199))
    try:
        lab.start()
        lab.asterisk.cli("core set verbose 3")
        yield lab, cluster
    finally:
        lab.stop()
        cluster.stop()


def _log_time(line: str) -> float:
    stamp = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})", line)
    return datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp() if stamp else 0.0


def test_redis_primary_killed_bridge_follows_the_new_primary(sentinel_lab, tmp_path):
    lab, cluster = sentinel_lab
    assert lab.redis_server is None and lab.redis_url.startswith("redis+sentinel://")
    routing = lab.routing()  # through the sentinels too
    phones = Phones(lab, tmp_path)
    ledger = Ledger("Redis primary SIGKILL under Sentinel (failover)", lab)
    try:
        first = desk(ledger, phones, "desk-101", talk_ms=6000)
        second = desk(ledger, phones, "desk-102", ready=False, talk_ms=1500)
        routing.set_desk_state("desk-102", "login")

        # Before: one caller on a call with desk-101 when the primary dies, one waiting.
        place(ledger, phones, "0990700001", stay_ms=90000)
        wait_call(lab, "0990700001", ("on_call",), timeout=30)
        place(ledger, phones, "0990700002", stay_ms=90000)
        wait_call(lab, "0990700002", ("queued",), timeout=20)
        primary_before = cluster.primary()

        killed = cluster.kill_primary()
        killed_at = time.time()
        # During: a caller who reaches the IVR while no primary is known.
        place(ledger, phones, "0990700003", stay_ms=90000)
        new_primary, failover_s = cluster.wait_new_primary(killed)
        assert new_primary != primary_before

        bridge_log = lab.bridge_log(0)
        line = wait_until(lambda: next((ln for ln in bridge_log.read_text(errors="replace").splitlines()
                                        if FOLLOWED in ln), None), 20, "the bridge to follow the new primary")
        assert f"{new_primary[0]}:{new_primary[1]}" in line
        bridge_followed_s = _log_time(line) - killed_at
        lab.wait_bridge_heartbeat(timeout=20)
        heartbeat_back_s = time.time() - killed_at

        # After: the desks are set through the sentinels; two more callers.
        routing.set_desk_state("desk-102", "ready")
        place(ledger, phones, "0990700004", stay_ms=90000)
        place(ledger, phones, "0990700005", stay_ms=90000)

        wait_until(lambda: all(call_of(lab, c).get("state") == "ended" for c in ledger.callers), 90,
                   "the five callers answered")
        # And one who gives up waiting (both desks paused): the callback job goes through rq
        # (the bridge's rq client and the worker follow the new primary too).
        for desk_id in ("desk-101", "desk-102"):
            wait_until(lambda: routing.desk(desk_id)["state"] not in ("ringing", "on_call"), 20, f"{desk_id} free")  # noqa: B023
            routing.set_desk_state(desk_id, "paused", reason="fault test")
        place(ledger, phones, "0990700006", stay_ms=3000)
        rec = wait_call(lab, "0990700006", ("abandoned",), timeout=30)
        task = wait_until(lambda: Callbacks(routing.redis).task(rec["call_id"]), 30,
                          "the rq worker to create the callback task")
        assert task.status == "pending"

        row = settle(ledger, timeout=120)
        assert (row["answered"], row["callback"], row["lost"]) == (5, 1, 0), row

        # Nobody was delivered twice: each caller rang one desk phone once and was answered once...
        rang = collections.Counter()
        answered = collections.Counter()
        for phone in (first, second):
            ringing = None
            for entry in phone.log_lines():
                if entry.startswith("RINGING from="):
                    ringing = entry.split("<sip:", 1)[1].split("@", 1)[0]
                    rang[ringing] += 1
                elif entry.startswith("ANSWERED") and ringing:
                    answered[ringing] += 1
        assert rang == answered == collections.Counter(ledger.callers[:5]), (rang, answered)
        # ...and no call was ever offered to two desks at once (the events stream lives on the
        # new primary now): each offer ends (failed: the desk was not rung, e.g. busy with a
        # fallback call; or answered) before the next one.
        records = {c: call_of(lab, c) for c in ledger.callers[:5]}
        ids = {rec["call_id"]: c for c, rec in records.items()}
        timeline = collections.defaultdict(list)
        for e in routing.events_since("-", count=10_000):
            if e.get("call_id") in ids and e.get("type") in ("offered", "offer_failed", "answered"):
                timeline[e["call_id"]].append(e["type"])
        for call_id, kinds in timeline.items():
            open_offers = 0
            for kind in kinds:
                open_offers += 1 if kind == "offered" else -1
                assert open_offers in (0, 1), (call_id, kinds)
            assert kinds[-1] == "answered", (call_id, kinds)
        for rec in records.values():  # answered through hotline routing, or by Asterisk's fallback queue
            assert rec["state"] == "ended" and rec["outcome"] in ("answered", "fallback"), rec

        # The call that ended during or after the failover was closed on the new primary.
        assert records["0990700001"]["desk"] == "desk-101"
        for caller in ("0990700004", "0990700005"):
            assert records[caller]["fallback_reason"] == "", records[caller]  # routed by the bridge again
            assert timeline[records[caller]["call_id"]] == ["offered", "answered"]
        print(f"\nsentinel failover: new primary {new_primary[0]}:{new_primary[1]} named "
              f"{failover_s:.1f} s after the SIGKILL; bridge followed at +{bridge_followed_s:.1f} s, "
              f"heartbeat fresh again by +{heartbeat_back_s:.1f} s; "
              + "; ".join(f"{c}: {r['desk']} {r['outcome']}"
                          + (f" (fallback {r['fallback_reason']})" if r.get("fallback_reason") else "")
                          for c, r in records.items()))
    finally:
        phones.stop()

"""Key names, queue scores and script loading."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from queueing import GENERAL_QUEUE, Keys, Routing, Scripts, UnknownScript, queue_score

ARCHITECTURE = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"
T0 = 1_700_000_000_000


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("call", ("c-1",), "hotline:call:c-1"),
        ("calls", (), "hotline:calls"),
        ("calls_active", (), "hotline:calls:active"),
        ("queue", ("police",), "hotline:queue:police"),
        ("desk", ("desk-9",), "hotline:desk:desk-9"),
        ("desks", (), "hotline:desks"),
        ("desks_ready", ("fire",), "hotline:desks:ready:fire"),
        ("wrapups", (), "hotline:wrapups"),
        ("offers", (), "hotline:offers"),
        ("callbacks", ("general",), "hotline:callbacks:general"),
        ("events", (), "hotline:events"),
        ("wake", (), "hotline:wake"),
        ("callback", ("c-1",), "hotline:callback:c-1"),
        ("callback_tasks", ("police",), "hotline:callback_tasks:police"),
        ("number", ("+8491",), "hotline:number:+8491"),
        ("number_calls", ("+8491",), "hotline:number:+8491:calls"),
        ("number_policy", ("+8491",), "hotline:number:+8491:policy"),
        ("numbers_with_policy", (), "hotline:numbers:policy"),
    ],
)
def test_key_names_follow_the_architecture(name, args, expected):
    assert getattr(Keys(), name)(*args) == expected
    assert getattr(Keys("lab-a:"), name)(*args) == expected.replace("hotline:", "lab-a:", 1)


def test_general_queue_name():
    assert GENERAL_QUEUE == "general"


@pytest.mark.parametrize(
    ("priority", "arrival_ms", "expected"),
    [
        (0, T0, T0),
        (1, T0, 10**13 + T0),
        (2, 5, 2 * 10**13 + 5),
        (99, T0, 99 * 10**13 + T0),
    ],
)
def test_queue_score(priority, arrival_ms, expected):
    assert queue_score(priority, arrival_ms) == expected


def test_priority_outranks_arrival():
    assert queue_score(0, T0 + 3_600_000) < queue_score(1, T0)


@pytest.mark.parametrize("priority", [0, 1, 7, 42, 99])
def test_lua_score_is_exact_and_matches_python(redis_client, priority):
    # Lua numbers print with 14 significant digits unless formatted: scores have up to 16.
    routing = Routing(redis_client)
    routing.arrive("c-1", "+15550100", "PJSIP/trunk-1", now_ms=T0 + 123)
    enqueued = routing.enqueue("c-1", "police", priority, now_ms=T0 + 5000)
    expected = queue_score(priority, T0 + 123)
    assert enqueued.queue_score == expected
    assert int(routing.call("c-1")["queue_score"]) == expected
    assert redis_client.zscore(Keys().queue("police"), "c-1") == expected


def test_every_script_of_the_architecture_table_is_loaded(redis_client):
    table = ARCHITECTURE.read_text(encoding="utf-8").split("## Lua scripts", 1)[1]
    documented = sorted(re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE))
    assert len(documented) == 17
    assert Scripts(redis_client).names == documented


def test_unknown_script_name_is_a_clear_error(redis_client):
    scripts = Scripts(redis_client)
    with pytest.raises(UnknownScript, match="no Lua script named 'claim_nxt'.*known: call_arrive"):
        scripts["claim_nxt"]
    with pytest.raises(UnknownScript):
        scripts["_prelude"]


def test_prefixes_keep_instances_apart(redis_client):
    lab_a, lab_b = Routing(redis_client, prefix="lab-a:"), Routing(redis_client, prefix="lab-b:")
    lab_a.arrive("c-1", "+15550100", "PJSIP/trunk-1", now_ms=T0)
    lab_a.enqueue("c-1", "police", 1, now_ms=T0)
    lab_b.register_desk("d-1", "police", now_ms=T0)
    lab_b.set_desk_state("d-1", "ready", now_ms=T0)

    assert lab_b.claim_next(["police"], 20_000, now_ms=T0) is None
    assert lab_a.queue("police") == ["c-1"]
    assert lab_b.call("c-1") == {}
    assert redis_client.exists("hotline:call:c-1") == 0
    assert sorted(redis_client.keys("lab-a:*")) == [
        "lab-a:call:c-1", "lab-a:calls", "lab-a:calls:active", "lab-a:events",
        "lab-a:number:+15550100", "lab-a:number:+15550100:calls", "lab-a:queue:police",
    ]

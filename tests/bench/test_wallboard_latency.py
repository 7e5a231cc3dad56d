"""The wallboard phase's pure parts: which events change a desk's state, and pairing the pages' draws."""

from __future__ import annotations

from bench.wallboard_latency import desk_changes, pair_draws


def test_the_events_that_change_a_desk_and_the_state_each_leaves_it_in():
    events = [
        {"type": "desk_state", "desk_id": "d-1", "state": "ready", "ms": "1000"},
        {"type": "offered", "desk_id": "d-1", "call_id": "c", "state": "ringing", "ms": "1100"},
        {"type": "answered", "desk_id": "d-1", "call_id": "c", "state": "on_call", "ms": "1300"},
        {"type": "call_ended", "desk_id": "d-1", "call_id": "c", "desk_state": "wrap_up", "ms": "1900"},
        {"type": "call_queued", "call_id": "c2", "queue": "police", "ms": "2000"},  # no desk
        {"type": "offer_failed", "desk_id": "d-2", "call_id": "c2", "desk_state": "paused", "ms": "2100"},
        {"type": "desk_state", "desk_id": "d-3", "state": "ready", "ms": "not a time"},
    ]
    assert desk_changes(events) == [("d-1", "ready", 1000.0), ("d-1", "ringing", 1100.0), ("d-1", "on_call", 1300.0),
                                    ("d-1", "wrap_up", 1900.0), ("d-2", "paused", 2100.0)]


def test_draws_pair_with_the_latest_change_before_them():
    changes = [("d-1", "ringing", 1000.0), ("d-1", "on_call", 1200.0), ("d-1", "ringing", 5000.0)]
    draws = [(1, "d-1", "ringing", 1040.0), (1, "d-1", "on_call", 1260.0), (1, "d-1", "ringing", 5010.0),
             (2, "d-1", "ringing", 1090.0), (2, "d-1", "ringing", 5100.0),  # page 2 skipped on_call
             (2, "d-1", "ready", 900.0),  # a state drawn from before the run: no change to pair with
             (2, "d-1", "ringing", 1300.0)]  # page 2 drew ringing again after on_call: the past, stale
    figures = pair_draws(changes, draws, pages=2)
    assert (figures["changes"], figures["draws_paired"], figures["draws_missed"], figures["draws_stale"]) == (3, 6, 1, 1)
    assert figures["draw_ms"]["n"] == 6 and figures["draw_ms"]["max"] == 300.0

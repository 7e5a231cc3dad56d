from bench.pop_latency import dial_begin_stamp, pair_stamps


def test_pairs_by_call_id_with_latest_invite_before_first_pop() -> None:
    invites = [("a", 1000.0), ("a", 5000.0), ("b", 2000.0), ("c", 3000.0)]
    pops = [("a", 5100.0), ("a", 5300.0), ("b", 2050.0), ("x", 10.0)]
    p = pair_stamps(invites, pops)
    assert sorted(p.latencies_ms) == [50.0, 100.0]
    assert (p.pops_without_invite, p.invites_without_pop) == (1, 1)
    j = p.to_json()
    assert j["n"] == 2 and j["max"] == 100.0 and j["p50"] == 75.0


def test_pop_before_any_invite_is_an_orphan() -> None:
    p = pair_stamps([("a", 200.0)], [("a", 100.0)])
    assert p.latencies_ms == [] and p.pops_without_invite == 1


def test_dial_begin_to_a_desk() -> None:
    ev = {"Event": "DialBegin", "DestChannel": "PJSIP/police-001-0000002a", "Uniqueid": "1764.12"}
    assert dial_begin_stamp(ev, 5.0) == ("1764.12", 5.0)
    assert dial_begin_stamp({**ev, "Event": "Newchannel"}, 5.0) is None
    assert dial_begin_stamp({**ev, "DestChannel": "Local/x@y-1;1"}, 5.0) is None

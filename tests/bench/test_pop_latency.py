from bench.pop_latency import dial_begin_stamp, pair_stamps, pop_figures, spread_desks
from bench.report import markdown, pop_section


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


def test_spread_desks_takes_each_agency_in_turn() -> None:
    desks = [("p1", "police"), ("p2", "police"), ("p3", "police"), ("f1", "fire"), ("a1", "ambulance")]
    assert spread_desks(desks, 4) == [("p1", "police"), ("f1", "fire"), ("a1", "ambulance"), ("p2", "police")]
    assert spread_desks(desks, 50) == [("p1", "police"), ("f1", "fire"), ("a1", "ambulance"), ("p2", "police"), ("p3", "police")]
    assert spread_desks(desks, 0) == [] and spread_desks([], 3) == []


def test_pop_figures_count_what_was_seen() -> None:
    invites = [("a", 1000.0), ("a", 5000.0), ("b", 2000.0)]
    pops = [("a", 5100.0), ("b", 2050.0), ("b", 2060.0)]
    f = pop_figures(50, 48, 3, invites, pops)
    assert (f["consoles_requested"], f["consoles_open"], f["calls"]) == (50, 48, 3)
    assert (f["dial_begins"], f["calls_rung"], f["pops"], f["pops_paired"]) == (3, 2, 3, 2)
    assert f["pop_ms"]["max"] == 100.0 and f["pop_ms"]["n"] == 2


def test_the_report_shows_the_pop_figures() -> None:
    pop = {**pop_figures(50, 48, 3, [("a", 1000.0), ("c", 1.0)], [("a", 1040.0)]), "rate": 5.0,
           "console_error_count": 2}
    lines = pop_section(pop)
    assert lines[3] == "| 48 / 50 | 3 | 5 | 2 | 1 | 1 | 40 | 40 | 40 | 40 |"
    assert lines[4] == "\n1 calls rung with no pop; 2 console errors."
    assert "### Screen pop" in markdown({"pop": pop})
    assert pop_section({})[3].startswith("| — / — |")

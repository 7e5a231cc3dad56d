"""No key is lost (issue 11): a citizen who presses at once after the answer, before the
first prompt, while the AGI session connects or Redis answers `arrive`, is routed by that
key the first time, on the real lab (SIPp citizens, Asterisk 22, the bridge, Redis).

No desk is ready: each caller stays queued where its key sent it, so the record's queue
and choice say what the IVR made of the key. "Slow arrive": Redis holds every write (CLIENT
PAUSE) as the call comes in, so the IVR's `arrive` answers only after the keys were pressed
and no AGI command listens meanwhile (res_agi reads and drops what arrives then): the
moment a busy Redis or bridge leaves a key unheard. Kept under the bridge's Redis timeout
(2 s) and the dialplan's heartbeat watchdog (5 s in the e2e city)."""

from __future__ import annotations

import json

import pytest

from tests.lab_fixtures import call_of, wait_call, wait_until

pytestmark = pytest.mark.e2e

AGENCY_OF_KEY = {"1": "police", "2": "fire", "3": "medical", "4": "disaster"}
SLOW_ARRIVE_MS = 1700


def hold_redis_writes(hotline, ms: int) -> None:
    hotline.routing().redis.execute_command("CLIENT", "PAUSE", ms, "WRITE")


def assert_routed_by_its_key(hotline, caller: str, key: str, after_ms: int) -> None:
    rec = wait_call(hotline, caller, ("queued",), timeout=40)
    what = f"caller {caller} pressing {key} {after_ms} ms after the 200 OK: {rec}"
    assert (rec["queue"], rec["choice"], rec["route_reason"]) == (AGENCY_OF_KEY[key], key, "chosen"), what
    # Acted on the first time: no "no input" round, no menu heard again.
    steps = json.loads(rec["ivr_path"])
    assert [(s["key"], s["result"]) for s in steps] == [(key, "chosen")], what


OFFSETS_MS = [0, 50, 100, 200, 500, 1500]


@pytest.mark.parametrize("slow_arrive", [False, True], ids=["", "slow-arrive"])
def test_a_key_pressed_soon_after_the_answer_routes_to_its_agency(hotline, phones, slow_arrive):
    # One caller per moment, all at once (each its own key, so a key landing on another's call
    # would show); with slow_arrive, Redis holds the writes while they all come in.
    callers = {f"0955{int(slow_arrive)}{after_ms:05d}": ("1234"[i % 4], after_ms) for i, after_ms in enumerate(OFFSETS_MS)}
    if slow_arrive:
        hold_redis_writes(hotline, SLOW_ARRIVE_MS)
    for caller, (key, after_ms) in callers.items():
        phones.citizen(caller, key, first_digit_after_ms=after_ms, stay_ms=60_000)
    for caller, (key, after_ms) in callers.items():
        assert_routed_by_its_key(hotline, caller, key, after_ms)


def test_a_burst_of_fifty_early_keys_all_reach_their_agency(hotline, phones):
    callers = {f"0956{n:06d}": ("1234"[n % 4], n * 10) for n in range(50)}  # keys 0-490 ms after the answer
    hold_redis_writes(hotline, SLOW_ARRIVE_MS)  # the first callers' arrive waits; the last ones' does not
    for caller, (key, after_ms) in callers.items():
        phones.citizen(caller, key, first_digit_after_ms=after_ms, stay_ms=90_000)
    def not_queued() -> dict[str, dict]:
        return {c: call_of(hotline, c) for c in callers if call_of(hotline, c).get("state") != "queued"}

    try:
        wait_until(lambda: not not_queued(), 90, "all 50 callers queued")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; not queued: {not_queued()}") from None
    for caller, (key, after_ms) in callers.items():
        assert_routed_by_its_key(hotline, caller, key, after_ms)
    routing = hotline.routing()
    assert routing.redis.zcard(routing.keys.queue("general")) == 0  # nobody sent there for "no input"
    for agency in AGENCY_OF_KEY.values():
        expected = sum(AGENCY_OF_KEY[key] == agency for key, _ in callers.values())
        assert routing.redis.zcard(routing.keys.queue(agency)) == expected, agency

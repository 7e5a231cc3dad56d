"""The ``answer`` phase: NENA answer time, from the call's arrival at Asterisk to a desk
bridged with the caller, per kind of caller, at low and at high load, for hotline's two
[ivr] modes and for the native dialplan menu + app_queue, on one Asterisk in one run.

It runs on a rig of its own ("bench-answer"): the shipped city file's languages, prompts
and [ivr] timers (hotline.toml), a few desks per agency that answer after 1-2 s and talk a
few seconds, so the desks, not the machine, are what callers wait for at high load.

Both moments are Asterisk's, read from its AMI events (``timestampevents``: Asterisk's own
clock) the same way for every path: arrival = the caller's ``Newchannel``, answer = the
first ``BridgeEnter`` that puts the caller's channel and another one (the desk's) in one
bridge. Hotline's Redis records are not used: the native path has none.
"""

from __future__ import annotations

import threading
import time
import wave
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from bench.city import BenchCity
from bench.rig import Rig
from bench.sipp_load import SippProcess, start_citizens
from bench.stats import percentile, share_within
from config.names import IvrMode
from hotline.lab.asterisk_sandbox import default_cache_dir
from hotline.lab.speech_audio import Sound, sound_pcap
from telephony import ami_blocking

WITHIN_S = (10, 15, 20)  # NFPA 1225: 90 % in 10 s; NENA-STA-020: 90 % in 15 s, 95 % in 20 s
GOAL_WITHIN_S, GOAL_SHARE = 15, 0.95
# Not worse than native, give or take what moves between two runs of the same path: the
# desks' own 1-2 s answer delay moves a p95 by about half a second, and one caller of 20
# either side of 15 s moves the share by 5 points.
NOT_WORSE_MARGIN_S = 0.5
NOT_WORSE_SHARE_MARGIN = 0.05


class CallerType(StrEnum):
    KEY_EARLY = "key_early"  # presses its agency's key half a second after the answer
    KEY_AFTER_MENU = "key_after_menu"  # hears every language's menu, then presses while the line waits
    SILENT = "silent"  # presses nothing, says nothing
    SPEAKING = "speaking"  # speaks (an espeak-ng sentence in noise, as RTP), presses nothing


class AnswerPath(StrEnum):
    MENU_FIRST = "menu_first"  # (a) hotline, [ivr] mode = menu_first
    HUMAN_FIRST = "human_first"  # (b) hotline, [ivr] mode = human_first
    NATIVE = "native"  # (n) dialplan Background/WaitExten with the same prompts, then app_queue


PATH_TITLES = {AnswerPath.MENU_FIRST: "(a) hotline menu_first", AnswerPath.HUMAN_FIRST: "(b) hotline human_first",
               AnswerPath.NATIVE: "(n) native Background + app_queue"}
EARLY_KEY_MS = 500
# The speaking caller: the speech detector's own Vietnamese sentence (an espeak-ng voice at
# a normal pace) over street-like pink noise 20 dB below it.
SPEAKER = Sound("vi", 160, 50, 0.0, "pink", 20.0)


@dataclass(frozen=True)
class AnswerPlan:
    desks_per_agency: int = 5
    desk_answer_ms: tuple[int, int] = (1000, 2000)  # a call-taker picks up after a realistic 1-2 s
    talk_ms: int = 4000
    window_s: float = 40  # callers arrive over this long, at each load
    low_load: float = 0.3  # of what the desks can answer: desks mostly free
    high_load: float = 0.95  # near what they can answer
    # The time a desk is taken by one call beyond answer and talk (SIP set-up, hang-up).
    desk_overhead_s: float = 0.1
    # Each caller waits a uniform 0 to this before calling: random arrivals instead of
    # SIPp's even spacing, under which nobody would wait below the desks' rate.
    arrival_spread_ms: int = 5000

    def desk_rate(self) -> float:
        """Calls per second every desk together can answer."""
        per_call_s = sum(self.desk_answer_ms) / 2000 + self.talk_ms / 1000 + self.desk_overhead_s
        return 4 * self.desks_per_agency / per_call_s

    def rates(self) -> dict[str, float]:
        return {"low": round(self.low_load * self.desk_rate(), 2), "high": round(self.high_load * self.desk_rate(), 2)}


# --- what Asterisk said: arrivals and answers (pure) ------------------------------------------


def event_time(message: dict[str, str], read_at: float) -> float:
    """An AMI event's moment: its ``Timestamp`` (Asterisk's clock), else when it was read."""
    try:
        return float(message["Timestamp"])
    except (KeyError, ValueError):
        return read_at


@dataclass
class AnswerLedger:
    """Each bench caller's arrival and answer from AMI events, by caller number. Only the
    numbers starting with one of ``prefixes`` are bench callers (the desk legs have other
    numbers, or come after the caller's own channel)."""

    prefixes: set[str] = field(default_factory=set)
    arrived: dict[str, float] = field(default_factory=dict)  # caller number → Newchannel
    answered: dict[str, float] = field(default_factory=dict)  # caller number → bridged with a desk
    _caller_of: dict[str, str] = field(default_factory=dict)  # caller's Uniqueid → number
    _bridges: dict[str, set[str]] = field(default_factory=dict)  # BridgeUniqueid → Uniqueids in it

    def _bench_number(self, number: str) -> bool:
        return any(number.startswith(p) for p in self.prefixes)

    def feed(self, message: dict[str, str], read_at: float) -> None:
        event = message.get("Event")
        if event == "Newchannel":
            number = message.get("CallerIDNum", "")
            if self._bench_number(number) and number not in self.arrived:
                self.arrived[number] = event_time(message, read_at)
                self._caller_of[message.get("Uniqueid", "")] = number
        elif event == "BridgeEnter":
            members = self._bridges.setdefault(message.get("BridgeUniqueid", ""), set())
            members.add(message.get("Uniqueid", ""))
            callers = [self._caller_of[u] for u in members if u in self._caller_of]
            if len(members) >= 2 and callers:
                for number in callers:
                    self.answered.setdefault(number, event_time(message, read_at))
        elif event == "BridgeDestroy":
            self._bridges.pop(message.get("BridgeUniqueid", ""), None)

    def answer_times_s(self, prefix: str) -> tuple[int, list[float]]:
        """(calls that arrived, answer times in s of those answered) of one prefix's callers."""
        numbers = [n for n in self.arrived if n.startswith(prefix)]
        return len(numbers), [self.answered[n] - self.arrived[n] for n in numbers if n in self.answered]


def answer_figures(calls: int, times_s: list[float]) -> dict[str, Any]:
    """count, answered, p50/p90/p95/max (s) and the share of all calls answered within
    10/15/20 s (a call never answered counts as not within)."""
    out: dict[str, Any] = {"calls": calls, "answered": len(times_s)}
    for p in (50, 90, 95):
        out[f"p{p}"] = percentile(times_s, p)
    out["max"] = max(times_s) if times_s else None
    for s in WITHIN_S:
        out[f"within_{s}s"] = share_within(times_s, s, calls)
    return out


def meets_goal(figures: dict[str, Any]) -> bool | None:
    """≥ 95 % of the calls answered within 15 s; None when there were no calls."""
    share = figures.get(f"within_{GOAL_WITHIN_S}s")
    return None if share is None else share >= GOAL_SHARE


def not_worse_than_native(figures: dict[str, Any], native: dict[str, Any]) -> bool | None:
    """Hotline's p95 at most native's and its share within 15 s at least native's (each
    give or take its margin); None when either side has no figure."""
    p95, n95 = figures.get("p95"), native.get("p95")
    share, nshare = figures.get(f"within_{GOAL_WITHIN_S}s"), native.get(f"within_{GOAL_WITHIN_S}s")
    if p95 is None or n95 is None or share is None or nshare is None:
        return None
    return bool(p95 <= n95 + NOT_WORSE_MARGIN_S and share >= nshare - NOT_WORSE_SHARE_MARGIN)


def verdicts(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per hotline path: does every type meet the goal at low load (desks available), and
    is every type at every load not worse than native."""
    native = {(r["load"], t): f for r in runs if r["path"] == AnswerPath.NATIVE for t, f in r["types"].items()}
    out: dict[str, Any] = {}
    for path in (AnswerPath.MENU_FIRST, AnswerPath.HUMAN_FIRST, AnswerPath.NATIVE):
        mine = [r for r in runs if r["path"] == path]
        if not mine:
            continue
        goal = [meets_goal(f) for r in mine if r["load"] == "low" for f in r["types"].values()]
        entry: dict[str, Any] = {"goal_at_low_load": None if not goal or None in goal else all(goal)}
        entry["missed_goal"] = [f"{r['load']} {t}" for r in mine if r["load"] == "low"
                                for t, f in r["types"].items() if meets_goal(f) is False]
        if path != AnswerPath.NATIVE:
            cmp = {(r["load"], t): not_worse_than_native(f, native.get((r["load"], t), {}))
                   for r in mine for t, f in r["types"].items()}
            entry["not_worse_than_native"] = None if not cmp or None in cmp.values() else all(cmp.values())
            entry["worse_than_native"] = [f"{load} {t}" for (load, t), ok in cmp.items() if ok is False]
        out[path] = entry
    return out


# --- the listener -------------------------------------------------------------------------


class AnswerClock:
    """Reads the AMI's call events in a thread into an ``AnswerLedger``."""

    def __init__(self, rig: Rig) -> None:
        site = rig.site
        self.ami = ami_blocking.connect(site.ami_bind, site.ami_port, site.ami_user, site.ami_secret,
                                        events="call", timeout=10, id_prefix="bench-answer")
        self.ledger = AnswerLedger()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._listen, name="bench-answer-ami", daemon=True)

    def start(self) -> AnswerClock:
        self.thread.start()
        return self

    def watch(self, prefix: str) -> None:
        with self._lock:
            self.ledger.prefixes.add(prefix)

    def times(self, prefix: str) -> tuple[int, list[float]]:
        with self._lock:
            return self.ledger.answer_times_s(prefix)

    def _listen(self) -> None:
        while not self._stop.is_set():
            message = self.ami.read_message(time.monotonic() + 0.5)
            if message is not None:
                with self._lock:
                    self.ledger.feed(message, time.time())

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.ami.close()


# --- media and timing of the city's menu ------------------------------------------------------


def menu_seconds(lab_name: str, languages: Iterable[str]) -> float:
    """How long every language's menu plays, from the prompt files the lab made."""
    total = 0.0
    for lang in languages:
        with wave.open(str(default_cache_dir() / "prompts" / lab_name / lang / "menu.wav")) as w:
            total += w.getnframes() / w.getframerate()
    return total


# --- the phase --------------------------------------------------------------------------------


@dataclass
class Crowd:
    """One SIPp process per caller type, all arriving together through one path."""

    processes: dict[CallerType, tuple[str, SippProcess]] = field(default_factory=dict)  # type → (prefix, SIPp)

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        return all(p.wait(max(0.1, deadline - time.monotonic())) for _, p in self.processes.values())

    def stop(self) -> None:
        for _, p in self.processes.values():
            p.stop()


def key_after_menu_ms(menu_s: float) -> int:
    """After every language's menu, a second into the wait for a key."""
    return int(menu_s * 1000) + 1000


def run_load(rig: Rig, clock: AnswerClock, path: AnswerPath, number: str, load: str, rate: float,
             plan: AnswerPlan, menu_s: float, voice: Path, line_up_ms: int,
             progress: Callable[[str], object]) -> dict[str, Any]:
    per_type = rate / len(CallerType)
    calls = max(1, round(per_type * plan.window_s))
    crowd = Crowd()
    presses = {CallerType.KEY_EARLY: ("field", EARLY_KEY_MS), CallerType.KEY_AFTER_MENU: ("field", key_after_menu_ms(menu_s)),
               CallerType.SILENT: ("", 0), CallerType.SPEAKING: ("voice", EARLY_KEY_MS)}
    t0, since_ms = time.monotonic(), int(time.time() * 1000) - 1000
    try:
        for n, (caller_type, (press, after_ms)) in enumerate(presses.items()):
            # Each type's SIPp starts one arrival gap after the previous one: the types take
            # turns, one caller every 1/rate s, instead of four arriving at the same instant.
            if n:
                time.sleep(1 / rate)
            prefix = rig.caller_prefix()
            clock.watch(prefix)
            name = f"answer-{path}-{load}-{caller_type}"
            crowd.processes[caller_type] = (prefix, start_citizens(
                rig.running_lab.sip_target, number, rig.workdir / "sipp", name, prefix, per_type, calls,
                max_concurrent=500, press=press, first_key_after_ms=after_ms, line_up_ms=line_up_ms, voice=voice,
                arrival_spread_ms=plan.arrival_spread_ms))
        # Every caller's longest path: the window, the whole menu, the wait, a desk's call.
        finished = crowd.wait(plan.window_s + plan.arrival_spread_ms / 1000 + line_up_ms / 1000 + 30)
    finally:
        crowd.stop()
    settle = rig.settle(30)
    types = {}
    sipp_failed = 0
    for caller_type, (prefix, sipp) in crowd.processes.items():
        arrived, times = clock.times(prefix)
        types[caller_type] = {**answer_figures(arrived, times), "sent": calls}
        sipp_failed += sipp.failed_calls()
    run = {"path": path, "load": load, "rate": rate, "calls_per_type": calls, "seconds": round(time.monotonic() - t0, 1),
           "sipp_finished": finished, "sipp_failed": sipp_failed, "settle": settle, "types": types}
    if path != AnswerPath.NATIVE:
        run["route_reasons"] = route_reasons(rig, {t: prefix for t, (prefix, _) in crowd.processes.items()}, since_ms)
    progress(f"    {PATH_TITLES[path]}, {load} load ({rate:g} calls/s): " + "; ".join(
        f"{t} {f['answered']}/{f['calls']} p95 {_s(f['p95'])}" for t, f in types.items()))
    return run


def route_reasons(rig: Rig, prefixes: dict[CallerType, str], since_ms: int) -> dict[str, dict[str, int]]:
    """How hotline routed each type's callers (its call records' ``route_reason``): shows
    which way the code took them (the answer times come from Asterisk, not from these)."""
    routing = rig.routing()
    ids = routing.redis.zrangebyscore(routing.keys.calls(), since_ms, "+inf")
    pipe = routing.redis.pipeline(transaction=False)
    for call_id in ids:
        pipe.hmget(routing.keys.call(str(call_id)), "caller", "route_reason")
    out: dict[str, Counter[str]] = {t: Counter() for t in prefixes}
    for caller, reason in pipe.execute():
        for caller_type, prefix in prefixes.items():
            if caller and caller.startswith(prefix):
                out[caller_type][reason or "none"] += 1
    return {t: dict(c) for t, c in out.items()}


def _s(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f} s"


def run_answer_time(workdir: Path, plan: AnswerPlan, shipped_city: Path, out: dict[str, Any],
                    progress: Callable[[str], object] = print) -> None:
    """The whole phase on a rig of its own; the figures as JSON into ``out``, each run's as
    soon as it is done (a later failure keeps them)."""
    folder = workdir / "answer"
    cities = {mode: BenchCity(plan.desks_per_agency, spoken_from=shipped_city, mode=mode.value) for mode in IvrMode}
    folder.mkdir(parents=True, exist_ok=True)
    files = {mode: city.write(folder / f"city-{mode}.toml") for mode, city in cities.items()}
    rig = Rig(folder, cities[IvrMode.MENU_FIRST], talk_ms=plan.talk_ms, bare_hold_s=3.0, progress=progress,
              name="bench-answer", desk_answer_ms=plan.desk_answer_ms)
    out.update({"plan": {"desks": 4 * plan.desks_per_agency, "desk_answer_ms": list(plan.desk_answer_ms),
                                    "talk_ms": plan.talk_ms, "window_s": plan.window_s, "rates": plan.rates(),
                                    "arrival_spread_ms": plan.arrival_spread_ms,
                                    "early_key_ms": EARLY_KEY_MS, "speaker": SPEAKER.name,
                                    "city_ivr": cities[IvrMode.MENU_FIRST].ivr()},
                "runs": []})
    try:
        rig.start()
        menu_s = menu_seconds(rig.name, rig.city.languages)
        ivr = rig.city.ivr()
        # Longest path with no key: every attempt's menu and wait, the last prompt, then a desk.
        line_up_ms = int(1000 * (ivr["attempts"] * (menu_s + ivr["no_input_timeout_s"]) + 60))
        out["plan"].update({"menu_s": round(menu_s, 2), "key_after_menu_ms": key_after_menu_ms(menu_s)})
        voice = sound_pcap(SPEAKER)
        clock = AnswerClock(rig).start()
        paths = rig.paths
        try:
            for path in (AnswerPath.MENU_FIRST, AnswerPath.NATIVE, AnswerPath.HUMAN_FIRST):
                if path == AnswerPath.HUMAN_FIRST:
                    rig.restart_bridge(files[IvrMode.HUMAN_FIRST])
                number = paths["native" if path == AnswerPath.NATIVE else "hotline"].number
                for load, rate in plan.rates().items():
                    out["runs"].append(run_load(rig, clock, path, number, load, rate, plan, menu_s, voice,
                                                line_up_ms, progress))
        finally:
            clock.stop()
    finally:
        rig.stop()
        out["verdicts"] = verdicts(out["runs"])

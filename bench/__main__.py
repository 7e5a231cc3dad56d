"""``python -m bench``: the whole benchmark in one run (see BENCHMARKS.md).

Starts a lab named "bench", then measures, in this order: the highest call rate with no
failed call for (a) hotline, (b) native and (c) bare; the key → desk-INVITE delay at a
fixed moderate rate; the most callers held with music; the claim script against a
trivial EVAL; the FastAGI round trip with 200 sessions; a profile of the bridge; and the
DialBegin → screen pop delay in call-takers' consoles (one headless chromium); a desk's change →
drawn on supervisors' wallboards; the cost of scraping /metrics every second at the hotline's best rate;
and, on a lab of its own with the shipped city's prompts, the answer time (arrival → a desk
bridged) per kind of caller for hotline's two menu modes and the native menu.
Writes results.json, report.md and report.png to bench/results/<time>/.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.answer_time import AnswerPlan, run_answer_time
from bench.capacity import CapacitySearch, SearchPlan, find_capacities
from bench.city import BenchCity
from bench.fastagi_rtt import bridge_ivr_round_trips, echo_round_trips
from bench.held import HeldPlan, hold_callers
from bench.machine import NoiseMeter, describe
from bench.pop_consoles import run_pop
from bench.profile import finish_profile, start_profile
from bench.redis_claim import claim_benchmark
from bench.report import update_benchmarks_md, write_report
from bench.rig import Rig
from bench.trial import TrialPlan, Trials
from bench.wallboard_pages import run_metrics_cost, run_wallboard
from hotline.lab.asterisk_sandbox import default_cache_dir, ensure_root
from queueing.errors import RoutingRefused

REPO = Path(__file__).resolve().parent.parent


def close_fake_calls(rig: Rig, call_ids: list[str]) -> int:
    """Hang up the FastAGI test's fake calls in Redis, as Asterisk's hang-up event would,
    so nothing is left live; returns how many never got a record (the IVR sent them to
    the fallback queue)."""
    routing = rig.routing()
    unrecorded = 0
    for call_id in call_ids:
        try:
            routing.hangup(call_id, 0)
        except RoutingRefused:
            unrecorded += 1
    return unrecorded


@dataclass(frozen=True)
class Mode:
    """How long and how far each measurement goes."""

    name: str
    trial_s: float
    max_trials: int
    fixed_rate: float
    fixed_rate_s: float
    held_levels: tuple[int, ...]
    held_arrival_rate: float
    held_window_s: float
    claim_requests: int
    claim_python: int
    fastagi_calls: int  # per session, on the bridge's ivr route
    echo_calls: int
    profile_s: float
    pop_rate: float  # calls/s to the consoles' desks
    pop_s: float
    answer_window_s: float  # answer time: callers arrive this long at each load, for each path


QUICK = Mode("quick", trial_s=4, max_trials=3, fixed_rate=20, fixed_rate_s=5, held_levels=(100, 300),
             held_arrival_rate=50, held_window_s=3, claim_requests=3000, claim_python=1000,
             fastagi_calls=2, echo_calls=2, profile_s=8,
             pop_rate=5, pop_s=6, answer_window_s=20)
FULL = Mode("full", trial_s=10, max_trials=8, fixed_rate=20, fixed_rate_s=20,
            held_levels=(250, 500, 750, 1000, 1500, 2000), held_arrival_rate=40, held_window_s=5,
            claim_requests=20000, claim_python=5000, fastagi_calls=5, echo_calls=5, profile_s=15,
            pop_rate=5, pop_s=20, answer_window_s=40)

FASTAGI_SESSIONS = 200


def _args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short trials and small plateaus (~3-4 min)")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results", help="parent folder of the run folder")
    p.add_argument("--desks-per-agency", type=int, default=100, help="desks of each of the 4 agencies (default 100)")
    p.add_argument("--talk-ms", type=int, default=2000, help="how long a desk talks before hanging up")
    p.add_argument("--first-key-ms", type=int, default=1500,
                   help="when the caller presses its key after the answer (default 1500: having heard "
                        "the first option)")
    p.add_argument("--consoles", type=int, default=50,
                   help="pop: consoles opened (pages of one headless chromium), at most one per desk (default 50)")
    p.add_argument("--pop-rate", type=float, default=None,
                   help="pop: calls/s to the consoles' desks (default 5)")
    p.add_argument("--wallboards", type=int, default=50,
                   help="wallboard: supervisors' pages opened (viewers, one headless chromium; default 50)")
    p.add_argument("--answer-desks-per-agency", type=int, default=AnswerPlan.desks_per_agency,
                   help=f"answer: desks of each agency on its own lab (default {AnswerPlan.desks_per_agency})")
    p.add_argument("--only", default="capacity,latency,held,redis,fastagi,profile,pop,wallboard,metrics,answer",
                   help="comma-separated parts to run (default: all)")
    p.add_argument("--update-benchmarks-md", action="store_true",
                   help="write this run's figures into BENCHMARKS.md (between its bench markers)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _args(argv)
    mode = QUICK if args.quick else FULL
    parts = set(args.only.split(","))
    # Stopped by SIGTERM or Ctrl-C (even when started in the background, where SIGINT
    # comes ignored): unwind, so the lab and the SIPp processes are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if os.geteuid() != 0:
        print("bench: needs root (the lab runs Asterisk in a chroot)", file=sys.stderr)
        return 2
    # Thousands of channels: Asterisk inherits this process's limit on open files.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))

    started = datetime.now()
    workdir = (args.out / started.strftime("%Y%m%d-%H%M%S")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    city = BenchCity(desks_per_agency=args.desks_per_agency)
    plan = TrialPlan(first_key_after_ms=args.first_key_ms)
    rig = Rig(workdir, city, talk_ms=args.talk_ms, bare_hold_s=3.0)
    results: dict[str, Any] = {
        "command": "python -m bench " + shlex.join(argv), "mode": mode.name,
        "started": started.isoformat(timespec="seconds"), "workdir": str(workdir),
        "settings": {"desks_per_agency": city.desks_per_agency, "desks": len(city.all_desks()),
                     "talk_ms": args.talk_ms, "desk_answers_after_ms": "uniform 0-200",
                     "first_key_after_ms": plan.first_key_after_ms, "answer_within_s": plan.answer_within_s,
                     "bare_hold_s": rig.bare_hold_s, "trial_s": mode.trial_s, "max_trials": mode.max_trials,
                     "fixed_rate": mode.fixed_rate, "fixed_rate_s": mode.fixed_rate_s,
                     "held_levels": mode.held_levels, "held_arrival_rate": mode.held_arrival_rate,
                     "fastagi_sessions": FASTAGI_SESSIONS, "wrap_up_s": 0, "queue_strategy": "leastrecent",
                     "consoles": args.consoles, "wallboards": args.wallboards,
                     "pop_rate": args.pop_rate or mode.pop_rate, "pop_s": mode.pop_s,
                     "answer_window_s": mode.answer_window_s},
        "noise": {}, "errors": {},
    }
    print(f"hotline bench ({mode.name}): results in {workdir}")

    def phase(name: str, fn: Callable[[], None]) -> None:
        if name not in parts:
            return
        print(f"== {name}")
        meter = NoiseMeter().start()
        t = time.monotonic()
        try:
            fn()
        except Exception as exc:  # one broken part must not lose the others' figures
            traceback.print_exc()
            results["errors"][name] = f"{type(exc).__name__}: {exc}"
        results["noise"][name] = {**meter.read(), "seconds": round(time.monotonic() - t, 1)}
        (workdir / "results.json").write_text(json.dumps(results, indent=2, default=str))

    try:
        if parts - {"answer"}:  # the answer phase runs on a lab of its own
            rig.start()
            results["machine"] = describe(REPO, rig.asterisk.root)
        trials = Trials(rig, plan)
        paths = rig.paths if rig.lab else {}
        desk_limit = len(city.all_desks()) / (0.1 + args.talk_ms / 1000 + 0.1)
        searches = {}

        def capacity() -> None:
            for key, start, ceiling in (("hotline", 20, 0.8 * desk_limit), ("native", 20, 0.8 * desk_limit),
                                        ("bare", 40, 400)):
                searches[key] = CapacitySearch(paths[key], SearchPlan(
                    start_rate=start, max_rate=round(ceiling), trial_s=mode.trial_s, max_trials=mode.max_trials))
            try:
                find_capacities(trials, list(searches.values()))
            finally:
                results["capacity"] = {key: s.to_json() for key, s in searches.items()}

        def latency() -> None:
            results["latency"] = {"fixed_rate": mode.fixed_rate, "fixed": {}, "near_limit": {}}
            for key in ("hotline", "native"):
                t = trials.run(paths[key], mode.fixed_rate, mode.fixed_rate_s, tag="(fixed rate)")
                results["latency"]["fixed"][key] = t.to_json()
            for key, search in searches.items():
                best = search.best_trial()
                if best is not None and paths[key].to_desk:
                    results["latency"]["near_limit"][key] = best.to_json()

        def held() -> None:
            results["held"] = {}
            for key in ("native", "hotline"):
                results["held"][key] = hold_callers(rig, paths[key], HeldPlan(
                    mode.held_levels, mode.held_arrival_rate, window_s=mode.held_window_s)).to_json()

        def redis() -> None:
            results["redis_claim"] = claim_benchmark(rig.redis_url, city.agencies, mode.claim_requests, 50,
                                                     mode.claim_python)

        def fastagi() -> None:
            rig.set_desks("offline")  # the fake callers must stay queued, not be delivered
            ivr: dict[str, Any] = {}
            try:
                ivr = bridge_ivr_round_trips(rig.site.agi_port, FASTAGI_SESSIONS, mode.fastagi_calls, "benchagi")
            finally:
                ivr["unrecorded_calls"] = close_fake_calls(rig, ivr.pop("call_ids", []))
                rig.set_desks("ready")
            echo = echo_round_trips(FASTAGI_SESSIONS, mode.echo_calls, 20, workdir / "agi-echo.log")
            results["fastagi"] = {"bridge_ivr": ivr, "echo_server": echo}
            for name, r in results["fastagi"].items():
                rt = r["round_trip_ms"]
                print(f"    {name}: {r['commands_per_s']:,.0f} commands/s, round trip p50 {rt['p50']:.1f} ms "
                      f"p99 {rt['p99']:.1f} ms, {r['errors']} errors"
                      + (f", {r['unrecorded_calls']} calls never recorded in Redis" if r.get("unrecorded_calls") else ""))

        def profile() -> None:
            best = searches["hotline"].best_rate if "hotline" in searches else mode.fixed_rate
            rate = max(mode.fixed_rate, round(0.9 * best, 1))
            proc = start_profile(rig.bridge_pid, workdir / "profile", mode.profile_s)
            t = trials.run(paths["hotline"], rate, mode.profile_s, tag="(profiled)")
            results["profile"] = {"rate": rate, "trial": t.to_json(),
                                  **(finish_profile(proc, workdir / "profile") or {"error": "py-spy not installed"})}

        def pop() -> None:
            results["pop"] = run_pop(rig, plan, args.consoles, args.pop_rate or mode.pop_rate, mode.pop_s)

        def wallboard() -> None:
            results["wallboard"] = run_wallboard(rig, plan, args.wallboards, args.pop_rate or mode.pop_rate, mode.pop_s)

        def metrics() -> None:
            best = searches["hotline"].best_rate if "hotline" in searches else None
            results["metrics"] = run_metrics_cost(rig, trials, best or mode.fixed_rate, mode.fixed_rate_s)

        for name, fn in (("capacity", capacity), ("latency", latency), ("held", held), ("redis", redis),
                         ("fastagi", fastagi), ("profile", profile), ("pop", pop), ("wallboard", wallboard),
                         ("metrics", metrics)):  # none of them is in parts when the rig is not started
            phase(name, fn)
    finally:
        rig.stop()

    def answer() -> None:
        # After the main lab is down: its own lab, with the shipped city's prompts and timers.
        results["answer"] = {}
        run_answer_time(workdir, AnswerPlan(desks_per_agency=args.answer_desks_per_agency, window_s=mode.answer_window_s),
                        REPO / "hotline.toml", results["answer"])

    phase("answer", answer)
    results.setdefault("machine", describe(REPO, ensure_root(default_cache_dir(), print)))
    results["finished"] = datetime.now().isoformat(timespec="seconds")
    results["duration_s"] = round((datetime.now() - started).total_seconds())
    (workdir / "results.json").write_text(json.dumps(results, indent=2, default=str))
    report = write_report(results, workdir)
    print(report)
    if args.update_benchmarks_md:
        update_benchmarks_md(REPO / "BENCHMARKS.md", results, workdir)
    print(f"results: {workdir}/results.json, report.md, report.png ({results['duration_s']} s)")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())

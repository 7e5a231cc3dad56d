"""The one-command demonstration: real Asterisk, Redis, bridge, desk phones and citizens."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from config.names import IvrMode
from hotline.lab.console import SUPERVISOR, add_lab_users
from hotline.lab.lab import TESTER_RTP_PORTS, Lab
from hotline.lab.sipp import SippRun, place_call, start_desk_phone, wait_registered
from queueing.accounts import Accounts
from queueing.routing import Routing


@dataclass
class DemoCall:
    label: str
    caller: str
    digits: str
    phone: SippRun | None = None


def start_desks(lab: Lab, talk_ms: int = 3000) -> dict[str, SippRun]:
    """One SIPp desk phone per desk of the city, registered, and every desk made ready."""
    phones: dict[str, SippRun] = {}
    site = lab.started_site()
    for desk in lab.city.desks:
        phones[desk.id] = start_desk_phone(lab.sip_target, desk.id, site.desk_passwords[desk.id],
                                           lab.workdir / "phones", answer_after_ms=800, talk_ms=talk_ms)
    routing = lab.routing()
    for desk_id, phone in phones.items():
        wait_registered(phone)
        routing.set_desk_state(desk_id, "ready")
    return phones


def _fmt_ms(a: str | None, b: str | None) -> str:
    if not a or not b:
        return "—"
    return f"{(int(b) - int(a)) / 1000:.1f} s"


def _demo_calls(lab: Lab, first_number: int) -> list[DemoCall]:
    calls = [DemoCall(f"presses {a.digit} ({a.name['en']})", f"09{first_number + i:08d}", a.digit)
             for i, a in enumerate(lab.city.agencies)]
    calls.append(DemoCall("silent caller (presses nothing)", f"09{first_number + 90:08d}", ""))
    return calls


def _place(lab: Lab, calls: list[DemoCall]) -> None:
    for call in calls:
        call.phone = place_call(lab.sip_target, lab.city.hotline.number, call.caller, lab.workdir / "citizens",
                                digits=call.digits, stay_ms=150000, name=f"citizen-{call.caller}")
        time.sleep(0.3)


def _wait_done(routing: Routing, calls: list[DemoCall], timeout: float) -> dict[str, dict[str, str]]:
    deadline = time.monotonic() + timeout
    records: dict[str, dict[str, str]] = {}
    while time.monotonic() < deadline:
        records = {c.caller: _record_of(routing, c.caller) for c in calls}
        if all(r and r.get("state") in ("ended", "abandoned", "fallback") for r in records.values()):
            break
        time.sleep(0.5)
    return records


def _table(calls: list[DemoCall], records: dict[str, dict[str, str]], phones: dict[str, SippRun]) -> int:
    """Prints where each call went; returns how many were not answered."""
    print(f"{'caller':12} {'what they did':44} {'queue':9} {'route':10} {'desk':10} {'IVR':>6} {'wait':>6} "
          f"{'ring':>6} {'talk':>6}  outcome")
    failures = 0
    for c in calls:
        r = records.get(c.caller) or {}
        seen = _desk_saw(phones.get(r.get("desk", "")), c.caller)
        outcome = r.get("outcome") or r.get("state") or "no record"
        if r.get("outcome") != "answered":
            failures += 1
        print(f"{c.caller:12} {c.label:44} {r.get('queue', '—'):9} {r.get('route_reason', '—'):10} {r.get('desk', '—'):10} "
              f"{_fmt_ms(r.get('arrived_ms'), r.get('queued_ms')):>6} {_fmt_ms(r.get('queued_ms'), r.get('offered_ms')):>6} "
              f"{_fmt_ms(r.get('offered_ms'), r.get('answered_ms')):>6} {_fmt_ms(r.get('answered_ms'), r.get('ended_ms')):>6}  "
              f"{outcome}{'; desk screen: ' + seen if seen else ''}")
    print()
    return failures


def run_demo(city_file: Path, workdir: Path) -> int:
    started = time.monotonic()
    lab = Lab(city_file=city_file, workdir=workdir, name="demo", redis_url=os.environ.get("REDIS_URL"),
              rtp_ports=TESTER_RTP_PORTS)
    try:
        lab.start()
        print("registering demo desk phones (SIPp) and making every desk ready")
        phones = start_desks(lab)
        routing = lab.routing()
        calls = _demo_calls(lab, 10000000)
        print(f"placing {len(calls)} demo calls to {lab.city.hotline.number}, every desk free")
        _place(lab, calls)
        print()
        failures = _table(calls, _wait_done(routing, calls, 170), phones)
        every = list(calls)
        if lab.city.ivr.mode is IvrMode.HUMAN_FIRST:
            # human_first skips the menu while a desk is idle: show it when none is.
            fillers = [DemoCall("silent caller, keeps a desk busy", f"09{20000000 + i:08d}", "")
                       for i in range(len(lab.city.desks))]
            print(f"every desk busy: {len(fillers)} callers take the {len(lab.city.desks)} desks, then "
                  f"{len(calls)} more demo calls hear the menu")
            _place(lab, fillers)
            wait_all_busy = time.monotonic() + 30
            while time.monotonic() < wait_all_busy and any(
                    routing.desk(d.id).get("state") == "ready" for d in lab.city.desks):
                time.sleep(0.2)
            busy = _demo_calls(lab, 30000000)
            _place(lab, busy)
            print()
            failures += _table(busy, _wait_done(routing, busy + fillers, 170), phones)
            every += fillers + busy
        print("IVR = arrival → queued (menu and choice); wait = queued → desk rung; ring = rung → answered.")
        print("route: chosen (a menu key), no_input, invalid, spoke (talked, no key), desk_free ([ivr] mode "
              "human_first: a desk was idle, so no menu).")
        print("lab timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in lab.timings.items()))
        print(f"demo finished in {time.monotonic() - started:.0f} s; logs in {workdir}")
        for p in list(phones.values()) + [c.phone for c in every if c.phone]:
            p.stop()
        return 1 if failures else 0
    finally:
        lab.stop()


def _record_of(routing: Routing, caller: str) -> dict[str, str]:
    # Newest call from that number: the demo places one per number.
    for call_id in reversed(routing.redis.zrange(routing.keys.calls(), 0, -1)):
        if not isinstance(call_id, str):
            raise TypeError(f"call id {call_id!r} is not text: the routing client must decode responses")
        rec = routing.call(call_id)
        if rec.get("caller") == caller:
            return rec
    return {}


def _desk_saw(phone: SippRun | None, caller: str) -> str:
    if phone is None:
        return ""
    for line in phone.log_lines():
        if "RINGING from=" in line and caller in line:
            shown = line.split("RINGING from=", 1)[1].split(" at ", 1)[0].strip()
            return shown.split(">", 1)[0] + ">"  # the name and number, without the SIP tag
    return ""


def run_lab(city_file: Path, workdir: Path, info_file: Path) -> int:
    lab = Lab(city_file=city_file, workdir=workdir, name="lab", redis_url=os.environ.get("REDIS_URL"),
              rtp_ports=TESTER_RTP_PORTS)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    try:
        lab.start()
        console_url = lab.start_api()
        users, password = add_lab_users(Accounts(lab.routing().redis), lab.city)
        info_file.parent.mkdir(parents=True, exist_ok=True)
        info = lab.write_info(info_file, {"console": {"url": f"{console_url}/console", "password": password,
                                                      "users": [u.name for u in users]},
                                          "api": {"url": console_url, "supervisor_token": lab.api_token}})
        print()
        print(f"hotline lab is up. Dial {info['sip_address']} (UDP) from {info['citizens_from']}.")
        print("desk phones (register to " + info["desks"][0]["registrar"] + "):")
        for d in info["desks"]:
            print(f"  {d['sip_user']:12} password {d['sip_password']:14} agency {d['agency']}")
        print(f"AMI   {info['ami']['host']}:{info['ami']['port']} user {info['ami']['user']} secret {info['ami']['secret']}")
        print(f"Redis {info['redis_url']}")
        print(f"set a desk ready:  {info['set_desk_ready']}")
        print(f"Asterisk CLI:      {info['asterisk_cli']}")
        limits = info["limits"]
        print(f"limits:            RTP ports {limits['rtp_ports'][0]}-{limits['rtp_ports'][1]} "
              f"({limits['channels_with_media']} channels with media), open files {limits['max_files']}, "
              f"calls {limits['max_calls']} (README: Limits)")
        print(f"all of this as JSON: {info_file}")
        print(f"console:           {console_url}/console")
        print(f"  sign in as a desk's call-taker ({', '.join(u.name for u in users if u.desk)}) at that desk,")
        print(f"  or as {SUPERVISOR}; password {password}")
        print(f"API:               curl -H 'Authorization: Bearer {lab.api_token}' {console_url}/queues")
        print("Ctrl-C stops the lab.")
        while not stop:
            time.sleep(0.5)
            bridge = lab.bridge_proc
            if bridge is None or bridge.poll() is not None:
                print("the bridge stopped; restarting it (see bridge.log)")
                lab.start_bridge()
            if lab.api_proc is not None and lab.api_proc.poll() is not None:
                print("the API stopped; restarting it (see api.log)")
                lab.start_api(port=lab.api_port)
    except KeyboardInterrupt:
        pass
    finally:
        lab.stop()
    return 0

"""The ``pop`` phase: call-taker consoles in one headless chromium, signed in and Ready at
desks of the bench city, while citizens call the hotline; how long from Asterisk's
DialBegin toward a desk to the pop drawn in that desk's console (see bench/pop_latency.py).

Only the desks with a console are Ready (every other desk is offline while it runs), so
every call is offered to a desk whose console is watched. The API runs in this process
(uvicorn in a thread, as tests/browser's Server) over the lab's Redis; the browser is
Debian's chromium, never a downloaded one.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.api_server import ApiServer
from bench.pop_latency import POP_STAMP_SCRIPT, dial_begin_stamp, pop_figures, spread_desks
from bench.rig import Rig
from bench.sipp_load import start_citizens
from bench.trial import TrialPlan
from queueing.accounts import Accounts, check_user
from queueing.states import UserRole
from telephony import ami_blocking

CHROMIUM = Path("/usr/bin/chromium")


class DialBegins:
    """DialBegin events toward desks, stamped with this machine's wall clock (ms) when read."""

    def __init__(self, rig: Rig) -> None:
        site = rig.site
        self.ami = ami_blocking.connect(site.ami_bind, site.ami_port, site.ami_user, site.ami_secret,
                                        events="call", timeout=10, id_prefix="bench-pop")
        self.stamps: list[tuple[str, float]] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._listen, name="bench-pop-ami", daemon=True)

    def start(self) -> DialBegins:
        self.thread.start()
        return self

    def _listen(self) -> None:
        while not self._stop.is_set():
            message = self.ami.read_message(time.monotonic() + 0.5)
            if message is None:
                continue
            stamp = dial_begin_stamp(message, time.time() * 1000)
            if stamp is not None:
                self.stamps.append(stamp)

    def stop(self) -> list[tuple[str, float]]:
        self._stop.set()
        self.thread.join(5)
        self.ami.close()
        return list(self.stamps)


def add_call_takers(rig: Rig, desks: list[tuple[str, str]]) -> str:
    """A call-taker named after each desk, bound to it (replacing one of the same name);
    returns their password."""
    lab = rig.running_lab
    routing = rig.routing()
    accounts = Accounts(routing.redis, prefix=routing.keys.prefix, clock=routing.clock)
    password = secrets.token_urlsafe(12)
    existing = {u.name for u in accounts.users()}
    for desk, agency in desks:
        if desk in existing:
            accounts.remove_user(desk)
        accounts.add_user(check_user(lab.city, desk, UserRole.CALL_TAKER, agency, desk), password)
    return password


def run_pop(rig: Rig, plan: TrialPlan, consoles: int, rate: float, duration_s: float,
            progress: Callable[[str], object] = print) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    lab = rig.running_lab
    desks = spread_desks([(d.id, d.agency) for d in lab.city.desks], consoles)
    rig.set_desks("offline")
    password = add_call_takers(rig, desks)
    server = ApiServer(rig).start()
    routing = rig.routing()
    out: dict[str, Any] = {}
    try:
        with sync_playwright() as driver:
            browser = launch_chromium(driver)
            try:
                pages = []
                errors: list[str] = []
                t0 = time.monotonic()
                for desk, _agency in desks:
                    context = browser.new_context(base_url=server.url, viewport={"width": 1000, "height": 700})
                    context.set_default_timeout(20000)
                    context.add_init_script(POP_STAMP_SCRIPT)
                    page = context.new_page()
                    page.on("pageerror", noting_errors(errors, desk))
                    try:
                        page.goto("/console")
                        page.fill("#signin-user", desk)
                        page.fill("#signin-password", password)
                        page.fill("#signin-desk", desk)
                        page.press("#signin-password", "Enter")
                        page.wait_for_selector("#console", state="visible")
                        page.wait_for_selector("#live[data-live=yes]", state="attached")
                        page.click("#ready-button")
                        deadline = time.monotonic() + 10
                        while routing.desk(desk).get("state") != "ready":
                            if time.monotonic() > deadline:
                                raise RuntimeError(f"{desk} not ready 10 s after its console's Ready")
                            time.sleep(0.05)
                    except Exception as exc:  # a console that did not open is counted as not open
                        errors.append(f"{desk}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
                        context.close()
                        continue
                    pages.append((desk, page))
                progress(f"    {len(pages)} of {consoles} consoles open and Ready "
                         f"(city has {len(lab.city.desks)} desks) in {time.monotonic() - t0:.0f} s")
                calls = max(1, round(rate * duration_s))
                listener = DialBegins(rig).start()
                try:
                    path = rig.paths["hotline"]
                    prefix = rig.caller_prefix()
                    line_up_ms = plan.line_up_ms(rig, path)
                    sipp = start_citizens(lab.sip_target, path.number, rig.workdir / "citizens", f"pop-{prefix}", prefix,
                                          rate, calls, int(rate * 15) + 50, press="field",
                                          first_key_after_ms=plan.first_key_after_ms, line_up_ms=line_up_ms)
                    try:
                        if not sipp.wait(duration_s + plan.call_length_s(rig, path) + line_up_ms / 1000 + 30):
                            sipp.stop()
                    except BaseException:
                        sipp.stop()
                        raise
                    time.sleep(1.0)  # the last pops' frames
                finally:
                    invites = listener.stop()
                pops: list[tuple[str, float]] = []
                for desk, page in pages:
                    try:
                        stamps = page.evaluate("window.__popStamps || []")
                    except Exception as exc:
                        errors.append(f"{desk}: stamps not read: {exc}")
                        continue
                    pops += [(str(s["call_id"]), float(s["t"])) for s in stamps]
                out = pop_figures(consoles, len(pages), calls, invites, pops)
                out.update({"rate": rate, "duration_s": duration_s, "desks_in_city": len(lab.city.desks),
                            "sipp_failed": sipp.failed_calls(), "console_errors": errors[:20],
                            "console_error_count": len(errors)})
            finally:
                browser.close()
    finally:
        server.stop()
        out["settle"] = rig.settle(desks_ready=False)
        rig.set_desks("ready")
    d = out["pop_ms"]
    progress(f"    {out['pops_paired']} pops paired of {out['calls']} calls ({out['dial_begins']} DialBegins, "
             f"{out['pops']} pops), DialBegin → pop p50 {_ms(d['p50'])} p95 {_ms(d['p95'])} max {_ms(d['max'])}"
             + (f"; {out['console_error_count']} console errors" if out.get("console_error_count") else ""))
    return out


def launch_chromium(driver: Any) -> Any:
    """Debian's headless chromium (never a downloaded one) for the browser phases."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing (scripts/bootstrap.sh installs Debian's chromium)")
    return driver.chromium.launch(
        executable_path=str(CHROMIUM), headless=True,
        args=["--no-sandbox", "--disable-background-networking", "--disable-component-update",
              "--disable-default-apps", "--disable-sync", "--no-first-run"])


def noting_errors(errors: list[str], desk: str) -> Callable[[object], None]:
    return lambda error: errors.append(f"{desk}: {error}")


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:.0f} ms"

"""The ``wallboard`` phase: supervisors' wallboards (pages of one headless chromium, signed in
as a viewer, as a wall screen is) open while citizens call the hotline's desks; how long from
a desk's state changing in Redis to it drawn on every page (see bench/wallboard_latency.py).
The ``metrics`` phase: ``GET /metrics`` scraped every second during a trial at the hotline's
best rate, against a trial at the same rate without: the scrape must not change the headline.
"""

from __future__ import annotations

import secrets
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from bench.api_server import ApiServer
from bench.pop_consoles import launch_chromium, noting_errors
from bench.rig import Rig
from bench.sipp_load import start_citizens
from bench.stats import summary_ms
from bench.trial import TrialPlan, Trials
from bench.wallboard_latency import WALLBOARD_STAMP_SCRIPT, desk_changes, pair_draws
from queueing.accounts import Accounts, check_user
from queueing.states import UserRole

WALL_USER = "bench-wall"


def add_wall_viewer(rig: Rig) -> str:
    """The viewer the wallboards sign in as (replacing one of the same name); returns its password."""
    routing = rig.routing()
    accounts = Accounts(routing.redis, prefix=routing.keys.prefix, clock=routing.clock)
    password = secrets.token_urlsafe(12)
    if WALL_USER in {u.name for u in accounts.users()}:
        accounts.remove_user(WALL_USER)
    accounts.add_user(check_user(rig.running_lab.city, WALL_USER, UserRole.VIEWER, None, None), password)
    return password


def run_wallboard(rig: Rig, plan: TrialPlan, pages_asked: int, rate: float, duration_s: float,
                  progress: Callable[[str], object] = print) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    lab = rig.running_lab
    password = add_wall_viewer(rig)
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
                for n in range(pages_asked):
                    context = browser.new_context(base_url=server.url, viewport={"width": 1600, "height": 900})
                    context.set_default_timeout(20000)
                    context.add_init_script(WALLBOARD_STAMP_SCRIPT)
                    page = context.new_page()
                    page.on("pageerror", noting_errors(errors, f"page {n}"))
                    try:
                        reply = context.request.post("/session", data={"user": WALL_USER, "password": password})
                        if not reply.ok:
                            raise RuntimeError(f"sign-in: {reply.status} {reply.text()}")
                        page.goto("/supervisor")
                        page.wait_for_selector("#live[data-live=yes]", state="attached")
                        page.wait_for_selector("[data-desk][data-state]", state="attached")
                    except Exception as exc:  # a page that did not open is counted as not open
                        errors.append(f"page {n}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
                        context.close()
                        continue
                    pages.append(page)
                progress(f"    {len(pages)} of {pages_asked} wallboards open in {time.monotonic() - t0:.0f} s")
                calls = max(1, round(rate * duration_s))
                start_ms = time.time() * 1000
                newest = routing.events(1)
                after = newest[-1]["id"] if newest else "-"
                path = rig.paths["hotline"]
                line_up_ms = plan.line_up_ms(rig, path)
                sipp = start_citizens(lab.sip_target, path.number, rig.workdir / "citizens", f"wall-{rig.caller_prefix()}",
                                      rig.caller_prefix(), rate, calls, int(rate * 15) + 50, press="field",
                                      first_key_after_ms=plan.first_key_after_ms, line_up_ms=line_up_ms)
                try:
                    if not sipp.wait(duration_s + plan.call_length_s(rig, path) + line_up_ms / 1000 + 30):
                        sipp.stop()
                except BaseException:
                    sipp.stop()
                    raise
                time.sleep(1.0)  # the last changes' frames
                events: list[dict[str, str]] = []
                while batch := routing.events_since(after, 5000):
                    events += batch
                    after = batch[-1]["id"]
                draws: list[tuple[int, str, str, float]] = []
                for n, page in enumerate(pages):
                    try:
                        stamps = page.evaluate("window.__deskStamps || []")
                    except Exception as exc:
                        errors.append(f"page {n}: stamps not read: {exc}")
                        continue
                    draws += [(n, str(s["desk"]), str(s["state"]), float(s["t"])) for s in stamps
                              if float(s["t"]) >= start_ms]
                changes = [c for c in desk_changes(events) if c[2] >= start_ms]
                out = pair_draws(changes, draws, len(pages))
                out.update({"pages_asked": pages_asked, "rate": rate, "duration_s": duration_s, "calls": calls,
                            "sipp_failed": sipp.failed_calls(), "page_errors": errors[:20],
                            "page_error_count": len(errors)})
            finally:
                browser.close()
    finally:
        server.stop()
        out["settle"] = rig.settle()
    d = out.get("draw_ms") or {}
    progress(f"    {out.get('draws_paired', 0)} draws paired of {out.get('changes', 0)} desk changes × {out.get('pages', 0)} "
             f"pages, change → drawn p50 {_ms(d.get('p50'))} p95 {_ms(d.get('p95'))} max {_ms(d.get('max'))}; "
             f"{out.get('draws_missed', 0)} missed, {out.get('draws_stale', 0)} stale"
             + (f"; {out['page_error_count']} page errors" if out.get("page_error_count") else ""))
    return out


class Scraper:
    """GET /metrics once a second (loopback, no token) in a thread; keeps each scrape's duration."""

    def __init__(self, url: str, every_s: float = 1.0) -> None:
        self.url = f"{url}/metrics"
        self.every_s = every_s
        self.durations_ms: list[float] = []
        self.failures = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="bench-scraper", daemon=True)

    def start(self) -> Scraper:
        self.thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            t = time.perf_counter()
            try:
                with urllib.request.urlopen(self.url, timeout=10) as reply:
                    reply.read()
                self.durations_ms.append((time.perf_counter() - t) * 1000)
            except OSError:
                self.failures += 1
            self._stop.wait(max(0.0, self.every_s - (time.perf_counter() - t)))

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self.thread.join(15)
        return {"scrapes": len(self.durations_ms), "failures": self.failures, "scrape_ms": summary_ms(self.durations_ms)}


def run_metrics_cost(rig: Rig, trials: Trials, rate: float, duration_s: float) -> dict[str, Any]:
    """A trial at ``rate`` with no scraping, then one with /metrics scraped every second."""
    path = rig.paths["hotline"]
    quiet = trials.run(path, rate, duration_s, tag="(no scraping)")
    server = ApiServer(rig, metrics_loopback=True).start()
    try:
        scraper = Scraper(server.url).start()
        try:
            scraped = trials.run(path, rate, duration_s, tag="(/metrics every 1 s)")
        finally:
            scraping = scraper.stop()
    finally:
        server.stop()
    return {"rate": rate, "duration_s": duration_s, "without": quiet.to_json(), "with": scraped.to_json(), **scraping}


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:.0f} ms"

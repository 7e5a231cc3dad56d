"""HTTP API: desk states for call-takers, call records and queues for supervisors.

The HTTP layer only translates; every change is one routing operation (a Lua script), so
the API and the bridges can never disagree about a desk.

A feature is a router (``api/routers/``: paths, tokens, status codes) over a service
(``api/services/``: what it does in Redis), with its bodies in ``api/schemas.py``. Redis
errors and refusals are answered once, here, by ``api/errors.py``'s handlers.

Every route but ``GET /health`` and ``POST /session`` needs a bearer token or the console's
session cookie; what each role and agency may see and change is ``api/auth.py``'s. ``GET /metrics``
(``api/metrics.py``) is Prometheus's: a metrics or supervisor token, or the loopback when allowed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI

from api.auth import Access, tokens_for
from api.errors import add_error_handlers
from api.metrics import HotlineCollector, metrics_router
from api.routers.alerts import alerts_router
from api.routers.call_actions import call_actions_router
from api.routers.callback_dial import callback_dial_router
from api.routers.callbacks import callbacks_router
from api.routers.calls import calls_router
from api.routers.console import add_console, page_router
from api.routers.desks import desks_router
from api.routers.eido import eido_router
from api.routers.events import events_router
from api.routers.health import health_router
from api.routers.incidents import incidents_router
from api.routers.numbers import numbers_router
from api.routers.pop import pop_router
from api.routers.queues import queues_router
from api.routers.recordings import recordings_router
from api.routers.reports import reports_router
from api.routers.session import session_router
from api.routers.spy import spy_router
from api.routers.supervisor import board_router
from api.routers.supervisor_actions import supervisor_actions_router
from api.routers.wrap_up import wrap_up_router
from api.services.alerts import AlertService
from api.services.board import BoardService
from api.services.call_actions import CallActionService
from api.services.callback_dial import CallbackDialService
from api.services.callbacks import CallbackService
from api.services.calls import CallService
from api.services.desks import DeskService
from api.services.eido import EidoService
from api.services.events import KEEPALIVE_S, EventService
from api.services.incidents import IncidentService
from api.services.numbers import NumberService
from api.services.pop import PopService
from api.services.queues import QueueService
from api.services.recordings import RecordingService
from api.services.reports import ReportService
from api.services.session import SessionService
from api.services.spy import SpyService
from api.services.supervisor_actions import SupervisorActionService
from api.services.wrap_up import WrapUpService
from api.tokens import TokenTable
from config.settings import CitySettings, RuntimeSettings, load_settings
from queueing.accounts import Accounts
from queueing.alert_store import AlertStore
from queueing.event_stream import EventStream
from queueing.redis_connect import async_redis_client, redis_client
from queueing.routing import AsyncRouting, Routing

log = logging.getLogger("hotline.api")

# Supervisor alerts are evaluated by a loop in the API process (every ALERTS_EVERY_S), not by the rq
# worker: the page that shows them is served here, so they are live wherever someone can see them, and
# rq runs jobs, not clocks (a job every 2 s through its scheduler would queue behind recordings and
# callbacks). Several API processes evaluating at once is safe: alerts_apply is idempotent and ignores
# a result from facts older than the last one applied.
ALERTS_EVERY_S = 2.0


def create_app(runtime: RuntimeSettings, city: CitySettings | None = None, routing: Routing | None = None,
               tokens: TokenTable | None = None, events: EventService | None = None,
               alerts_every_s: float | None = None) -> FastAPI:
    """The API. ``tokens`` default: HOTLINE_API_TOKENS_FILE's (SettingsError when it is not set or
    not valid, unless HOTLINE_API_AUTH=off). ``events`` default: ``GET /events`` over an asyncio
    client of the same Redis URL and key prefix. ``alerts_every_s``: evaluate the supervisor alerts
    this often while the app runs (``hotline api`` does; tests call ``AlertService.evaluate`` themselves)."""
    city = city or load_settings(runtime.city_file)
    routing = routing or Routing(redis_client(runtime.redis_url, decode_responses=True, socket_timeout=5))
    accounts = Accounts(routing.redis, prefix=routing.keys.prefix, clock=routing.clock)
    access = Access(city, tokens if tokens is not None else tokens_for(runtime, city), accounts,
                    metrics_loopback=runtime.metrics_loopback)
    desks = DeskService(city, routing)
    events = events or _event_service(runtime, routing.keys.prefix)
    alerts = AlertService(city, AlertStore(routing.redis, prefix=routing.keys.prefix, clock=routing.clock))
    app = FastAPI(title="hotline", version="0.1.0", lifespan=_alert_loop(alerts, alerts_every_s))
    add_error_handlers(app)
    app.include_router(health_router(routing))
    app.include_router(metrics_router(access, HotlineCollector(city, routing)))
    app.include_router(session_router(access, SessionService(city, accounts, desks),
                                      secure_cookies=runtime.api_secure_cookies))
    app.include_router(desks_router(access, desks))
    app.include_router(wrap_up_router(access, WrapUpService(city, desks)))
    # Before calls_router: /calls/search is not a call id.
    eido = EidoService(city, routing)
    app.include_router(incidents_router(access, IncidentService(city, routing, eido)))
    app.include_router(calls_router(access, CallService(routing)))
    app.include_router(call_actions_router(access, CallService(routing), CallActionService(city, routing)))
    app.include_router(supervisor_actions_router(access, CallService(routing), SupervisorActionService(city, routing)))
    app.include_router(queues_router(access, QueueService(city, routing)))
    app.include_router(callbacks_router(access, CallbackService(city, routing), desks))
    app.include_router(numbers_router(access, NumberService(city, routing)))
    app.include_router(pop_router(access, PopService(city, routing)))
    app.include_router(callback_dial_router(access, CallbackDialService(city, routing)))
    app.include_router(eido_router(access, eido))
    app.include_router(recordings_router(access, CallService(routing), RecordingService(city, runtime)))
    app.include_router(reports_router(access, ReportService(routing, city.supervision)))
    app.include_router(events_router(access, events))
    app.include_router(alerts_router(access, alerts))
    app.include_router(spy_router(access, SpyService(city, routing)))
    app.include_router(board_router(access, BoardService(city, routing, runtime)))
    # The supervisors' pages: the wallboard, and the reports (docs/kpis.md).
    app.include_router(page_router(city, "/supervisor", "supervisor.html"))
    app.include_router(page_router(city, "/supervisor/reports", "reports.html"))
    add_console(app, city)
    return app


def _alert_loop(alerts: AlertService, every_s: float | None) -> Any:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(_evaluate_alerts(alerts, every_s)) if every_s else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task

    return lifespan


async def _evaluate_alerts(alerts: AlertService, every_s: float) -> None:
    while True:
        try:
            await asyncio.to_thread(alerts.evaluate)  # the sync client: off the event loop
        except Exception:  # Redis down, a bug: said in the log, and tried again at the next beat
            log.exception("alert evaluation failed")
        await asyncio.sleep(every_s)


def _event_service(runtime: RuntimeSettings, prefix: str) -> EventService:
    # Its own client: each page holds a connection in XREAD BLOCK, which must outlast a keepalive.
    client = async_redis_client(runtime.redis_url, decode_responses=True, socket_timeout=KEEPALIVE_S + 5,
                                socket_connect_timeout=5)
    return EventService(EventStream(client, prefix=prefix), AsyncRouting(client, prefix=prefix))

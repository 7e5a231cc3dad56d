"""Supervisor alerts (queueing/alerts.py decides, the API's loop applies every few seconds).

* ``GET /alerts``: the alerts on now and the newest cleared ones (supervisors and viewers).
* ``POST /alerts/{alert_id}/ack``: a supervisor acknowledges an alert, under its own name (the token's
  or the signed-in user's); the time is the server's. 409 when the alert is unknown, cleared or already
  acknowledged. A viewer cannot (403).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.auth import AUTH_RESPONSES, Access
from api.errors import REDIS_DOWN, REFUSED
from api.schemas import AlertsView, AlertView
from api.services.alerts import AlertService
from api.tokens import Principal


def alerts_router(access: Access, alerts: AlertService) -> APIRouter:
    router = APIRouter(responses={**AUTH_RESPONSES, **REDIS_DOWN})

    @router.get("/alerts", response_model=AlertsView)
    def list_alerts(principal: Principal = Depends(access.overseer)) -> AlertsView:
        return alerts.view()

    @router.post("/alerts/{alert_id}/ack", response_model=AlertView, responses=REFUSED)
    def acknowledge_alert(alert_id: str, principal: Principal = Depends(access.supervisor)) -> AlertView:
        return alerts.acknowledge(alert_id, principal.name)

    return router

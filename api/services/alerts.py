"""Supervisor alerts: the evaluation step the API's loop runs, the list the page reads, and the
acknowledgement."""

from __future__ import annotations

import json
import logging
from typing import Any

from api.schemas import AlertsView, AlertView
from config.settings import CitySettings
from queueing.alert_store import AlertStore

log = logging.getLogger("hotline.alerts")

#: How many cleared alerts GET /alerts shows.
HISTORY_SHOWN = 50


def _int(value: str | None) -> int | None:
    return int(value) if value and value.lstrip("-").isdigit() else None


def alert_view(record: dict[str, str]) -> AlertView:
    try:
        params: Any = json.loads(record.get("params") or "{}")
    except ValueError:
        params = {}
    return AlertView(
        alert_id=record["alert_id"], kind=record["kind"], subject=record.get("subject", ""),
        level=record["level"], value=_int(record.get("value")) or 0, threshold=_int(record.get("threshold")) or 0,
        detail=record.get("detail", ""), params=params if isinstance(params, dict) else {},
        raised_ms=_int(record.get("raised_ms")), changed_ms=_int(record.get("changed_ms")),
        acked_by=record.get("acked_by") or None, acked_ms=_int(record.get("acked_ms")),
        cleared_ms=_int(record.get("cleared_ms")),
    )


class AlertService:
    def __init__(self, city: CitySettings, store: AlertStore) -> None:
        self.city = city
        self.store = store

    def evaluate(self) -> dict[str, str]:
        """One step: the facts now, the alerts they call for, applied (alert_raised / changed / cleared)."""
        result = self.store.evaluate(self.city)
        if result.get("raised", "0") != "0" or result.get("cleared", "0") != "0" or result.get("changed", "0") != "0":
            log.info("alerts: %s raised, %s changed, %s cleared", result.get("raised"), result.get("changed"),
                     result.get("cleared"))
        return result

    def view(self) -> AlertsView:
        return AlertsView(active=[alert_view(r) for r in self.store.active()],
                          history=[alert_view(r) for r in self.store.history(HISTORY_SHOWN)],
                          repeat_critical_s=self.city.supervision.alerts.repeat_critical_s)

    def acknowledge(self, alert_id: str, by: str) -> AlertView:
        return alert_view(self.store.acknowledge(alert_id, by))

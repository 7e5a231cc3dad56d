"""The supervisors' reports (supervisors and viewers; a call-taker's token gets 403).

* ``GET /reports/kpis?from_ms=&to_ms=``: the KPI report of the calls that arrived in ``[from_ms, to_ms)``
  (default: today, from the server's local midnight to the next): answer times, abandons, false calls,
  repeat callers, callbacks, transfers, the EU 112 indicators, per agency and overall (docs/kpis.md).
* ``GET /reports/calls.csv?from_ms=&to_ms=``: the same range's calls, one row each with their raw
  timestamps, so anyone can recompute every figure.
* ``GET /reports/plots/{name}.png?from_ms=&to_ms=&lang=``: one plot of that report, drawn on the server
  (api/report_plots.py), for the report page (``GET /supervisor/reports``, api/static/reports.html).

A range that ends before it starts, or is longer than 92 days, is a 422 saying so.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response, StreamingResponse

from api.auth import AUTH_RESPONSES, Access
from api.errors import INVALID, REDIS_DOWN
from api.report_plots import PLOTS, SIZE_PX
from api.schemas import KpiReportView
from api.services.reports import ReportService
from api.tokens import Principal

#: Later than any call: keeps a made-up range in integers Redis scores hold exactly.
MAX_MS = 2**53

FROM_MS = Query(default=None, ge=0, le=MAX_MS, description="start of the range, ms since the epoch (inclusive); "
                                                         "default: local midnight today, or to_ms - 24 h")
TO_MS = Query(default=None, ge=0, le=MAX_MS, description="end of the range, ms since the epoch (exclusive); "
                                                       "default: the next local midnight, or from_ms + 24 h")


class CsvResponse(StreamingResponse):
    media_type = "text/csv"


# The route's response_class is plain Response (no media type of its own), so its errors stay declared as
# JSON; its 200 is declared here as CSV.
CSV_OK: dict[int | str, dict[str, Any]] = {
    200: {"description": "one row per call, header first (docs/kpis.md names the columns)",
          "content": {"text/csv": {"schema": {"type": "string"}}}},
}


#: The plots by name (api/report_plots.py): the path's choices, so the spec lists them.
PlotName = StrEnum("PlotName", {name: name for name in PLOTS})  # type: ignore[misc]

PNG_OK: dict[int | str, dict[str, Any]] = {
    200: {"description": f"a PNG of {SIZE_PX[0]}×{SIZE_PX[1]} pixels", "content": {"image/png": {}}},
}


def reports_router(access: Access, reports: ReportService) -> APIRouter:
    router = APIRouter(responses={**AUTH_RESPONSES, **REDIS_DOWN})

    @router.get("/reports/kpis", response_model=KpiReportView, responses=INVALID)
    def get_kpis(from_ms: int | None = FROM_MS, to_ms: int | None = TO_MS,
                 principal: Principal = Depends(access.overseer)) -> KpiReportView:
        """The KPI report of the calls that arrived in the range, per agency and overall."""
        start, end = reports.range(from_ms, to_ms)
        return KpiReportView.model_validate(reports.kpis(start, end))

    @router.get("/reports/calls.csv", response_class=Response, responses={**CSV_OK, **INVALID})
    def get_calls_csv(from_ms: int | None = FROM_MS, to_ms: int | None = TO_MS,
                      principal: Principal = Depends(access.overseer)) -> CsvResponse:
        """One row per call that arrived in the range, by arrival: its raw timestamps and fields."""
        start, end = reports.range(from_ms, to_ms)
        call_ids = reports.call_ids(start, end)  # read now: Redis being down is a 503, not a cut-off file
        return CsvResponse(reports.csv_lines(call_ids), headers={
            "Content-Disposition": f'attachment; filename="calls-{start}-{end}.csv"', "Cache-Control": "no-store"})

    @router.get("/reports/plots/{name}.png", response_class=Response, responses={**PNG_OK, **INVALID})
    def get_plot(name: PlotName, from_ms: int | None = FROM_MS, to_ms: int | None = TO_MS,
                 lang: Literal["vi", "en"] = Query(default="en", description="the plot's texts"),
                 principal: Principal = Depends(access.overseer)) -> Response:
        """One plot of the range's KPI report as a PNG (its numbers are the report's: GET /reports/kpis)."""
        start, end = reports.range(from_ms, to_ms)
        return Response(reports.plot(name.value, start, end, lang), media_type="image/png",
                        headers={"Cache-Control": "no-store"})

    return router

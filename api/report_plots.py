"""The report page's plots: one pure function per plot, from a :class:`~queueing.kpis.KpiReport` to a
matplotlib Figure, rendered to PNG on the server (Agg: no display, no browser library, no outside font;
matplotlib's own DejaVu Sans has Vietnamese).

The page shows each plot's numbers as a text table beside it (the same report), so the PNG is the
picture, never the only place a figure is. Texts are in the page's language (``vi`` or ``en``).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from queueing.kpis import ABANDON_STAGES, BUCKET_LABELS, Figures, KpiReport

#: Every plot's size in pixels (width, height) at :data:`DPI`.
SIZE_PX = (900, 360)
DPI = 100
OVERALL = "overall"
#: Told apart by hatching as well as colour (colour is never the only signal).
HATCHES = ("", "//", "..", "xx", "\\\\", "++", "oo", "--")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "answer_histogram": "Answer time (arrival to a desk's answer), answered calls per bucket",
        "answer_percentiles": "Answer time percentiles (seconds)",
        "calls_per_hour": "Calls per hour (by arrival)",
        "abandons": "Abandon rate by stage (% of calls)",
        "false_calls": "False calls and pranks (% of answered calls)",
        "callbacks": "Callbacks: tasks by status",
        "transfers": "Transfers and queue-to-answer (seconds)",
        "repeats": "Repeat callers: calls per number (top)",
        "seconds": "seconds", "calls": "calls", "percent": "%", "hour": "hour from the start of the range",
        "false_call": "false call", "prank": "prank", "tasks": "tasks", "none": "nothing in this range",
        "queue_to_answer_avg": "queue to answer, average", "queue_to_answer_p90": "queue to answer, p90",
        "first_to_target": "transfer: first answer to the target's answer",
        "requeue_to_target": "transfer: requeued to the target's answer",
        "overall": "overall", "ivr": "IVR", "queued": "queue", "ringing": "ringing",
    },
    "vi": {
        "answer_histogram": "Thời gian trả lời (từ khi gọi đến khi bàn trực nhấc máy), số cuộc theo khoảng",
        "answer_percentiles": "Phân vị thời gian trả lời (giây)",
        "calls_per_hour": "Số cuộc gọi mỗi giờ (theo giờ đến)",
        "abandons": "Tỷ lệ bỏ máy theo giai đoạn (% số cuộc)",
        "false_calls": "Cuộc gọi nhầm và quấy rối (% số cuộc đã trả lời)",
        "callbacks": "Gọi lại: số việc theo trạng thái",
        "transfers": "Chuyển cuộc gọi và thời gian chờ trong hàng (giây)",
        "repeats": "Số gọi lặp lại: số cuộc mỗi số (nhiều nhất)",
        "seconds": "giây", "calls": "cuộc", "percent": "%", "hour": "giờ kể từ đầu khoảng",
        "false_call": "gọi nhầm", "prank": "quấy rối", "tasks": "việc", "none": "không có gì trong khoảng này",
        "queue_to_answer_avg": "chờ trong hàng, trung bình", "queue_to_answer_p90": "chờ trong hàng, p90",
        "first_to_target": "chuyển: từ lần trả lời đầu đến nơi nhận trả lời",
        "requeue_to_target": "chuyển: từ khi vào hàng mới đến khi trả lời",
        "overall": "tất cả", "ivr": "IVR", "queued": "hàng chờ", "ringing": "đổ chuông",
    },
}


def texts(lang: str) -> dict[str, str]:
    return TEXTS.get(lang, TEXTS["en"])


def _figure(title: str) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(SIZE_PX[0] / DPI, SIZE_PX[1] / DPI), dpi=DPI)
    axes = figure.add_subplot()
    axes.set_title(title, fontsize=11)
    axes.grid(axis="y", alpha=0.3)
    return figure, axes


def _groups(report: KpiReport) -> list[str]:
    """The agencies, then overall."""
    return [*report.agencies, OVERALL]


def _name(group: str, t: dict[str, str]) -> str:
    return t["overall"] if group == OVERALL else group


def _bars(axes: Axes, categories: Sequence[str], series: dict[str, Sequence[float]]) -> None:
    """Grouped bars: one group per category, one bar per series (colour and hatch), with a legend."""
    width = 0.8 / max(1, len(series))
    for i, (label, values) in enumerate(series.items()):
        xs = [c + (i - (len(series) - 1) / 2) * width for c in range(len(categories))]
        axes.bar(xs, values, width, label=label, hatch=HATCHES[i % len(HATCHES)], edgecolor="black",
                 linewidth=0.5)
    axes.set_xticks(range(len(categories)), categories)
    if len(series) > 1:
        axes.legend(fontsize=8)


def _counts(axes: Axes) -> None:
    """Counts are whole: no 0.25 of a call on the axis."""
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))


def _empty(axes: Axes, t: dict[str, str]) -> None:
    axes.text(0.5, 0.5, t["none"], ha="center", va="center", transform=axes.transAxes)


def _figures(report: KpiReport, group: str) -> Figures:
    return report.overall if group == OVERALL else report.agencies[group]


def answer_histogram(report: KpiReport, lang: str = "en") -> Figure:
    """Answered calls per answer-time bucket, per agency and overall."""
    t = texts(lang)
    figure, axes = _figure(t["answer_histogram"])
    _bars(axes, [f"{b} s" for b in BUCKET_LABELS],
          {_name(g, t): [_figures(report, g).answer_histogram[b] for b in BUCKET_LABELS] for g in _groups(report)})
    axes.set_ylabel(t["calls"])
    _counts(axes)
    return figure


def answer_percentiles(report: KpiReport, lang: str = "en") -> Figure:
    """p50, p90, p95 of the answer time, per agency and overall (an agency with no answer: no bar)."""
    t = texts(lang)
    figure, axes = _figure(t["answer_percentiles"])
    groups = _groups(report)
    _bars(axes, [_name(g, t) for g in groups],
          {p: [(_figures(report, g).answer_ms[p] or 0) / 1000 for g in groups] for p in ("p50", "p90", "p95")})
    axes.set_ylabel(t["seconds"])
    return figure


def calls_per_hour(report: KpiReport, lang: str = "en") -> Figure:
    """Calls by the hour they arrived in, a line per agency (marker and dash differ too)."""
    t = texts(lang)
    figure, axes = _figure(t["calls_per_hour"])
    styles = ("-", "--", ":", "-.")
    markers = ("o", "s", "^", "D", "v", "P")
    for i, group in enumerate(_groups(report)):
        axes.plot(range(report.hours), _figures(report, group).calls_per_hour, styles[i % len(styles)],
                  marker=markers[i % len(markers)], markersize=3, label=_name(group, t))
    axes.set_xlabel(t["hour"])
    axes.set_ylabel(t["calls"])
    axes.legend(fontsize=8)
    _counts(axes)
    return figure


def abandons(report: KpiReport, lang: str = "en") -> Figure:
    """Abandon rate by stage (IVR, queue, ringing), per agency and overall."""
    t = texts(lang)
    figure, axes = _figure(t["abandons"])
    groups = _groups(report)
    _bars(axes, [_name(g, t) for g in groups],
          {t[s]: [_figures(report, g).abandon_rate_by_stage_percent[s] or 0 for g in groups] for s in ABANDON_STAGES})
    axes.set_ylabel(t["percent"])
    return figure


def false_calls(report: KpiReport, lang: str = "en") -> Figure:
    """The share of false calls and of pranks among answered calls, per agency and overall."""
    t = texts(lang)
    figure, axes = _figure(t["false_calls"])
    groups = _groups(report)
    _bars(axes, [_name(g, t) for g in groups],
          {t["false_call"]: [_figures(report, g).false_call_percent or 0 for g in groups],
           t["prank"]: [_figures(report, g).prank_percent or 0 for g in groups]})
    axes.set_ylabel(t["percent"])
    return figure


def callbacks(report: KpiReport, lang: str = "en") -> Figure:
    """Callback tasks of the range's abandoned calls by status."""
    t = texts(lang)
    figure, axes = _figure(t["callbacks"])
    by_status = report.callbacks.by_status
    if by_status:
        _bars(axes, list(by_status), {t["tasks"]: list(by_status.values())})
    else:
        _empty(axes, t)
    axes.set_ylabel(t["tasks"])
    _counts(axes)
    return figure


def transfers(report: KpiReport, lang: str = "en") -> Figure:
    """Average times: queue to answer per agency and overall, and the transfers' two intervals."""
    t = texts(lang)
    figure, axes = _figure(t["transfers"])
    groups = _groups(report)
    labels = [f"{t['queue_to_answer_avg']}: {_name(g, t)}" for g in groups]
    values = [(_figures(report, g).queue_to_answer.average_ms or 0) / 1000 for g in groups]
    labels += [t["first_to_target"], t["requeue_to_target"]]
    values += [(report.transfers.first_answer_to_target_answer.average_ms or 0) / 1000,
               (report.transfers.requeue_to_target_answer.average_ms or 0) / 1000]
    axes.barh(range(len(labels)), values, hatch="//", edgecolor="black", linewidth=0.5)
    axes.set_yticks(range(len(labels)), labels, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel(t["seconds"])
    figure.subplots_adjust(left=0.38)
    return figure


def repeats(report: KpiReport, lang: str = "en") -> Figure:
    """The numbers that called most often in the range (more than once)."""
    t = texts(lang)
    figure, axes = _figure(t["repeats"])
    if report.repeats.top:
        _bars(axes, [r.number for r in report.repeats.top], {t["calls"]: [r.calls for r in report.repeats.top]})
    else:
        _empty(axes, t)
    axes.set_ylabel(t["calls"])
    _counts(axes)
    return figure


#: Every plot by the name in its URL (``GET /reports/plots/{name}.png``).
PLOTS: dict[str, Callable[[KpiReport, str], Figure]] = {
    "answer_histogram": answer_histogram,
    "answer_percentiles": answer_percentiles,
    "calls_per_hour": calls_per_hour,
    "abandons": abandons,
    "false_calls": false_calls,
    "callbacks": callbacks,
    "transfers": transfers,
    "repeats": repeats,
}


def png(figure: Figure) -> bytes:
    """The figure as PNG bytes, :data:`SIZE_PX` pixels."""
    out = io.BytesIO()
    FigureCanvasAgg(figure)  # attaches itself to the figure: Agg, whatever backend pyplot would pick
    figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()

"""The one logging setup of every hotline process (bridge, rq worker, API).

structlog formats every line, those of plain ``logging.getLogger`` loggers included, so
what a call's code binds with ``structlog.contextvars.bound_contextvars(call_id=…)``
ends each line written meanwhile as ``call_id=…``: one grep finds a call across the
bridge, the worker and the API. A line reads as before, context appended:

    2026-12-02 00:51:14,123 INFO hotline.bridge.dispatcher: call c-1 (0912345678, queue police) → desk desk-101 call_id=c-1

Only what code binds or logs is written; settings (the AMI secret, tokens) never are.
"""

from __future__ import annotations

import logging
import sys
from typing import IO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Keys the line's own format (time, level, logger name) or the traceback already shows.
_SHOWN_ELSEWHERE = frozenset({"event", "exc_info", "stack_info", "level", "logger", "timestamp"})


def _render(logger: WrappedLogger, method: str, event: EventDict) -> str:
    """The message, then every bound or passed key as key=value (quoted if it has spaces)."""
    fields = []
    for key, value in event.items():
        if key in _SHOWN_ELSEWHERE or key.startswith("_"):
            continue
        text = str(value)
        fields.append(f"{key}={text!r}" if not text or any(c.isspace() for c in text) else f"{key}={text}")
    return " ".join([str(event.get("event", "")), *fields])


class _HotlineHandler(logging.StreamHandler[IO[str]]):
    """Marks the handler this module installed, so setting up again replaces it."""


def setup_logging(level: str | int = "INFO", stream: IO[str] | None = None) -> None:
    """Lines to ``stream`` (stderr by default) at ``level`` and above, for structlog's
    loggers and the standard library's alike."""
    shared: list[Processor] = [structlog.contextvars.merge_contextvars]
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _render],
        keep_exc_info=True,  # the standard library prints tracebacks as it always did
        fmt=LINE_FORMAT,
    )
    handler = _HotlineHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _HotlineHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)

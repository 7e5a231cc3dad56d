"""The rq worker's job class: jobs queued under a function's old dotted path still run.

Jobs wait in Redis by name; when a job function moves (the auto-dial job went from queueing
to telephony, where Asterisk is), the jobs already queued keep the old name. Mapping the
names here, on the roof, keeps the old module free of imports from the floors above it.
"""

from __future__ import annotations

from typing import Any

from rq.job import Job
from rq.utils import import_attribute

from queueing.jobs import DIAL_CALLBACK

#: old dotted path → where the function lives now
LEGACY_JOB_FUNCS: dict[str, str] = {
    "queueing.jobs.dial_callback": DIAL_CALLBACK,
}


class HotlineJob(Job):
    """A job whose function may be named by a legacy path."""

    @property
    def func(self) -> Any:
        name = self.func_name
        if not self.instance and name in LEGACY_JOB_FUNCS:
            return import_attribute(LEGACY_JOB_FUNCS[name])
        return super().func

"""Starting a call-back from the console: the rq job ``dial_callback`` rings a desk, then the citizen."""

from __future__ import annotations

from config.settings import CitySettings
from queueing.callbacks import Callbacks, CallbackTask
from queueing.errors import RoutingRefused
from queueing.jobs import schedule_dial, sync_client_like
from queueing.routing import Routing
from queueing.states import OPEN_CALLBACK_STATUSES, CallbackStatus


class CallbackNotDialable(RoutingRefused):
    """The task cannot be dialled now (a 409, as every refusal); the message says why and what to do instead."""


class CallbackDialService:
    def __init__(self, city: CitySettings, routing: Routing) -> None:
        self.routing = routing
        self.callbacks = Callbacks(routing.redis, prefix=routing.keys.prefix, clock=routing.clock)
        self.auto_dial = city.callbacks.auto_dial

    def task(self, call_id: str) -> CallbackTask | None:
        return self.callbacks.task(call_id)

    def dial(self, task: CallbackTask) -> dict[str, str]:
        """Enqueues the job now; it books a ready desk of the task's agency (callers on the line first)."""
        if not self.auto_dial:
            raise CallbackNotDialable("the dialer is off in the city file ([callbacks] auto_dial = false): call "
                                      f"{task.number} from the desk phone, then record the outcome")
        if task.status not in OPEN_CALLBACK_STATUSES:
            raise CallbackNotDialable(f"callback {task.call_id} is {task.status}: nothing to dial")
        if task.status == CallbackStatus.DIALING:
            raise CallbackNotDialable(f"callback {task.call_id} is being dialled already (desk {task.desk})")
        job = schedule_dial(sync_client_like(self.routing.redis), task.call_id, self.routing.keys.prefix, None)
        return {"call_id": task.call_id, "number": task.number, "job_id": job.id, "status": str(task.status)}

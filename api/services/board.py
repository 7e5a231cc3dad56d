"""The supervisors' wallboard: reads what :func:`queueing.board.build_board` needs from Redis
(and the recording folder's disk), and keeps the board a second.

Fifty wall screens refreshing at once must not each read the shift's call records: the
board is computed at most once per :data:`CACHE_S` per process (a lock makes the others
wait for that one reading, then share it). The shift's records come from the ``calls``
index by arrival, as the reports' do, never by scanning keys; an ended call's record is read
once (queueing/ended_calls.py).
"""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from api.schemas import BoardView
from config.settings import CitySettings, RuntimeSettings
from queueing.board import BoardInputs, BridgeBeat, DeskNow, DiskNow, RedisNow, build_board, records_since, shift_start
from queueing.ended_calls import EndedCalls
from queueing.keys import PRIORITY_FACTOR
from queueing.recording_files import host_folder
from queueing.routing import Routing
from queueing.states import DeskState

#: How long one computed board serves every request of this process.
CACHE_S = 1.0
#: The call record fields the board's figures read (queueing/kpis.py's).
RECORD_FIELDS = ("call_id", "queue", "state", "arrived_ms", "queued_ms", "offered_ms", "first_answered_ms",
                 "answered_ms", "ended_ms", "outcome", "abandon_stage")


def _int(value: str | None, default: int | None = None) -> int | None:
    return int(value) if value and value.lstrip("-").isdigit() else default


def disk_of(folder: Path) -> DiskNow | None:
    """Free and total space of the disk the folder is on (its nearest existing parent's, before
    Asterisk first makes it); None when even that cannot be read."""
    for place in (folder, *folder.parents):
        if place.exists():
            try:
                usage = shutil.disk_usage(place)
            except OSError:
                return None
            return DiskNow(str(folder), usage.free, usage.total)
    return None


def redis_now(client: Any) -> RedisNow:
    """The Redis answering us: its role, and the Sentinel's view when it is reached through one."""
    role = str(client.info("replication").get("role", ""))
    pool = client.connection_pool
    manager = getattr(pool, "sentinel_manager", None)
    if manager is None:
        return RedisNow(role)
    watch = getattr(manager, "watch", None)
    address = getattr(watch, "address", None)
    return RedisNow(role, str(getattr(pool, "service_name", "")), f"{address[0]}:{address[1]}" if address else "",
                    len(manager.sentinels))


class BoardService:
    def __init__(self, city: CitySettings, routing: Routing, runtime: RuntimeSettings, *, cache_s: float = CACHE_S) -> None:
        self.city = city
        self.cache_s = cache_s
        self.routing = routing
        self.recording_folder = host_folder(city, runtime)
        self._lock = threading.Lock()
        self._cached: tuple[float, dict[str, Any], bytes] | None = None
        self.records = EndedCalls(routing, RECORD_FIELDS)

    def board(self) -> dict[str, Any]:
        """The board, computed at most once per ``cache_s`` (a second) per process."""
        return self._read()[0]

    def board_json(self) -> bytes:
        """The board as ``BoardView`` JSON, checked and written once per reading: fifty wall screens
        asking within the second are each sent the same bytes."""
        return self._read()[1]

    def _read(self) -> tuple[dict[str, Any], bytes]:
        with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < self.cache_s:
                return self._cached[1], self._cached[2]
            board = asdict(build_board(self.inputs()))
            body = BoardView.model_validate(board).model_dump_json().encode("utf-8")
            self._cached = (time.monotonic(), board, body)
            return board, body

    def inputs(self) -> BoardInputs:
        routing, keys, city = self.routing, self.routing.keys, self.city
        now = routing.clock()
        began = int(shift_start(datetime.fromtimestamp(now / 1000), city.supervision.shift_starts).timestamp() * 1000)
        active = routing.active_calls()
        callers = {c.get("call_id", ""): c.get("caller", "") for c in active}
        desks = []
        for desk in city.desks:
            record = routing.desk(desk.id)
            call_id = record.get("call_id", "")
            desks.append(DeskNow(desk.id, desk.agency, record.get("state") or DeskState.OFFLINE, record.get("reason", ""),
                                 _int(record.get("since_ms")), call_id, callers.get(call_id, "") if call_id else ""))
        pipeline = routing.redis.pipeline(transaction=False)
        for queue in city.queues:
            pipeline.zrange(keys.callback_tasks(queue), 0, -1, withscores=True)
        callbacks = {queue: [int(score) % PRIORITY_FACTOR for _, score in reply]
                     for queue, reply in zip(city.queues, pipeline.execute(), strict=True)}
        bridges = [BridgeBeat(b["bridge_id"], _int(b.get("heartbeat_ms"), 0) or 0, b.get("ami_up") == "1",
                              _int(b.get("ami_since_ms"), 0) or 0, _int(b.get("loop_lag_ms"), 0) or 0)
                   for b in routing.bridges()]
        s = city.supervision
        return BoardInputs(
            now_ms=now, shift_start_ms=began, queues=city.queues,
            waiting={q: [arrived for _, arrived in routing.waiting_since(q)] for q in city.queues},
            active_calls=active, records=self.records.since(records_since(now, began)),
            desks=desks, callbacks=callbacks, bridges=bridges,
            bridge_stale_ms=city.queueing.bridge_heartbeat_stale_s * 1000,
            redis=redis_now(routing.redis), disk=disk_of(self.recording_folder),
            service_levels=s.targets, short_abandon_s=s.short_abandon_s,
        )

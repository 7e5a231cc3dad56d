"""The bridge follows Asterisk's warnings log and records every shortage it reads there.

Why the log: a caller refused or a desk left unrung for lack of RTP ports, channels or open
files is told nowhere else. An incoming INVITE refused for want of an RTP port never becomes
a channel, so there is no AMI event, no dialplan step and no call record; Asterisk only logs
it (telephony/resource_lines.py has the lines). Why a file Asterisk writes and the bridge
reads, rather than a pipe or a socket the bridge serves: Asterisk's logger must never wait
for the bridge. A FIFO blocks Asterisk's logger thread while no bridge reads it, and a
syslog socket inside a chroot is one more part to keep alive; a file is written whatever
the bridge does, and a bridge that was down reads on from where the last record ended.

logger.conf writes ``warnings.log => warning,error`` (asterisk_conf/logger.conf.tmpl): only
warnings and errors, so the file grows slowly even at verbose 3 and reading it costs little.

Each second the bridge reads what was added (at most ``MAX_READ`` bytes), tallies the
shortages per resource, and, only when there are some, records them in one Lua call
(``resource_shortage``): a flood of log lines is one script call a second, one audit line
per resource. The script keeps how far the log was recorded (``resources:log``) and records
a stretch only when it starts there, so several bridges reading one log record each stretch
once; a bridge that loses that race reads on from the recorded offset. A log watched for the
first time is read from its end (older lines were the past); a rotated or truncated one from
its start.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

from redis.exceptions import RedisError

from queueing.routing import AsyncRouting
from queueing.states import Resource
from telephony.resource_lines import ShortageReader, Tally

log = logging.getLogger("hotline.resources")

EVERY_S = 1.0
MAX_READ = 1 << 20  # bytes a step: a flood of lines is read over a few seconds, never all at once


def _read(path: Path, offset: int, size: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(size)


class ResourceWatch:
    """Follows one Asterisk warnings log (``path``, as this process sees it)."""

    def __init__(self, routing: AsyncRouting, path: Path, bridge_id: str) -> None:
        self.routing = routing
        self.path = path
        self.bridge_id = bridge_id
        self.reader = ShortageReader()
        self.file_id: str | None = None
        self.offset = 0       # read up to here
        self.committed = 0    # recorded up to here (resources:log)
        self.restart = False  # the file was rotated or truncated: record from its start
        self.pending: dict[Resource, Tally] = {}
        self._missing_told = False

    async def run(self) -> None:
        while True:
            try:
                await self.step()
            except RedisError as exc:
                # What was read stays pending: it is recorded once Redis answers.
                log.warning("shortages not recorded yet (%s); retrying", exc)
            except OSError as exc:
                log.warning("cannot read Asterisk's warnings log %s: %s", self.path, exc)
            await asyncio.sleep(EVERY_S)

    async def step(self) -> int:
        """Reads what Asterisk added and records its shortages; returns how many were recorded."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if not self._missing_told:
                self._missing_told = True
                log.warning("Asterisk's warnings log %s does not exist: a caller refused for lack of RTP ports, "
                            "channels or open files would go unseen. Add 'warnings.log => warning,error' to "
                            "logger.conf and point HOTLINE_ASTERISK_WARNINGS_LOG at it", self.path)
            return 0
        self._missing_told = False
        file_id = f"{st.st_dev}:{st.st_ino}"
        if file_id != self.file_id:
            await self._start(file_id, st.st_size)
        elif st.st_size < self.offset:  # truncated (copytruncate): it starts again
            self._from(0, restart=True)
        if st.st_size > self.offset:
            chunk = await asyncio.to_thread(_read, self.path, self.offset, MAX_READ)
            end = chunk.rfind(b"\n") + 1
            if end == 0 and len(chunk) < MAX_READ:
                end = 0  # half a line: Asterisk is still writing it
            elif end == 0:
                end = len(chunk)  # one line longer than a read: take it as it is
            lines = chunk[:end].decode("utf-8", errors="replace").splitlines()
            self.reader.read(lines, into=self.pending)
            self.offset += end
        if not self.pending:
            return 0
        return await self._record()

    async def _start(self, file_id: str, size: int) -> None:
        first_sight = self.file_id is None
        self.file_id = file_id
        if not first_sight:  # rotated under us: the new file from its start
            self._from(0, restart=True)
            return
        stored = await self.routing.redis.hget(self.routing.keys.resource_log(), str(self.path))
        parts = str(stored or "").split()
        if len(parts) == 2 and parts[0] == file_id:
            offset = int(parts[1])
            self._from(offset if offset <= size else 0, restart=offset > size)
        elif parts:  # recorded from another file: this one is its successor
            self._from(0, restart=True)
        else:
            self._from(size, restart=False)  # nothing recorded yet: the script takes the first stretch

    def _from(self, offset: int, *, restart: bool) -> None:
        self.offset = self.committed = offset
        self.restart = restart
        self.pending = {}
        self.reader.forget()

    async def _record(self) -> int:
        assert self.file_id is not None
        tallies = json.dumps({str(r): t.to_json() for r, t in sorted(self.pending.items())})
        reply = await self.routing.resource_shortage(str(self.path), self.file_id, self.committed, self.offset,
                                                     self.bridge_id, tallies, restart=self.restart)
        if reply.get("recorded") == "1":
            shortages = int(reply.get("shortages") or 0)
            for resource, tally in sorted(self.pending.items()):
                log.error("Asterisk ran out of %s: %d shortage(s), %d caller(s) refused, %d desk leg(s) unrung (%s)",
                          resource, tally.shortages, tally.callers_refused, tally.desks_unrung, tally.line)
            self.committed = self.offset
            self.restart = False
            self.pending = {}
            return shortages
        # Another bridge recorded this stretch first: read on from where it ended.
        if reply.get("file") == self.file_id:
            self._from(int(reply.get("offset") or 0), restart=False)
        else:
            self.file_id = None  # it has seen a newer file: find it again next step
            self._from(0, restart=False)
        return 0

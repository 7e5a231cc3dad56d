"""Following the events stream (``Keys.events``) forwards from a stream id, without a gap.

The stream is capped (``MAXLEN ~`` in ``lua/_prelude.lua``), so a reader that asks for the
events after an old id may find some of them trimmed away. :meth:`EventStream.catch_up` reads
the stream's metadata and the next entries in one MULTI, so whether an entry after that id may
be gone is decided on the very state the entries come from: a reader is told of a gap, never
silently skips one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from queueing.keys import DEFAULT_PREFIX, Keys

_STREAM_ID = re.compile(r"(\d{1,20})-(\d{1,20})")
_U64 = 2**64 - 1
ZERO_ID = "0-0"


def parse_stream_id(text: str) -> tuple[int, int]:
    """A full stream id ``<ms>-<seq>`` as a comparable pair; ValueError saying what is wrong."""
    match = _STREAM_ID.fullmatch(text)
    if match is None or int(match[1]) > _U64 or int(match[2]) > _U64:
        shown = text if len(text) <= 60 else text[:60] + "…"
        raise ValueError(f"{shown!r} is not an events stream id: expected <milliseconds>-<sequence>, "
                         "two decimal numbers below 2^64, as in '1733100000000-0'")
    return int(match[1]), int(match[2])


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entry(entry_id: Any, fields: Any) -> dict[str, str]:
    return {"id": _text(entry_id), **{_text(k): _text(v) for k, v in dict(fields or {}).items()}}


def _entries(reply: Any) -> list[dict[str, str]]:
    """XREAD's reply for one stream ([[key, [(id, fields), …]]] or nil) as entries, oldest first."""
    if not reply:
        return []
    if isinstance(reply, dict):  # RESP3 answers XREAD with a map
        reply = list(reply.items())
    return [_entry(entry_id, fields) for _key, rows in reply for entry_id, fields in rows]


@dataclass(frozen=True)
class Gap:
    """Entries after ``requested`` are gone: trimmed away, or the stream has never reached that
    id (it was lost with Redis's data, or the id is from another Redis)."""

    requested: str
    first_kept: str  # the oldest entry the stream still has; "" when it is empty
    resume_from: str  # the newest id at the time: the reader goes on from there
    trimmed: bool  # False: the stream is behind the id


@dataclass(frozen=True)
class Batch:
    """What :meth:`EventStream.catch_up` found: a gap, or the next entries, and where to go on."""

    entries: list[dict[str, str]]
    gap: Gap | None
    position: str  # the id of the last entry read (or the reader's start)


def _gap(after: str, info: dict[str, Any], newest: str) -> Gap | None:
    """Whether an entry after ``after`` may be gone, from XINFO STREAM (Redis 7 fields).

    Trimming records no id, only how many entries were ever added: when any entry is gone and
    ``after`` is older than the oldest kept one, the trimmed ones may have been after it (a page
    whose last event was exactly the newest trimmed one is told of a gap it did not have; it
    reloads for nothing, which is safe). An XDEL records the largest id it deleted."""
    wanted = parse_stream_id(after)
    first = info.get("first-entry")
    first_kept = _text(first[0]) if first else ""
    if wanted > parse_stream_id(newest):
        return Gap(after, first_kept, newest, trimmed=False)
    lost_any = int(info.get("entries-added", 1)) > int(info.get("length", 0))  # Redis < 7: assume so
    before_kept = wanted < parse_stream_id(first_kept or newest)  # none kept: every entry up to newest is gone
    deleted = parse_stream_id(_text(info.get("max-deleted-entry-id") or ZERO_ID))
    if wanted < deleted or (lost_any and before_kept):
        return Gap(after, first_kept, newest, trimmed=True)
    return None


class EventStream:
    """Reads the events stream of one key prefix over ``redis.asyncio``."""

    def __init__(self, redis: aioredis.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.redis = redis
        self.key = Keys(prefix).events()

    async def catch_up(self, after: str | None, count: int) -> Batch:
        """Up to ``count`` entries after ``after`` with a gap check, atomically; ``after`` None
        starts at the newest id (nothing read yet)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.xinfo_stream(self.key)
        if after is not None:
            pipe.xread({self.key: after}, count=count)
        replies = await pipe.execute(raise_on_error=False)
        info = replies[0]
        if isinstance(info, ResponseError):
            if "no such key" not in str(info).lower():
                raise info
            info = {}
        elif isinstance(info, Exception):
            raise info
        newest = _text(info.get("last-generated-id") or ZERO_ID)
        if after is None:
            return Batch([], None, newest)
        if isinstance(replies[1], Exception):
            raise replies[1]
        gap = _gap(after, info, newest)
        if gap:
            return Batch([], gap, newest)
        entries = _entries(replies[1])
        return Batch(entries, None, entries[-1]["id"] if entries else after)

    async def wait(self, after: str, count: int, block_ms: int) -> list[dict[str, str]]:
        """Up to ``count`` entries after ``after``, waiting at most ``block_ms`` for the first one."""
        return _entries(await self.redis.xread({self.key: after}, count=count, block=max(1, block_ms)))

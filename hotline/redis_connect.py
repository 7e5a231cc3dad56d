"""Redis clients from ``HOTLINE_REDIS_URL``, made in one place for every process.

* ``redis://``, ``rediss://``, ``unix://``: one server, as redis-py's ``from_url`` reads it.
* ``redis+sentinel://host1:port1,host2:port2,host3:port3/<master-name>[/<db>]``: the
  primary that Redis Sentinel names for ``<master-name>`` (port 26379 when left out;
  ``user:password@`` before the hosts is for the primary, the sentinels are asked without
  one). Every new connection asks the sentinels where the primary is, so after a failover
  the clients follow the new primary by themselves; the change is logged once per client
  (logger ``hotline.redis``). Lua scripts need nothing more: redis-py's ``Script`` objects
  run EVALSHA and load the script again on NOSCRIPT, which a promoted replica answers at
  first. Pub/sub re-subscribes when its connection is made again (the bridge's wake
  listener also starts a new subscription after an error).
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
import redis.asyncio as aioredis
import redis.asyncio.retry
import redis.asyncio.sentinel
import redis.retry
import redis.sentinel
from redis.backoff import NoBackoff

log = logging.getLogger("hotline.redis")

SENTINEL_SCHEME = "redis+sentinel"
PLAIN_SCHEMES = ("redis", "rediss", "unix")
DEFAULT_SENTINEL_PORT = 26379
# Each sentinel is asked once, briefly: discover_master goes on to the next one anyway.
SENTINEL_TIMEOUT_S = 1.0
SENTINEL_FORMAT = "redis+sentinel://host1:port1,host2:port2,host3:port3/<master-name>[/<db>]"

_HOST_PORT = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[^\[\]:/,@]+)(?::(?P<port>[0-9]*))?")
_MASTER_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


class RedisUrlError(ValueError):
    """HOTLINE_REDIS_URL is not a URL this project can connect with."""


@dataclass(frozen=True)
class SentinelUrl:
    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    username: str | None = None
    password: str | None = None


def redact(url: str) -> str:
    """The URL with its password replaced, for messages and logs."""
    return re.sub(r"(://[^:@/]*:)[^@/]*@", r"\1***@", url)


def check_url(url: str) -> str:
    """The URL unchanged, or RedisUrlError saying what is wrong (RuntimeSettings' validator)."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme == SENTINEL_SCHEME:
        parse_sentinel_url(url)
    elif scheme not in PLAIN_SCHEMES:
        raise RedisUrlError(f"must start with redis://, rediss://, unix:// or {SENTINEL_SCHEME}://, "
                            f"got {redact(url)!r}")
    return url


def is_sentinel_url(url: str) -> bool:
    return url.startswith(f"{SENTINEL_SCHEME}://")


def parse_sentinel_url(url: str) -> SentinelUrl:
    """``redis+sentinel://[[user]:password@]host[:port],…/<master-name>[/<db>]``."""
    shown = redact(url)

    def bad(problem: str) -> RedisUrlError:
        return RedisUrlError(f"{problem}, got {shown!r} (expected {SENTINEL_FORMAT})")

    if not is_sentinel_url(url):
        raise bad(f"must start with {SENTINEL_SCHEME}://")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise bad(str(exc)) from None
    if parts.query or parts.fragment:
        raise bad("takes no ?options or #fragment")
    netloc = parts.netloc
    username = password = None
    if "@" in netloc:
        userinfo, netloc = netloc.rsplit("@", 1)
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    if not netloc:
        raise bad("names no sentinel")
    sentinels: list[tuple[str, int]] = []
    for i, item in enumerate(netloc.split(",")):
        match = _HOST_PORT.fullmatch(item)
        if not match:
            raise bad(f"sentinel {i + 1} {item!r} is not host:port")
        host, port_text = match["host"].strip("[]"), match["port"]
        if port_text is None:
            port = DEFAULT_SENTINEL_PORT
        elif not port_text or not 1 <= int(port_text) <= 65535:
            raise bad(f"sentinel {i + 1} {item!r} has no port 1-65535")
        else:
            port = int(port_text)
        if (host, port) in sentinels:
            raise bad(f"sentinel {host}:{port} is listed twice")
        sentinels.append((host, port))
    segments = parts.path.split("/")[1:]
    if len(segments) > 1 and segments[-1] == "":
        segments.pop()  # a trailing slash
    if not segments or not segments[0]:
        raise bad("names no master (the name after the hosts, as in 'sentinel monitor <name> …')")
    if len(segments) > 2:
        raise bad("has more than /<master-name>/<db> after the hosts")
    master = unquote(segments[0])
    if not _MASTER_NAME.fullmatch(master):
        raise bad(f"master name {master!r} must be 1-64 letters, digits, '.', '_' or '-'")
    db = 0
    if len(segments) == 2:
        if not segments[1].isdigit():
            raise bad(f"database {segments[1]!r} must be a number")
        db = int(segments[1])
    return SentinelUrl(tuple(sentinels), master, db, username, password)


# --- clients -------------------------------------------------------------------------------


def redis_client(url: str, **kwargs: Any) -> redis.Redis:
    """A blocking client for ``url`` (any scheme above); ``kwargs`` as for ``redis.Redis``
    (decode_responses, socket_timeout, socket_connect_timeout, …)."""
    check_url(url)
    if not is_sentinel_url(url):
        return redis.Redis.from_url(url, **kwargs)
    spec = parse_sentinel_url(url)
    manager = _FollowingSentinel(spec.sentinels, sentinel_kwargs=_sentinel_kwargs(redis.retry.Retry),
                                 **_primary_kwargs(spec, kwargs))
    return manager.master_for(spec.master)


ASYNC_POOL_SIZE = 200  # connections per process; redis-server allows 10,000
ASYNC_POOL_WAIT_S = 5.0


def async_redis_client(url: str, **kwargs: Any) -> aioredis.Redis:
    """The asyncio twin of :func:`redis_client`."""
    check_url(url)
    if not is_sentinel_url(url):
        # A burst (hundreds of callers reaching the IVR at once) waits a moment for a free
        # connection instead of failing ("Too many connections") and falling back.
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=ASYNC_POOL_SIZE, timeout=ASYNC_POOL_WAIT_S, **kwargs)
        return aioredis.Redis(connection_pool=pool)
    spec = parse_sentinel_url(url)
    manager = _AsyncFollowingSentinel(spec.sentinels,
                                      sentinel_kwargs=_sentinel_kwargs(redis.asyncio.retry.Retry),
                                      **_primary_kwargs(spec, kwargs))
    return manager.master_for(spec.master)


def sentinel_sync_twin(async_client: Any) -> redis.Redis | None:
    """For ``queueing.jobs.sync_client_like``: a blocking, bytes-returning client through the
    same sentinels to the same primary as ``async_client``; None when it is not behind
    Sentinel. Cached per sentinel set, master and database."""
    pool = async_client.connection_pool
    manager = getattr(pool, "sentinel_manager", None)
    if manager is None:
        return None
    sentinels = tuple(sorted((s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["port"])
                             for s in manager.sentinels))
    kw = pool.connection_kwargs
    return _sync_sentinel_twin(SentinelUrl(sentinels, pool.service_name, int(kw.get("db") or 0),
                                           kw.get("username"), kw.get("password")))


@functools.cache
def _sync_sentinel_twin(spec: SentinelUrl) -> redis.Redis:
    manager = _FollowingSentinel(spec.sentinels, sentinel_kwargs=_sentinel_kwargs(redis.retry.Retry),
                                 **_primary_kwargs(spec, {"socket_timeout": 2, "socket_connect_timeout": 2}))
    return manager.master_for(spec.master)


def _sentinel_kwargs(retry_class) -> dict[str, Any]:
    return {"socket_timeout": SENTINEL_TIMEOUT_S, "socket_connect_timeout": SENTINEL_TIMEOUT_S,
            "retry": retry_class(NoBackoff(), 0)}


def _primary_kwargs(spec: SentinelUrl, kwargs: dict[str, Any]) -> dict[str, Any]:
    out = {"db": spec.db, **kwargs}
    if spec.username is not None:
        out.setdefault("username", spec.username)
    if spec.password is not None:
        out.setdefault("password", spec.password)
    return out


# --- following the primary ---------------------------------------------------------------------


class _PrimaryWatch:
    """What the sentinels last named as primary; each change is logged once."""

    def __init__(self) -> None:
        self.address: tuple[str, int] | None = None
        self.missing = False

    def found(self, master: str, address: Any) -> None:
        address = (str(address[0]), int(address[1]))
        if address != self.address:
            if self.address is None:
                log.info("Redis primary of %r is %s:%d (via Sentinel)", master, *address)
            else:
                log.warning("Redis primary of %r changed: following the new primary %s:%d (was %s:%d)",
                            master, *address, *self.address)
            self.address = address
        self.missing = False

    def not_found(self, master: str, error: Exception) -> None:
        if not self.missing:
            log.warning("the sentinels name no Redis primary of %r now (failover under way?): %s", master, error)
            self.missing = True


class _FollowingSentinel(redis.sentinel.Sentinel):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.watch = _PrimaryWatch()

    def discover_master(self, service_name):
        try:
            address = super().discover_master(service_name)
        except redis.sentinel.MasterNotFoundError as exc:
            self.watch.not_found(service_name, exc)
            raise
        self.watch.found(service_name, address)
        return address


class _AsyncFollowingSentinel(redis.asyncio.sentinel.Sentinel):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.watch = _PrimaryWatch()

    async def discover_master(self, service_name: str):
        try:
            address = await super().discover_master(service_name)
        except redis.asyncio.sentinel.MasterNotFoundError as exc:
            self.watch.not_found(service_name, exc)
            raise
        self.watch.found(service_name, address)
        return address

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
from collections.abc import Callable
from typing import Any, cast

import redis
import redis.asyncio as aioredis
import redis.asyncio.retry
import redis.asyncio.sentinel
import redis.retry
import redis.sentinel
from redis.backoff import NoBackoff

from config.redis_url import SENTINEL_TIMEOUT_S, SentinelUrl, check_url, is_sentinel_url, parse_sentinel_url

log = logging.getLogger("hotline.redis")


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
    return _primary_client(manager, spec.master)


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
    return _async_primary_client(manager, spec.master)


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
    return _primary_client(manager, spec.master)


def _primary_client(manager: redis.sentinel.Sentinel, master: str) -> redis.Redis:
    """``manager.master_for(master)``: a ``redis.Redis`` (redis-py leaves it unannotated)."""
    master_for = cast(Callable[[str], redis.Redis], manager.master_for)
    return master_for(master)


def _async_primary_client(manager: redis.asyncio.sentinel.Sentinel, master: str) -> aioredis.Redis:
    """``manager.master_for(master)``: a ``redis.asyncio.Redis`` (redis-py leaves it unannotated)."""
    master_for = cast(Callable[[str], aioredis.Redis], manager.master_for)
    return master_for(master)


def _sentinel_kwargs(retry_class: type[redis.retry.Retry] | type[redis.asyncio.retry.Retry]) -> dict[str, Any]:
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
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]  # unannotated in redis-py
        self.watch = _PrimaryWatch()

    def discover_master(self, service_name: str) -> Any:
        try:
            address = super().discover_master(service_name)  # type: ignore[no-untyped-call]  # unannotated in redis-py
        except redis.sentinel.MasterNotFoundError as exc:
            self.watch.not_found(service_name, exc)
            raise
        self.watch.found(service_name, address)
        return address


class _AsyncFollowingSentinel(redis.asyncio.sentinel.Sentinel):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]  # unannotated in redis-py
        self.watch = _PrimaryWatch()

    async def discover_master(self, service_name: str) -> Any:
        try:
            address = await super().discover_master(service_name)
        except redis.asyncio.sentinel.MasterNotFoundError as exc:
            self.watch.not_found(service_name, exc)
            raise
        self.watch.found(service_name, address)
        return address

"""HOTLINE_REDIS_URL → clients (queueing/redis_connect.py): parsing and validating the
Sentinel URL, the clients each scheme gives, and — with a real primary, replica and three
sentinels — that Lua scripts and pub/sub follow a failover."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
import redis
import redis.asyncio as aioredis
import redis.asyncio.sentinel
import redis.sentinel

from config.redis_url import RedisUrlError, SentinelUrl, check_url, parse_sentinel_url
from config.settings import RuntimeSettings, SettingsError
from queueing.jobs import sync_client_like
from queueing.redis_connect import async_redis_client, redis_client, sentinel_sync_twin
from queueing.routing import AsyncRouting, Routing

SENTINELS = "redis+sentinel://10.0.0.1:26379,10.0.0.2:26380,10.0.0.3:26381"


# --- parsing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"{SENTINELS}/hotline",
         SentinelUrl((("10.0.0.1", 26379), ("10.0.0.2", 26380), ("10.0.0.3", 26381)), "hotline", 0)),
        (f"{SENTINELS}/hotline/3",
         SentinelUrl((("10.0.0.1", 26379), ("10.0.0.2", 26380), ("10.0.0.3", 26381)), "hotline", 3)),
        ("redis+sentinel://s1,s2:5000,s3/mymaster/", SentinelUrl((("s1", 26379), ("s2", 5000), ("s3", 26379)), "mymaster")),
        ("redis+sentinel://[::1]:26379,[::1]:26380/hotline", SentinelUrl((("::1", 26379), ("::1", 26380)), "hotline")),
        ("redis+sentinel://:p%40ss@s1:1/hotline", SentinelUrl((("s1", 1),), "hotline", 0, None, "p@ss")),
        ("redis+sentinel://app:pw@s1:1/hotline/1", SentinelUrl((("s1", 1),), "hotline", 1, "app", "pw")),
    ],
)
def test_sentinel_urls_parse(url, expected):
    assert parse_sentinel_url(url) == expected
    assert check_url(url) == url


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis+sentinel:///hotline", "names no sentinel"),
        ("redis+sentinel://s1:1,s2:2", "names no master"),
        ("redis+sentinel://s1:1,s2:2/", "names no master"),
        ("redis+sentinel://s1:1/hotline/zero", "database 'zero' must be a number"),
        ("redis+sentinel://s1:1/hotline/0/extra", "has more than /<master-name>/<db>"),
        ("redis+sentinel://s1:abc/hotline", "sentinel 1 's1:abc' is not host:port"),
        ("redis+sentinel://s1:1,s2:/hotline", "sentinel 2 's2:' has no port 1-65535"),
        ("redis+sentinel://s1:70000/hotline", "has no port 1-65535"),
        ("redis+sentinel://s1:1,s1:1/hotline", "sentinel s1:1 is listed twice"),
        ("redis+sentinel://s1:1/hotline?db=2", "takes no ?options"),
        ("redis+sentinel://s1:1/my%20master", "master name 'my master' must be"),
    ],
)
def test_bad_sentinel_urls_say_what_is_wrong_and_show_the_format(url, problem):
    with pytest.raises(RedisUrlError) as caught:
        check_url(url)
    message = str(caught.value)
    assert problem in message
    assert "redis+sentinel://host1:port1,host2:port2,host3:port3/<master-name>[/<db>]" in message


def test_a_password_is_never_repeated_in_an_error():
    with pytest.raises(RedisUrlError) as caught:
        check_url("redis+sentinel://app:s3cret@s1:1/")
    assert "s3cret" not in str(caught.value) and "app:***@" in str(caught.value)
    with pytest.raises(RedisUrlError) as caught:
        check_url("http://app:s3cret@s1:1/")
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize("url", ["redis://h:1/0", "rediss://h:1/0", "unix:///run/redis.sock?db=1"])
def test_plain_urls_are_accepted_as_before(url):
    assert check_url(url) == url


def test_runtime_settings_accept_a_sentinel_url(clean_env):
    clean_env.setenv("HOTLINE_REDIS_URL", f"{SENTINELS}/hotline/0")
    assert RuntimeSettings.from_env().redis_url == f"{SENTINELS}/hotline/0"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://localhost:6379", r"^HOTLINE_REDIS_URL: must start with redis://, rediss://, unix:// or redis\+sentinel://"),
        ("redis+sentinel://s1:1", r"^HOTLINE_REDIS_URL: names no master"),
        ("redis+sentinel://s1:1/hotline/x", r"^HOTLINE_REDIS_URL: database 'x' must be a number"),
    ],
)
def test_a_bad_url_is_reported_with_the_variable_name(clean_env, url, expected):
    clean_env.setenv("HOTLINE_REDIS_URL", url)
    with pytest.raises(SettingsError, match=expected):
        RuntimeSettings.from_env()


# --- the clients each scheme gives (nothing is connected here) ------------------------------


def test_a_plain_url_gives_a_client_of_that_server_with_the_callers_options():
    client = redis_client("redis://10.1.2.3:6390/4", decode_responses=True, socket_timeout=5)
    kw = client.connection_pool.connection_kwargs
    assert (kw["host"], kw["port"], kw["db"], kw["socket_timeout"]) == ("10.1.2.3", 6390, 4, 5)
    assert client.get_encoder().decode_responses
    assert isinstance(async_redis_client("redis://10.1.2.3:6390/4"), aioredis.Redis)


def test_a_sentinel_url_gives_a_client_of_the_named_primary():
    client = redis_client(f"{SENTINELS}/hotline/2", decode_responses=True, socket_timeout=5)
    pool = client.connection_pool
    assert isinstance(pool, redis.sentinel.SentinelConnectionPool)
    assert pool.service_name == "hotline"
    assert (pool.connection_kwargs["db"], pool.connection_kwargs["socket_timeout"]) == (2, 5)
    assert client.get_encoder().decode_responses
    asked = [(s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["port"])
             for s in pool.sentinel_manager.sentinels]
    assert asked == [("10.0.0.1", 26379), ("10.0.0.2", 26380), ("10.0.0.3", 26381)]

    async_client = async_redis_client(f"{SENTINELS}/hotline/2", decode_responses=True, socket_timeout=2)
    assert isinstance(async_client.connection_pool, redis.asyncio.sentinel.SentinelConnectionPool)
    assert async_client.connection_pool.service_name == "hotline"


def test_rq_twin_of_a_sentinel_client_goes_through_the_same_sentinels():
    async_client = async_redis_client("redis+sentinel://:pw@10.0.0.1:1,10.0.0.2:2/hotline/5", decode_responses=True)
    twin = sync_client_like(async_client)
    assert twin is sentinel_sync_twin(async_client)  # cached
    pool = twin.connection_pool
    assert isinstance(pool, redis.sentinel.SentinelConnectionPool) and pool.service_name == "hotline"
    assert (pool.connection_kwargs["db"], pool.connection_kwargs["password"]) == (5, "pw")
    assert not twin.get_encoder().decode_responses  # rq stores pickles
    assert sentinel_sync_twin(async_redis_client("redis://10.0.0.1:6379/0")) is None


# --- a real failover -----------------------------------------------------------------------


@pytest.fixture
def sentinel_cluster(tmp_path):
    from hotline.lab.redis_sentinel import start_sentinel_cluster

    cluster = start_sentinel_cluster(tmp_path)
    try:
        yield cluster
    finally:
        cluster.stop()


def test_scripts_and_pub_sub_follow_the_new_primary_after_a_failover(sentinel_cluster, caplog):
    caplog.set_level(logging.INFO, logger="hotline.redis")
    url = sentinel_cluster.url
    sync_routing = Routing(redis_client(url, decode_responses=True, socket_timeout=2, socket_connect_timeout=2))
    sync_routing.register_desk("desk-101", "police")
    sha = sync_routing.scripts["desk_set_state"].sha

    async def scenario() -> tuple[float, list[str]]:
        routing = AsyncRouting(async_redis_client(url, decode_responses=True, socket_timeout=2,
                                                  socket_connect_timeout=2))
        await routing.register_desk("desk-102", "police")
        heard: list[str] = []

        async def listen() -> None:  # as the bridge's wake listener does
            while True:
                try:
                    pubsub = routing.redis.pubsub()
                    await pubsub.subscribe("wake")
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            heard.append(message["data"])
                except redis.RedisError:
                    await asyncio.sleep(0.5)

        listener = asyncio.create_task(listen())
        try:
            await asyncio.sleep(0.3)
            sync_routing.redis.publish("wake", "before")
            old = sentinel_cluster.kill_primary()
            new, took = await asyncio.to_thread(sentinel_cluster.wait_new_primary, old)
            with redis.Redis(host=new[0], port=new[1]) as promoted:
                # Redis replicates a script's effects, not the script: the promoted replica
                # answers NOSCRIPT at first, and redis-py loads the script again.
                assert promoted.script_exists(sha) == [False]
                assert (await routing.set_desk_state("desk-102", "ready")).state == "ready"
                assert sync_routing.set_desk_state("desk-101", "ready").state == "ready"
                assert promoted.script_exists(sha) == [True]
                assert promoted.hget("hotline:desk:desk-101", "state") == b"ready"
            for _ in range(50):  # the subscription is made again, on the new primary
                sync_routing.redis.publish("wake", "after")
                if "after" in heard:
                    break
                await asyncio.sleep(0.2)
            return took, heard
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
            await routing.redis.aclose()

    started = time.monotonic()
    took, heard = asyncio.run(scenario())
    assert heard[0] == "before" and "after" in heard
    assert took < 15, f"failover took {took:.1f} s"
    followed = [r.getMessage() for r in caplog.records if "following the new primary" in r.getMessage()]
    assert len(followed) >= 2, caplog.text  # the blocking and the asyncio client, each once
    assert time.monotonic() - started < 30


def test_a_burst_over_the_pool_size_waits_instead_of_failing(redis_url):
    """500 commands at once, each holding a connection 0.2 s, through a pool of 200:
    they queue for a connection ("Too many connections" would send callers to the
    fallback queue)."""
    import asyncio

    from queueing.redis_connect import ASYNC_POOL_SIZE, async_redis_client

    async def main():
        client = async_redis_client(redis_url, decode_responses=True, socket_timeout=5)
        try:
            async def hold(i):
                await client.blpop(f"burst-test-{i}", timeout=0.2)
                return await client.ping()
            return await asyncio.gather(*[hold(i) for i in range(ASYNC_POOL_SIZE + 300)])
        finally:
            await client.aclose()

    assert all(asyncio.run(main()))

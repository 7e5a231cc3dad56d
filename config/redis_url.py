"""HOTLINE_REDIS_URL: which URLs this project can connect with, parsed without redis-py.

* ``redis://``, ``rediss://``, ``unix://``: one server, as redis-py's ``from_url`` reads it.
* ``redis+sentinel://host1:port1,host2:port2,host3:port3/<master-name>[/<db>]``: the
  primary that Redis Sentinel names for ``<master-name>`` (port 26379 when left out;
  ``user:password@`` before the hosts is for the primary, the sentinels are asked without
  one).

This is the ground floor: the settings validate the URL here at start, before any client
exists (the clients are ``queueing.redis_connect``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

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

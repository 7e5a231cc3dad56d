"""The Lua scripts of ``queueing/lua``, registered by name on a Redis client.

Every ``lua/<name>.lua`` is a script; files starting with ``_`` are not, and
``_prelude.lua`` (shared helpers and the calling convention) is prepended to each script.
Works for ``redis.Redis`` and ``redis.asyncio.Redis`` alike: ``register_script`` returns a
callable whose result is the reply, or an awaitable of it.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from queueing.errors import UnknownScript

LUA_DIR = Path(__file__).with_name("lua")
PRELUDE = "_prelude.lua"


@functools.cache
def script_sources() -> dict[str, str]:
    """Full source (prelude + body) of every script, by name; read from disk once."""
    prelude = (LUA_DIR / PRELUDE).read_text(encoding="utf-8")
    return {
        path.stem: prelude + path.read_text(encoding="utf-8")
        for path in sorted(LUA_DIR.glob("*.lua"))
        if not path.name.startswith("_")
    }


class Scripts:
    """Every script registered once on one client: ``scripts["claim_next"](keys=, args=)``.

    Registering only hashes the source; redis-py loads it into Redis (EVALSHA, then
    SCRIPT LOAD on NOSCRIPT) at the first call, so a restarted Redis is handled too.
    """

    def __init__(self, redis: Any) -> None:
        self._scripts = {
            name: redis.register_script(source) for name, source in script_sources().items()
        }

    @property
    def names(self) -> list[str]:
        return sorted(self._scripts)

    def __getitem__(self, name: str) -> Any:
        try:
            return self._scripts[name]
        except KeyError:
            raise UnknownScript(
                f"no Lua script named {name!r} in {LUA_DIR}; known: {', '.join(self.names)}"
            ) from None

"""A FastAGI server of hotline's own (telephony.agi_server) with one route, ``echo``, that
sends commands until the caller hangs up: the protocol overhead of the server alone,
without the IVR, Redis or the bridge's other work.

    python -m bench.agi_echo PORT
"""

from __future__ import annotations

import asyncio
import sys

from telephony.agi_server import AgiChannel, FastAgiServer


async def echo(agi: AgiChannel) -> None:
    while True:
        await agi.send("GET VARIABLE", "BENCH")


async def serve(port: int) -> None:
    server = FastAgiServer({"echo": echo})
    await server.start("127.0.0.1", port)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))

"""The API for the browser phases (pop, wallboard): on 127.0.0.1:<free port>, served by uvicorn
in a thread of the bench's process, over the bench lab's Redis, with no token table (pages sign in)."""

from __future__ import annotations

import threading
import time

import uvicorn

from api.app import create_app
from api.tokens import TokenTable
from bench.rig import Rig
from config.settings import RuntimeSettings
from hotline.lab.ports import TCP, free_port


class ApiServer:
    """The API on 127.0.0.1:<free port>, served by uvicorn in a thread."""

    def __init__(self, rig: Rig, *, metrics_loopback: bool = False) -> None:
        lab = rig.running_lab
        self.port = free_port(TCP)
        self.url = f"http://127.0.0.1:{self.port}"
        runtime = RuntimeSettings(city_file=lab.city_file, redis_url=rig.redis_url, metrics_loopback=metrics_loopback)
        app = create_app(runtime, city=lab.city, routing=rig.routing(), tokens=TokenTable([]))
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    timeout_graceful_shutdown=1, lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, name=f"bench-api:{self.port}", daemon=True)

    def start(self) -> ApiServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start on {self.url}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)
        if self.thread.is_alive():  # the consoles' event streams do not end by themselves
            self.server.force_exit = True
            self.thread.join(5)

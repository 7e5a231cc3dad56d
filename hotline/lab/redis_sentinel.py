"""Redis under Sentinel on loopback, for the lab and the fault tests: a primary (AOF), a
replica (``--replicaof``) and three sentinels (``redis-server --sentinel``: Debian's
``redis-sentinel``, when installed, is only a symlink to the same binary), every one on a
free port. Kill the primary (SIGKILL, as a crash would) and ask who the primary is now.

    cluster = start_sentinel_cluster(workdir)
    cluster.url             # redis+sentinel://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3/hotline/0
    killed = cluster.kill_primary()
    new, seconds = cluster.wait_new_primary(killed)
    cluster.stop()
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from hotline.lab.ports import TCP, free_port
from hotline.lab.redis_server import RedisServer, RedisServerError, start_redis_server, stop_process

MASTER_NAME = "hotline"
QUORUM = 2
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000


@dataclass
class Sentinel:
    process: subprocess.Popen[bytes]
    port: int
    workdir: Path
    host: str = "127.0.0.1"

    @property
    def log_path(self) -> Path:
        return self.workdir / "sentinel.log"

    def client(self) -> redis.Redis:
        return redis.Redis(host=self.host, port=self.port, socket_connect_timeout=0.5, socket_timeout=1,
                           decode_responses=True)

    def stop(self, timeout: float = 5.0) -> None:
        stop_process(self.process, timeout)


@dataclass
class SentinelCluster:
    workdir: Path
    master_name: str
    servers: list[RedisServer]  # the data nodes; servers[0] was the primary at start
    sentinels: list[Sentinel] = field(default_factory=list)
    killed: list[RedisServer] = field(default_factory=list)

    @property
    def url(self) -> str:
        hosts = ",".join(f"{s.host}:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{self.master_name}/0"

    def primary(self) -> tuple[str, int] | None:
        """The primary the majority of the sentinels name now (None while they do not agree)."""
        votes: dict[tuple[str, int], int] = {}
        for sentinel in self.sentinels:
            if sentinel.process.poll() is not None:
                continue
            try:
                with sentinel.client() as client:
                    reply = client.execute_command("SENTINEL", "get-master-addr-by-name", self.master_name)
            except redis.RedisError:
                continue
            if reply:
                address = (str(reply[0]), int(reply[1]))
                votes[address] = votes.get(address, 0) + 1
        for address, count in votes.items():
            if count >= QUORUM:
                return address
        return None

    def primary_server(self) -> RedisServer:
        address = self.primary()
        for server in self.servers:
            if (server.host, server.port) == address and server.process.poll() is None:
                return server
        raise RuntimeError(f"no running server is the primary the sentinels name ({address})")

    def kill_primary(self) -> RedisServer:
        """SIGKILL the current primary: nothing gets to flush or hand over."""
        server = self.primary_server()
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(5)
        self.killed.append(server)
        return server

    def wait_new_primary(self, old: RedisServer, timeout: float = 30) -> tuple[tuple[str, int], float]:
        """Until a majority of sentinels name another primary and it answers as a master;
        returns its address and the seconds waited."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            address = self.primary()
            if address and address != (old.host, old.port):
                try:
                    with redis.Redis(host=address[0], port=address[1], socket_timeout=1,
                                     socket_connect_timeout=0.5) as client:
                        if client.info("replication")["role"] == "master":
                            return address, time.monotonic() - started
                except redis.RedisError:
                    pass
            time.sleep(0.05)
        raise RuntimeError(f"no new primary within {timeout:.0f} s; sentinel logs under {self.workdir}\n"
                           + _tail(self.sentinels[0].log_path))

    def wait_ready(self, replicas: int, timeout: float = 30) -> None:
        """Until every sentinel knows the primary, its replicas and the other sentinels (a
        failover needs the quorum and a replica in sync)."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            try:
                states = []
                for sentinel in self.sentinels:
                    with sentinel.client() as client:
                        states.append(client.sentinel_master(self.master_name))
                last = [(s.get("num-slaves"), s.get("num-other-sentinels"), s.get("flags")) for s in states]
                if all(int(s["num-slaves"]) >= replicas and int(s["num-other-sentinels"]) >= len(self.sentinels) - 1
                       for s in states) and self._replicas_in_sync(replicas):
                    return
            except redis.RedisError as exc:
                last = exc
            time.sleep(0.2)
        raise RuntimeError(f"sentinels not ready within {timeout:.0f} s (slaves, other sentinels, flags: {last})")

    def _replicas_in_sync(self, replicas: int) -> bool:
        with redis.Redis(host=self.servers[0].host, port=self.servers[0].port, socket_timeout=1) as client:
            info = client.info("replication")
        online = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)
                  and v.get("state") == "online"]
        return len(online) >= replicas

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        for server in self.servers:
            server.stop()


def start_sentinel_cluster(workdir: str | Path, *, master_name: str = MASTER_NAME, replicas: int = 1,
                           sentinels: int = 3, down_after_ms: int = DOWN_AFTER_MS,
                           failover_timeout_ms: int = FAILOVER_TIMEOUT_MS,
                           timeout: float = 30) -> SentinelCluster:
    """A primary with AOF, ``replicas`` replicas and ``sentinels`` sentinels (quorum 2) on
    loopback; returns once a failover could happen."""
    workdir = Path(workdir)
    primary = start_redis_server(workdir / "primary", appendonly=True)
    cluster = SentinelCluster(workdir=workdir, master_name=master_name, servers=[primary])
    try:
        for i in range(replicas):
            cluster.servers.append(start_redis_server(
                workdir / f"replica-{i + 1}", appendonly=True,
                extra_args=["--replicaof", primary.host, str(primary.port)]))
        for i in range(sentinels):
            cluster.sentinels.append(_start_sentinel(workdir / f"sentinel-{i + 1}", primary, master_name,
                                                     down_after_ms, failover_timeout_ms))
        cluster.wait_ready(replicas, timeout)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _start_sentinel(workdir: Path, primary: RedisServer, master_name: str, down_after_ms: int,
                    failover_timeout_ms: int, timeout: float = 10) -> Sentinel:
    executable = shutil.which("redis-server")
    if executable is None:
        raise RedisServerError("'redis-server' not found on PATH: apt-get install redis-server")
    workdir.mkdir(parents=True, exist_ok=True)
    for _ in range(3):
        port = free_port(TCP)
        config = workdir / "sentinel.conf"  # Sentinel rewrites it: what it learned survives a restart
        config.write_text("\n".join([
            f"port {port}",
            "bind 127.0.0.1",
            "daemonize no",
            f"dir {workdir}",
            f"logfile {workdir / 'sentinel.log'}",
            "sentinel resolve-hostnames no",
            f"sentinel monitor {master_name} {primary.host} {primary.port} {QUORUM}",
            f"sentinel down-after-milliseconds {master_name} {down_after_ms}",
            f"sentinel failover-timeout {master_name} {failover_timeout_ms}",
            f"sentinel parallel-syncs {master_name} 1",
        ]) + "\n")
        (workdir / "sentinel.log").unlink(missing_ok=True)
        with open(workdir / "sentinel.stderr", "wb") as stderr:
            process = subprocess.Popen([executable, str(config), "--sentinel"], stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=stderr)
        sentinel = Sentinel(process=process, port=port, workdir=workdir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            try:
                with sentinel.client() as client:
                    if client.info("server")["process_id"] == process.pid:
                        return sentinel
            except redis.RedisError:
                pass
            time.sleep(0.05)
        sentinel.stop()
        log = _tail(sentinel.log_path)
        if "Address already in use" not in log:
            raise RedisServerError(f"redis-server --sentinel on port {port} did not come up:\n"
                                   f"{_tail(workdir / 'sentinel.stderr')}\n{log}")
    raise RedisServerError("no free port for a sentinel after 3 attempts")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""

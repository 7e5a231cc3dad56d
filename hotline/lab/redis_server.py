"""Start a throwaway redis-server for tests and the lab."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import redis

from hotline.lab.ports import TCP, free_port


class RedisServerError(RuntimeError):
    """redis-server is missing or did not come up."""


@dataclass
class RedisServer:
    process: subprocess.Popen[bytes]
    port: int
    workdir: Path
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.workdir / "redis.log"

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL if it does not exit in time)."""
        stop_process(self.process, timeout)

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def stop_process(process: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL if it does not exit in time (AOF: SIGTERM loses nothing)."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


def start_redis_server(
    workdir: str | Path,
    port: int | None = None,
    appendonly: bool = False,
    *,
    binary: str = "redis-server",
    timeout: float = 10.0,
    extra_args: Sequence[str] = (),
) -> RedisServer:
    """Start ``redis-server`` in ``workdir`` (no RDB snapshots) and wait until it answers PING.

    With ``port=None`` a free port is picked (and picked again if another process takes it
    first). ``extra_args`` go on the command line after the project's own (e.g.
    ``--replicaof``). Raises :class:`RedisServerError` when the binary is missing or the server exits
    or stays silent (the message includes the tail of its log).
    """
    executable = shutil.which(binary)
    if executable is None:
        raise RedisServerError(
            f"{binary!r} not found on PATH: install Redis (e.g. apt-get install redis-server) "
            "or point the tests at a running server with REDIS_URL"
        )
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if port is not None:
        return _start(executable, workdir, port, appendonly, timeout, extra_args)
    attempts_left = 3
    while True:
        try:
            return _start(executable, workdir, free_port(TCP), appendonly, timeout, extra_args)
        except _PortTaken:
            attempts_left -= 1
            if not attempts_left:
                raise


class _PortTaken(RedisServerError):
    pass


def _start(executable: str, workdir: Path, port: int, appendonly: bool,
           timeout: float, extra_args: Sequence[str] = ()) -> RedisServer:
    host = "127.0.0.1"
    log_path = workdir / "redis.log"
    log_path.unlink(missing_ok=True)  # the tail in an error must be this attempt's
    command = [
        executable,
        "--port", str(port),
        "--bind", host,
        "--dir", str(workdir),
        "--save", "",
        "--appendonly", "yes" if appendonly else "no",
        "--daemonize", "no",
        "--logfile", str(log_path),
        *extra_args,
    ]
    # Config errors go to stderr before the log file is opened; a file never fills up the
    # way an unread pipe would.
    with open(workdir / "redis.stderr", "wb") as stderr:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=stderr)
    server = RedisServer(process=process, port=port, workdir=workdir, host=host)
    client = redis.Redis(host=host, port=port, socket_connect_timeout=0.5, socket_timeout=1)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if process.poll() is not None:
                log = _tail(log_path)
                error = _PortTaken if "Address already in use" in log else RedisServerError
                raise error(
                    f"redis-server exited with code {process.returncode} on port {port}:\n"
                    f"{_tail(workdir / 'redis.stderr')}\n{log}"
                )
            try:
                # Another server may have taken the port meanwhile: it must be ours.
                if client.ping() and client.info("server")["process_id"] == process.pid:
                    return server
            except (redis.ConnectionError, redis.TimeoutError):
                pass
            if time.monotonic() > deadline:
                server.stop()
                raise RedisServerError(
                    f"redis-server on port {port} did not answer PING within {timeout}s:\n"
                    f"{_tail(log_path)}"
                )
            time.sleep(0.05)
    except BaseException:
        server.stop()
        raise
    finally:
        client.close()


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""

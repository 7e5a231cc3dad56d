"""The lab: the real parts of a hotline on this machine, started by the project itself.

Asterisk 22 (in its cached chroot), redis-server, the bridge (a child process, so tests
can kill it), prompts from espeak-ng and hold music converted once. Every port is free
at start; secrets are made fresh per lab and written only to the lab's own files.
"""

from __future__ import annotations

import json
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from config.settings import CitySettings, load_settings
from hotline.lab.asterisk_sandbox import AsteriskInstance, default_cache_dir, ensure_root
from hotline.lab.ports import TCP, free_port
from hotline.lab.redis_server import RedisServer, start_redis_server
from ivr.paths import check_built_prompts
from ivr.prompts import build_hold_music, build_prompts, build_tones
from queueing.redis_connect import redis_client
from queueing.routing import Routing
from telephony.asterisk_config import AsteriskSite, render

HOLD_MUSIC_FILES = 2  # of Debian's opsound set: enough music, little disk
# The tester's lab and the demo (./lab up, ./lab demo): Asterisk's own default range, 5000
# channels with media, above the bench's highest held level (1500 callers and 400 desks).
# The bench takes the same range (bench/rig.py): on one machine run one or the other;
# Asterisk skips a port another process holds, so together they only share the room.
TESTER_RTP_PORTS = (10000, 19999)

OPEN_FILES = 65536  # the lab's processes' soft limit, at most: a few per call in the bridge and the API


def raise_open_files_limit(upto: int = OPEN_FILES) -> int:
    """This process's soft open-file limit up to ``upto`` (never past the hard one), for the
    children it starts (the bridge holds a FastAGI socket per caller in the menu or hearing an
    announcement; a login shell gives 1024). Returns the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = upto if hard == resource.RLIM_INFINITY else min(hard, upto)
    if soft == resource.RLIM_INFINITY:
        return upto
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        return wanted
    return soft


P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Lab:
    city_file: Path
    workdir: Path
    name: str = "lab"
    progress: Callable[[str], object] = print
    redis_url: str | None = None  # None: the lab starts a redis-server of its own
    log_verbosity: int = 1  # Asterisk's messages.log; 3 adds every dialplan step
    # Asterisk configuration for this instance only, appended to the rendered files (file
    # name → text): how the benchmark adds its native-baseline contexts beside hotline's
    # dialplan without changing it.
    extra_config: dict[str, str] = field(default_factory=dict)
    # (first, last) RTP port; None: a 200-port slice of its own (100 channels with media),
    # enough for tests. Each channel with media takes a port pair. The tester's lab and the
    # demo take TESTER_RTP_PORTS.
    rtp_ports: tuple[int, int] | None = None
    # asterisk.conf maxfiles and maxcalls (0: no limit); a test makes them small to provoke refusals.
    max_files: int = AsteriskSite.max_files
    max_calls: int = AsteriskSite.max_calls
    city: CitySettings = field(init=False)
    asterisk: AsteriskInstance | None = None
    redis_server: RedisServer | None = None
    bridges: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    worker_proc: subprocess.Popen[bytes] | None = None  # the rq worker (callback jobs)
    api_proc: subprocess.Popen[bytes] | None = None  # the HTTP API and the consoles (start_api)
    api_port: int | None = None
    api_token: str | None = None  # a supervisor's bearer token for the lab's API
    site: AsteriskSite | None = None
    # The city's phone network for calls *to* citizens (callbacks): Asterisk's citizens AOR
    # points at 127.0.0.1:<carrier_port>, where a test starts sipp.start_carrier.
    carrier_port: int | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.workdir = Path(self.workdir).resolve()
        self.city_file = Path(self.city_file).resolve()
        self.city = load_settings(self.city_file)
        self.workdir.mkdir(parents=True, exist_ok=True)

    # --- what start() sets up ------------------------------------------------------------

    def started_asterisk(self) -> AsteriskInstance:
        """The lab's Asterisk instance (set up by start())."""
        if self.asterisk is None:
            raise RuntimeError(f"lab {self.name!r} has no Asterisk yet: call start() first")
        return self.asterisk

    def started_site(self) -> AsteriskSite:
        """The ports, secrets and folders Asterisk was configured with (set by start())."""
        if self.site is None:
            raise RuntimeError(f"lab {self.name!r} has no Asterisk site yet: call start() first")
        return self.site

    def started_redis_url(self) -> str:
        """The Redis the lab uses: the outside one given, or its own (started by start())."""
        if self.redis_url is None:
            raise RuntimeError(f"lab {self.name!r} has no Redis yet: call start() first")
        return self.redis_url

    # --- bring-up ----------------------------------------------------------------------

    def _timed(self, what: str, fn: Callable[P, R], *args: P.args, **kw: P.kwargs) -> R:
        started = time.monotonic()
        result = fn(*args, **kw)
        self.timings[what] = time.monotonic() - started
        self.progress(f"  {what}: {self.timings[what]:.1f} s")
        return result

    def start(self) -> Lab:
        self.progress("hotline lab: starting the real parts")
        # Asterisk's maxfiles sets its soft and hard limit alike: above the hard limit it inherits
        # that fails without CAP_SYS_RESOURCE (a container), so it asks for no more than that.
        open_files = min(self.max_files, raise_open_files_limit(self.max_files))
        root = self._timed("Asterisk root (debootstrap, cached)", ensure_root, default_cache_dir(), self.progress)
        if self.redis_url is None:
            self.redis_server = self._timed("redis-server", start_redis_server, self.workdir / "redis", appendonly=True)
            self.redis_url = self.redis_server.url
        self.asterisk = AsteriskInstance(root, self.name)
        self.asterisk.prepare()
        self._timed("prompts (espeak-ng + sox, cached)", self._install_media)
        self.carrier_port = self.carrier_port or free_port()
        # 200 ports (100 calls) a lab: a burst of 50 citizens with calls still ending fits.
        rtp_start, rtp_end = self.rtp_ports or (20000 + (os.getpid() % 100) * 200, 20000 + (os.getpid() % 100) * 200 + 199)
        self.site = AsteriskSite(
            # SIP is UDP; AMI and FastAGI are TCP: each port free for its own protocol.
            sip_port=free_port(), ami_port=free_port(TCP), agi_port=free_port(TCP),
            agi_backup_port=free_port(TCP),
            rtp_start=rtp_start, rtp_end=rtp_end, max_files=open_files, max_calls=self.max_calls,
            ami_secret=secrets.token_urlsafe(18),
            citizens_contact=f"sip:127.0.0.1:{self.carrier_port}",
            moh_dir=f"{self.asterisk.inner_dir}/moh", etc_dir=self.asterisk.etc_inner,
            state_dir=self.asterisk.inner_dir, system_name=f"hotline-{self.name}", log_verbosity=self.log_verbosity,
            desk_passwords={d.id: secrets.token_urlsafe(9) for d in self.city.desks},
        )
        files = render(self.city, self.site)
        for name, text in self.extra_config.items():
            files[name] = files.get(name, "") + "\n" + text
        self.asterisk.write_config(files)
        self._timed("Asterisk boot", self.asterisk.start)
        self._timed("bridge", self.start_bridge)
        self._timed("rq worker", self.start_worker)
        return self

    def _install_media(self) -> None:
        cache = default_cache_dir()
        built = build_prompts(self.city, cache / "prompts" / self.name)
        if built:
            self.progress(f"    generated {len(built)} prompt file(s)")
        if warning := check_built_prompts(self.city, cache / "prompts" / self.name, str(self.city_file)):
            self.progress(f"    warning: {warning}")
        asterisk = self.started_asterisk()
        shutil.copytree(cache / "prompts" / self.name, asterisk.sounds_dir, dirs_exist_ok=True)
        build_tones(asterisk.sounds_dir / "tones")
        music = sorted((asterisk.root / "usr/share/asterisk/moh").glob("*.wav"))[:HOLD_MUSIC_FILES]
        build_hold_music(music, cache / "moh")
        for f in (cache / "moh").glob("*.ulaw"):
            shutil.copy2(f, asterisk.moh_dir / f.name)

    def bridge_env(self, index: int = 0) -> dict[str, str]:
        site = self.started_site()
        # Asterisk runs chrooted: its [recording] dir is under the root here (the worker checks the files).
        # A worker started without the lab's Asterisk (its callback jobs only) has no root to name.
        root = {"HOTLINE_ASTERISK_ROOT": str(self.asterisk.root)} if self.asterisk is not None else {}
        return {
            **os.environ,
            **root,
            "HOTLINE_CITY_FILE": str(self.city_file),
            "HOTLINE_REDIS_URL": self.started_redis_url(),
            "HOTLINE_AMI_PORT": str(site.ami_port),
            "HOTLINE_AMI_USER": site.ami_user,
            "HOTLINE_AMI_SECRET": site.ami_secret,
            # The dialplan tries the first bridge's FastAGI port, then the second's.
            "HOTLINE_AGI_PORT": str(site.agi_port if index == 0 else site.agi_backup_port),
            "HOTLINE_ASTERISK_WARNINGS_LOG": f"{site.state_dir}/log/warnings.log",
        }

    @property
    def bridge_proc(self) -> subprocess.Popen[bytes] | None:
        return self.bridges.get(0)

    def bridge_log(self, index: int = 0) -> Path:
        return self.workdir / ("bridge.log" if index == 0 else f"bridge-{index + 1}.log")

    def start_bridge(self, wait: bool = True, index: int = 0, env: dict[str, str] | None = None) -> None:
        """Start bridge ``index`` (0: the first; 1: a second bridge on the same Redis and
        Asterisk, for availability). ``env`` overrides its HOTLINE_* settings (e.g. an
        AMI port behind a link a fault test can cut)."""
        if index not in (0, 1):
            raise ValueError("the lab runs one or two bridges")
        log_path = self.bridge_log(index)
        logged_in_before = log_path.read_text(errors="replace").count("AMI logged in") if log_path.exists() else 0
        self.bridges[index] = subprocess.Popen(
            [sys.executable, "-m", "hotline.cli", "bridge"], env={**self.bridge_env(index), **(env or {})},
            stdin=subprocess.DEVNULL, stdout=open(log_path, "ab"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if wait:
            self.wait_bridge_ready(index, logged_in_before)

    def wait_bridge_ready(self, index: int = 0, logged_in_before: int = 0, timeout: float = 20) -> None:
        """Until bridge ``index`` has logged in to AMI and the heartbeat is fresh."""
        proc, log_path = self.bridges[index], self.bridge_log(index)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"bridge exited ({proc.returncode}); see {log_path}\n"
                                   + log_path.read_text(errors="replace")[-3000:])
            logged_in = log_path.exists() and log_path.read_text(errors="replace").count("AMI logged in") > logged_in_before
            beat = self.heartbeat()
            if logged_in and beat and time.time() - beat < 3:
                return
            time.sleep(0.2)
        raise RuntimeError(f"bridge gave no heartbeat within {timeout:.0f} s; see {log_path}")

    def wait_bridge_heartbeat(self, timeout: float = 20) -> None:
        self.wait_bridge_ready(0, 0, timeout)

    def start_worker(self, timeout: float = 15, env: dict[str, str] | None = None) -> None:
        """The rq worker of the background jobs (``hotline worker``), with the bridge's
        environment (``env`` overrides, e.g. another HOTLINE_CITY_FILE with auto-dial on);
        waits until it has registered in Redis."""
        from rq import Worker

        log_path = self.workdir / "worker.log"
        self.worker_proc = worker = subprocess.Popen(
            [sys.executable, "-m", "hotline.cli", "worker"], env={**self.bridge_env(), **(env or {})},
            stdin=subprocess.DEVNULL, stdout=open(log_path, "ab"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        connection = redis_client(self.started_redis_url())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if worker.poll() is not None:
                raise RuntimeError(f"rq worker exited ({worker.returncode}); see {log_path}\n"
                                   + log_path.read_text(errors="replace")[-3000:])
            if any(w.name and w.pid == worker.pid for w in Worker.all(connection=connection)):
                return
            time.sleep(0.2)
        raise RuntimeError(f"rq worker did not register within {timeout:.0f} s; see {log_path}")

    def start_api(self, timeout: float = 20, port: int | None = None) -> str:
        """The HTTP API with the console pages (``hotline api``) on 127.0.0.1, with the bridge's
        environment and a tokens file of the lab's own holding one supervisor's token
        (:attr:`api_token`, for scripts; the consoles sign in with accounts, see hotline.lab.console);
        waits until ``/health`` answers and returns the base URL."""
        import httpx

        from api.tokens import add_token

        self.api_port = port or free_port(TCP)
        tokens_file = self.workdir / "api-tokens.json"
        if self.api_token is None:  # a restarted API keeps the token it had
            tokens_file.unlink(missing_ok=True)
            self.api_token = add_token(tokens_file, self.city, name="lab supervisor", role="supervisor")
        log_path = self.workdir / "api.log"
        env = {**self.bridge_env(), "HOTLINE_API_HOST": "127.0.0.1", "HOTLINE_API_PORT": str(self.api_port),
               "HOTLINE_API_TOKENS_FILE": str(tokens_file)}
        self.api_proc = proc = subprocess.Popen(
            [sys.executable, "-m", "hotline.cli", "api"], env=env,
            stdin=subprocess.DEVNULL, stdout=open(log_path, "ab"), stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{self.api_port}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the API exited ({proc.returncode}); see {log_path}\n"
                                   + log_path.read_text(errors="replace")[-3000:])
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code < 500:
                    return url
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the API did not answer within {timeout:.0f} s; see {log_path}")

    def stop_api(self) -> None:
        if self.api_proc and self.api_proc.poll() is None:
            os.killpg(self.api_proc.pid, signal.SIGTERM)
            try:
                self.api_proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.api_proc.pid, signal.SIGKILL)
                self.api_proc.wait(timeout=5)

    def stop_worker(self) -> None:
        if self.worker_proc and self.worker_proc.poll() is None:
            os.killpg(self.worker_proc.pid, signal.SIGTERM)
            try:
                self.worker_proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.worker_proc.pid, signal.SIGKILL)
                self.worker_proc.wait(timeout=5)

    def heartbeat(self) -> int | None:
        out = self.started_asterisk().cli("database get hotline heartbeat", check=False).stdout
        for word in out.split():
            if word.isdigit():
                return int(word)
        return None

    def kill_bridge(self, index: int = 0) -> None:
        """SIGKILL, as a crash would: nothing gets to clean up."""
        proc = self.bridges.get(index)
        if proc and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def stop_redis(self) -> None:
        """Stop the lab's redis-server (SIGTERM: with AOF on, nothing acknowledged is lost)."""
        if self.redis_server is None:
            raise RuntimeError("this lab uses an outside Redis (REDIS_URL); it cannot stop it")
        self.redis_server.stop()

    def start_redis(self) -> None:
        """Start the lab's redis-server again on the same port and data folder."""
        if self.redis_server is None:
            raise RuntimeError("this lab uses an outside Redis (REDIS_URL); it cannot start it")
        self.redis_server = start_redis_server(self.redis_server.workdir, port=self.redis_server.port,
                                               appendonly=True)

    def stop(self) -> None:
        self.stop_api()
        self.stop_worker()
        for index, proc in self.bridges.items():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.kill_bridge(index)
        if self.asterisk:
            self.asterisk.stop()
        if self.redis_server:
            self.redis_server.stop()

    # --- what a tester needs ---------------------------------------------------------------

    @property
    def sip_target(self) -> str:
        site = self.started_site()
        return f"{site.sip_bind}:{site.sip_port}"

    def routing(self) -> Routing:
        return Routing(redis_client(self.started_redis_url(), decode_responses=True))

    def info(self) -> dict[str, Any]:
        site, asterisk = self.started_site(), self.started_asterisk()
        return {
            "hotline_number": self.city.hotline.number,
            "sip_address": f"sip:{self.city.hotline.number}@{self.sip_target}",
            "sip_transport": "udp",
            "citizens_from": site.citizens_match,
            "citizens_to": site.citizens_contact,
            "desks": [
                {"id": d.id, "agency": d.agency, "sip_user": d.id, "sip_password": site.desk_passwords[d.id],
                 "registrar": f"sip:{self.sip_target}"}
                for d in self.city.desks
            ],
            "ami": {"host": site.ami_bind, "port": site.ami_port, "user": site.ami_user,
                    "secret": site.ami_secret},
            "redis_url": self.redis_url,
            "fastagi": f"agi://{site.agi_host}:{site.agi_port}/ivr",
            "set_desk_ready": f"HOTLINE_REDIS_URL={self.redis_url} hotline desk ready <desk-id>",
            "asterisk_cli": f"chroot {asterisk.root} asterisk -C {asterisk.etc_inner}/asterisk.conf -r",
            "logs": {"bridge": str(self.workdir / "bridge.log"), "asterisk": str(asterisk.log_file)},
            "recordings": str(asterisk.root / self.city.recording.dir.lstrip("/")),
            # What Asterisk refuses past (README "Limits"); a shortage is on the supervisors' alerts.
            "limits": {"rtp_ports": [site.rtp_start, site.rtp_end],
                       "channels_with_media": (site.rtp_end - site.rtp_start + 1) // 2,
                       "max_files": site.max_files, "max_calls": site.max_calls or "no limit"},
        }

    def write_info(self, path: Path, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """:meth:`info` with ``extra`` (e.g. the console's sign-in) to ``path``; returns what it wrote."""
        info = self.info() | (extra or {})
        path.write_text(json.dumps(info, indent=2) + "\n")
        path.chmod(0o600)  # it holds the lab's secrets
        return info

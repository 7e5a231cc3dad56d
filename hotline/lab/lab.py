"""The lab: the real parts of a hotline on this machine, started by the project itself.

Asterisk 22 (in its cached chroot), redis-server, the bridge (a child process, so tests
can kill it), prompts from espeak-ng and hold music converted once. Every port is free
at start; secrets are made fresh per lab and written only to the lab's own files.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from hotline.lab.asterisk_sandbox import AsteriskInstance, default_cache_dir, ensure_root
from hotline.lab.redis_server import RedisServer, start_redis_server
from hotline.lab.sipp import free_port
from hotline.settings import CitySettings, load_settings
from ivr.prompts import build_hold_music, build_prompts, build_tones
from queueing.routing import Routing
from telephony.asterisk_config import AsteriskSite, render

HOLD_MUSIC_FILES = 2  # of Debian's opsound set: enough music, little disk


@dataclass
class Lab:
    city_file: Path
    workdir: Path
    name: str = "lab"
    progress: callable = print
    redis_url: str | None = None  # None: the lab starts a redis-server of its own
    city: CitySettings = field(init=False)
    asterisk: AsteriskInstance | None = None
    redis_server: RedisServer | None = None
    bridge_proc: subprocess.Popen | None = None
    site: AsteriskSite | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.workdir = Path(self.workdir).resolve()
        self.city_file = Path(self.city_file).resolve()
        self.city = load_settings(self.city_file)
        self.workdir.mkdir(parents=True, exist_ok=True)

    # --- bring-up ----------------------------------------------------------------------

    def _timed(self, what: str, fn, *args, **kw):
        started = time.monotonic()
        result = fn(*args, **kw)
        self.timings[what] = time.monotonic() - started
        self.progress(f"  {what}: {self.timings[what]:.1f} s")
        return result

    def start(self) -> Lab:
        self.progress("hotline lab: starting the real parts")
        root = self._timed("Asterisk root (debootstrap, cached)", ensure_root, default_cache_dir(), self.progress)
        if self.redis_url is None:
            self.redis_server = self._timed("redis-server", start_redis_server, self.workdir / "redis", appendonly=True)
            self.redis_url = self.redis_server.url
        self.asterisk = AsteriskInstance(root, self.name)
        self.asterisk.prepare()
        self._timed("prompts (espeak-ng + sox, cached)", self._install_media)
        self.site = AsteriskSite(
            sip_port=free_port(), ami_port=free_port(), agi_port=free_port(),
            rtp_start=20000 + (os.getpid() % 200) * 100, rtp_end=20000 + (os.getpid() % 200) * 100 + 99,
            ami_secret=secrets.token_urlsafe(18),
            moh_dir=f"{self.asterisk.inner_dir}/moh", etc_dir=self.asterisk.etc_inner,
            state_dir=self.asterisk.inner_dir, system_name=f"hotline-{self.name}",
            desk_passwords={d.id: secrets.token_urlsafe(9) for d in self.city.desks},
        )
        self.asterisk.write_config(render(self.city, self.site))
        self._timed("Asterisk boot", self.asterisk.start)
        self._timed("bridge", self.start_bridge)
        return self

    def _install_media(self) -> None:
        cache = default_cache_dir()
        built = build_prompts(self.city, cache / "prompts" / self.name)
        if built:
            self.progress(f"    generated {len(built)} prompt file(s)")
        shutil.copytree(cache / "prompts" / self.name, self.asterisk.sounds_dir, dirs_exist_ok=True)
        build_tones(self.asterisk.sounds_dir / "tones")
        music = sorted((self.asterisk.root / "usr/share/asterisk/moh").glob("*.wav"))[:HOLD_MUSIC_FILES]
        build_hold_music(music, cache / "moh")
        for f in (cache / "moh").glob("*.ulaw"):
            shutil.copy2(f, self.asterisk.moh_dir / f.name)

    def bridge_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "HOTLINE_CITY_FILE": str(self.city_file),
            "HOTLINE_REDIS_URL": self.redis_url,
            "HOTLINE_AMI_PORT": str(self.site.ami_port),
            "HOTLINE_AMI_USER": self.site.ami_user,
            "HOTLINE_AMI_SECRET": self.site.ami_secret,
            "HOTLINE_AGI_PORT": str(self.site.agi_port),
        }

    def start_bridge(self, wait: bool = True) -> None:
        log = open(self.workdir / "bridge.log", "ab")
        self.bridge_proc = subprocess.Popen(
            [sys.executable, "-m", "hotline.cli", "bridge"], env=self.bridge_env(),
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        if wait:
            self.wait_bridge_heartbeat()

    def wait_bridge_heartbeat(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.bridge_proc.poll() is not None:
                raise RuntimeError(f"bridge exited ({self.bridge_proc.returncode}); see {self.workdir / 'bridge.log'}\n"
                                   + (self.workdir / "bridge.log").read_text(errors="replace")[-3000:])
            beat = self.heartbeat()
            if beat and time.time() - beat < 3:
                return
            time.sleep(0.2)
        raise RuntimeError(f"bridge gave no heartbeat within {timeout:.0f} s; see {self.workdir / 'bridge.log'}")

    def heartbeat(self) -> int | None:
        out = self.asterisk.cli("database get hotline heartbeat", check=False).stdout
        for word in out.split():
            if word.isdigit():
                return int(word)
        return None

    def kill_bridge(self) -> None:
        """SIGKILL, as a crash would: nothing gets to clean up."""
        if self.bridge_proc and self.bridge_proc.poll() is None:
            os.killpg(self.bridge_proc.pid, signal.SIGKILL)
            self.bridge_proc.wait(timeout=5)

    def stop(self) -> None:
        if self.bridge_proc and self.bridge_proc.poll() is None:
            os.killpg(self.bridge_proc.pid, signal.SIGTERM)
            try:
                self.bridge_proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill_bridge()
        if self.asterisk:
            self.asterisk.stop()
        if self.redis_server:
            self.redis_server.stop()

    # --- what a tester needs ---------------------------------------------------------------

    @property
    def sip_target(self) -> str:
        return f"{self.site.sip_bind}:{self.site.sip_port}"

    def routing(self) -> Routing:
        return Routing(redis.Redis.from_url(self.redis_url, decode_responses=True))

    def info(self) -> dict:
        return {
            "hotline_number": self.city.hotline.number,
            "sip_address": f"sip:{self.city.hotline.number}@{self.sip_target}",
            "sip_transport": "udp",
            "citizens_from": self.site.citizens_match,
            "desks": [
                {"id": d.id, "agency": d.agency, "sip_user": d.id, "sip_password": self.site.desk_passwords[d.id],
                 "registrar": f"sip:{self.sip_target}"}
                for d in self.city.desks
            ],
            "ami": {"host": self.site.ami_bind, "port": self.site.ami_port, "user": self.site.ami_user,
                    "secret": self.site.ami_secret},
            "redis_url": self.redis_url,
            "fastagi": f"agi://{self.site.agi_host}:{self.site.agi_port}/ivr",
            "set_desk_ready": f"HOTLINE_REDIS_URL={self.redis_url} hotline desk ready <desk-id>",
            "asterisk_cli": f"chroot {self.asterisk.root} asterisk -C {self.asterisk.etc_inner}/asterisk.conf -r",
            "logs": {"bridge": str(self.workdir / "bridge.log"), "asterisk": str(self.asterisk.log_file)},
        }

    def write_info(self, path: Path) -> None:
        path.write_text(json.dumps(self.info(), indent=2) + "\n")
        path.chmod(0o600)  # it holds the lab's secrets

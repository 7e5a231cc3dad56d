"""The lab's Asterisk 22: Debian unstable's package in a chroot, built once and cached.

The root is built with debootstrap from the mirror this machine's apt already uses, then
kept under the cache directory (outside any checkout) and reused. Each running Asterisk
gets its own instance folder inside the root (config, AstDB, spool, logs, sounds), so the
cached root stays clean and several instances can run side by side.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ASTERISK_UID = 101  # the Debian package's asterisk user inside the root
EXTRA_PACKAGES = ["asterisk-moh-opsound-wav"]
READY_MARK = ".hotline-root-ready"
ASTERISK_DIRS = ("var/run/asterisk", "var/log/asterisk", "var/spool/asterisk", "var/lib/asterisk")


class SandboxError(RuntimeError):
    pass


def default_cache_dir() -> Path:
    return Path(os.environ.get("HOTLINE_CACHE", "/var/cache/hotline"))


def debian_mirror() -> str:
    """The Debian mirror this machine's apt already uses (deb822 or one-line sources)."""
    candidates = sorted(Path("/etc/apt/sources.list.d").glob("*.sources")) + [Path("/etc/apt/sources.list")]
    candidates += sorted(Path("/etc/apt/sources.list.d").glob("*.list"))
    for path in candidates:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        for m in re.finditer(r"^URIs:\s*(\S+)", text, re.M):
            if "security" not in m.group(1):
                return m.group(1)
        for m in re.finditer(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+", text, re.M):
            if "security" not in m.group(1):
                return m.group(1)
    raise SandboxError("no Debian mirror found in /etc/apt/sources.list(.d); cannot build the Asterisk root")


def _run(cmd: list[str], log: Callable[[str], object] | None = None, **kw: Any) -> None:
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if log:
        for line in proc.stdout.splitlines():
            log(line)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-20:])
        raise SandboxError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{tail}")


def ensure_root(cache_dir: Path | None = None, progress: Callable[[str], object] = print) -> Path:
    """Build the Asterisk root once (≈40 s, ≈600 MB), or reuse the cached one."""
    cache_dir = cache_dir or default_cache_dir()
    root = cache_dir / "asterisk-root"
    if not (root / READY_MARK).exists():
        if shutil.which("debootstrap") is None:
            raise SandboxError("debootstrap is missing: apt-get install debootstrap")
        building = cache_dir / "asterisk-root.building"
        cache_dir.mkdir(parents=True, exist_ok=True)
        if building.exists():
            shutil.rmtree(building)
        if root.exists():  # an earlier build that never finished its last step
            shutil.rmtree(root)
        mirror = debian_mirror()
        progress(f"building the Asterisk 22 root with debootstrap from {mirror} (once; ~40 s)")
        started = time.monotonic()
        proc = subprocess.Popen(
            ["debootstrap", "--variant=minbase", "--include=asterisk", "sid", str(building), mirror],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        if proc.stdout is None:  # stdout=PIPE always gives one
            raise SandboxError("debootstrap started without its output pipe")
        count = 0
        for line in proc.stdout:
            count += 1
            if line.startswith("I: ") and (count % 40 == 0 or "Base system installed" in line):
                progress(f"  debootstrap: {line[3:].strip()} ({time.monotonic() - started:.0f} s)")
        if proc.wait() != 0:
            raise SandboxError(f"debootstrap failed; see {building}/debootstrap/debootstrap.log")
        progress(f"  installing {' '.join(EXTRA_PACKAGES)}")
        _run(["chroot", str(building), "apt-get", "install", "-y", "-q", *EXTRA_PACKAGES],
             env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        subprocess.run(["chroot", str(building), "apt-get", "clean"], check=False)
        building.rename(root)
        (root / READY_MARK).write_text(time.strftime("%F %T\n"))
        progress(f"Asterisk root ready in {time.monotonic() - started:.0f} s: {root}")
    prepare_root(root)
    return root


def prepare_root(root: Path) -> None:
    """The two pitfalls: ownership of Asterisk's folders, and this host's name in
    /etc/hosts (without it every call stalls on DNS look-ups with no network)."""
    for rel in ASTERISK_DIRS:
        d = root / rel
        d.mkdir(parents=True, exist_ok=True)
        os.chown(d, ASTERISK_UID, ASTERISK_UID)
    hostname = socket.gethostname()
    hosts = root / "etc/hosts"
    line = f"127.0.0.1 localhost {hostname}\n"
    if not hosts.exists() or hostname not in hosts.read_text().split():
        hosts.write_text(line + "::1 localhost ip6-localhost\n")


def asterisk_version(root: Path) -> str:
    out = subprocess.run(["chroot", str(root), "asterisk", "-V"], capture_output=True, text=True)
    return out.stdout.strip()


@dataclass
class AsteriskInstance:
    """One running Asterisk inside the root, with its own folder /srv/hotline/<name>."""

    root: Path
    name: str
    proc: subprocess.Popen[bytes] | None = None

    @property
    def inner_dir(self) -> str:  # as Asterisk sees it, inside the chroot
        return f"/srv/hotline/{self.name}"

    @property
    def host_dir(self) -> Path:
        return self.root / self.inner_dir.lstrip("/")

    @property
    def etc_inner(self) -> str:
        return f"{self.inner_dir}/etc"

    @property
    def sounds_dir(self) -> Path:
        """Where hotline's prompts go; Asterisk plays them as hotline/<lang>/<key>."""
        return self.host_dir / "data/sounds/hotline"

    @property
    def moh_dir(self) -> Path:
        return self.host_dir / "moh"

    @property
    def log_file(self) -> Path:
        return self.host_dir / "log/messages.log"

    def prepare(self) -> None:
        self._prune_dead_siblings()
        if self.host_dir.exists():
            shutil.rmtree(self.host_dir)
        for sub in ("etc", "db", "spool", "run", "log", "moh", "data/sounds/hotline"):
            (self.host_dir / sub).mkdir(parents=True, exist_ok=True)
        # astdatadir of this instance: the package's data, plus our own sounds folder.
        share = self.root / "usr/share/asterisk"
        for entry in share.iterdir():
            if entry.name != "sounds":
                (self.host_dir / "data" / entry.name).symlink_to(f"/usr/share/asterisk/{entry.name}")
        for entry in (share / "sounds").iterdir():
            (self.host_dir / "data/sounds" / entry.name).symlink_to(f"/usr/share/asterisk/sounds/{entry.name}")

    def _prune_dead_siblings(self) -> None:
        """Instances named "<anything>-<pid>" belong to one test run; once that process is
        gone its folder is only clutter in the cached root."""
        parent = self.host_dir.parent
        if not parent.is_dir():
            return
        for d in parent.iterdir():
            pid = d.name.rsplit("-", 1)[-1]
            if d.name != self.name and pid.isdigit() and not Path(f"/proc/{pid}").exists():
                shutil.rmtree(d, ignore_errors=True)

    def write_config(self, files: dict[str, str]) -> None:
        etc = self.host_dir / "etc"
        for name, text in files.items():
            if name == "asterisk.conf":
                text = text.replace("astdatadir => /usr/share/asterisk", f"astdatadir => {self.inner_dir}/data")
            (etc / name).write_text(text)

    def chown(self) -> None:
        for dirpath, dirnames, filenames in os.walk(self.host_dir):
            os.lchown(dirpath, ASTERISK_UID, ASTERISK_UID)
            for n in dirnames + filenames:
                os.lchown(os.path.join(dirpath, n), ASTERISK_UID, ASTERISK_UID)

    def start(self, timeout: float = 60.0) -> None:
        self.chown()
        console = open(self.host_dir / "log/console.log", "ab")
        self.proc = subprocess.Popen(
            ["chroot", str(self.root), "asterisk", "-f", "-C", f"{self.etc_inner}/asterisk.conf",
             "-U", "asterisk", "-G", "asterisk"],
            stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SandboxError(f"Asterisk exited at start ({self.proc.returncode}); see {self.host_dir}/log/console.log:\n"
                                   + (self.host_dir / "log/console.log").read_text(errors="replace")[-2000:])
            r = self.cli("core waitfullybooted", check=False, timeout=10)
            if r.returncode == 0:
                return
            time.sleep(0.3)
        raise SandboxError(f"Asterisk did not boot within {timeout:.0f} s")

    def cli(self, command: str, check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(
            ["chroot", str(self.root), "asterisk", "-C", f"{self.etc_inner}/asterisk.conf", "-rx", command],
            capture_output=True, text=True, timeout=timeout,
        )
        if check and r.returncode != 0:
            raise SandboxError(f"asterisk -rx {command!r} failed: {r.stderr or r.stdout}")
        return r

    def kill(self) -> None:
        """SIGKILL, as a crash would: no channel is hung up cleanly."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if not self.proc or self.proc.poll() is not None:
            return
        try:
            self.cli("core stop now", check=False, timeout=10)
            self.proc.wait(timeout=10)
        except (subprocess.TimeoutExpired, OSError):
            os.killpg(self.proc.pid, 9)
            self.proc.wait(timeout=5)


def main() -> None:  # python -m hotline.lab.asterisk_sandbox: build/reuse the root only
    root = ensure_root()
    print(asterisk_version(root))


if __name__ == "__main__":
    main()

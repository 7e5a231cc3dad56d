"""Where the bridge spends its time under load: py-spy samples the running bridge process
(without pausing it) while a trial runs, and the samples are summed per function."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

OWN_CODE = ("telephony/", "queueing/", "ivr/", "hotline/")


def py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return found if Path(found).exists() else None


def start_profile(pid: int, out_dir: Path, seconds: float) -> subprocess.Popen[bytes] | None:
    """py-spy record for ``seconds``, as collapsed stacks (flamegraph.pl's input); None
    when py-spy is not installed."""
    binary = py_spy()
    if binary is None:
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [binary, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "100", "--nonblocking",
         "--format", "raw", "--output", str(out_dir / "bridge-profile.txt")],
        stdin=subprocess.DEVNULL, stdout=open(out_dir / "py-spy.log", "wb"), stderr=subprocess.STDOUT)


def finish_profile(proc: subprocess.Popen[bytes] | None, out_dir: Path, top: int = 15) -> dict[str, Any] | None:
    if proc is None:
        return None
    proc.wait(timeout=120)
    raw = out_dir / "bridge-profile.txt"
    if not raw.exists():
        return None
    return summarize(raw, top) | {"collapsed_stacks": str(raw)}


def _function(frame: str) -> str:
    """"f (path/file.py:12)" → "f (path/file.py)": the same function whatever line."""
    return re.sub(r":\d+\)$", ")", frame)


def _activity(frames: list[str]) -> str:
    """What the event loop was running: the first frame beneath it that is not asyncio's
    own (a protocol callback such as AMI parsing, or the coroutine of a task)."""
    runs = [i for i, f in enumerate(frames) if f.startswith("Handle._run (")]
    if not runs:
        return "event loop: waiting for I/O" if "select" in frames[-1] else _function(frames[-1])
    for frame in frames[runs[-1] + 1:]:
        if "asyncio/" not in frame and "selectors.py" not in frame:
            return _function(frame)
    return "asyncio itself"


def summarize(raw: Path, top: int = 15) -> dict[str, Any]:
    """Shares of the samples: per activity of the event loop, per innermost frame of
    hotline's own code, per function on top of the stack, and per library."""
    activity: Counter[str] = Counter()
    own: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    library: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        leaf[_function(frames[-1])] += n
        activity[_activity(frames)] += n
        for frame in reversed(frames):  # the innermost frame of our own code
            if any(part in frame for part in OWN_CODE) and "hotline/cli.py" not in frame:
                own[_function(frame)] += n
                break
        else:
            own["(none: event loop or libraries only)"] += n
        for lib in ("panoramisk/", "redis/", "asyncio/"):
            if any(lib in f for f in frames):
                library[lib.rstrip("/")] += n

    def shares(counter: Counter[str]) -> list[dict[str, Any]]:
        return [{"function": f, "share": c / total} for f, c in counter.most_common(top)] if total else []

    return {"samples": total, "by_activity": shares(activity), "innermost_own_frame": shares(own),
            "self_time": shares(leaf), "by_library": {k: v / total for k, v in library.items()} if total else {}}

"""Recordings of answered calls: the check after each call, and retention (rq jobs).

* ``check_recording(call_id, prefix)``: enqueued by the bridge when an answered call ends
  (``enqueue_check_recording``). Both directions must be there and not silent (sox ``stat``
  RMS amplitude against ``[recording] min_rms``); the verdict (:func:`judge`, a pure function)
  goes into the call record (``recording``: ok / broken / missing, ``recording_checked_ms``,
  ``recording_detail``) by the Lua script ``recording_checked``, which writes the audit event
  ``recording_checked`` and, when it is not ok, ``recording_broken`` for supervisors.
* ``expire_recordings(prefix)``: deletes the recordings older than ``[recording] retention_days``
  (listed on ``recordings``, and any stray file in the folder by its age), logs each one and
  marks the call ``recording = expired`` (event ``recording_expired``). ``hotline worker``
  enqueues it at start; each run schedules the next at the next full hour (one job per hour
  whatever the number of workers: the id is the hour's).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from rq.exceptions import DuplicateJobError
from rq.job import Job

from queueing.errors import RoutingRefused
from queueing.jobs import FAILURE_TTL_S, RESULT_TTL_S, RETRY, _job_id, city, job_connection, job_queue, runtime
from queueing.keys import DEFAULT_PREFIX
from queueing.recording_files import CALL_ID_RE, CallRecording, NotAWav, host_folder, rms_amplitude, wav_layout
from queueing.routing import Routing, _fields, _text
from queueing.states import RecordingStatus

log = logging.getLogger("hotline.recordings")

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
#: MixMonitor finishes its files just after the caller's channel is gone: the check waits this
#: long at most for their headers to be final, then measures what is there.
FINAL_WAIT_S = 10.0
#: Seconds a direction must last to be a recording of a conversation at all.
MIN_SECONDS = 0.5


# --- the verdict (pure) --------------------------------------------------------------------------


@dataclass(frozen=True)
class Leg:
    """One file of a recording as found after the call."""

    name: str              # for people: "caller's side (rx)"
    present: bool
    seconds: float = 0.0
    rms: float = 0.0
    problem: str = ""      # unreadable: why


def judge(mix: Leg, caller: Leg, desk: Leg, min_rms: float) -> tuple[RecordingStatus, str]:
    """ok / broken / missing and why, from what the check found of the three files."""
    if not (mix.present or caller.present or desk.present):
        return RecordingStatus.MISSING, "no recording file at all (MixMonitor never started, or the files are gone)"
    faults = []
    for leg in (caller, desk, mix):
        if not leg.present:
            faults.append(f"{leg.name}: no file")
        elif leg.problem:
            faults.append(f"{leg.name}: {leg.problem}")
        elif leg.seconds < MIN_SECONDS:
            faults.append(f"{leg.name}: empty ({leg.seconds:.1f} s)")
        elif leg is not mix and leg.rms < min_rms:
            faults.append(f"{leg.name}: silent (RMS {leg.rms:.4f} < {min_rms:g})")
    if faults:
        return RecordingStatus.BROKEN, "; ".join(faults)
    return RecordingStatus.OK, (f"{mix.seconds:.1f} s; {caller.name} RMS {caller.rms:.4f}, "
                                f"{desk.name} RMS {desk.rms:.4f}")


def measure(path: Path, name: str, mix: bool = False) -> Leg:
    """What the check finds of one file (sox for the directions; the mix is only read)."""
    if not path.exists():
        return Leg(name, False)
    try:
        layout = wav_layout(path)
        return Leg(name, True, layout.seconds, 0.0 if mix else rms_amplitude(path))
    except (NotAWav, OSError) as exc:
        return Leg(name, True, problem=str(exc))


def inspect(recording: CallRecording, min_rms: float) -> tuple[RecordingStatus, str]:
    return judge(measure(recording.mix, "mix", mix=True), measure(recording.caller_leg, "caller's side (rx)"),
                 measure(recording.desk_leg, "desk's side (tx)"), min_rms)


def wait_closed(recording: CallRecording, timeout_s: float = FINAL_WAIT_S) -> bool:
    """Until every file present has its final header (the writer closed it), at most ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if all(wav_layout(p).final for p in recording.files() if p.exists()):
                return True
        except (NotAWav, OSError):
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.25)


# --- Redis ---------------------------------------------------------------------------------------


class Recordings(Routing):
    """The recordings' scripts over a synchronous ``redis.Redis`` (rq jobs, the API)."""

    def checked(self, call_id: str, verdict: RecordingStatus, detail: str, *,
                now_ms: int | None = None) -> dict[str, str]:
        return self._execute(self._script("recording_checked", now_ms, call_id, str(verdict), detail, parse=_fields))

    def expired(self, call_id: str, detail: str, *, now_ms: int | None = None) -> dict[str, str]:
        return self._execute(self._script("recording_expired", now_ms, call_id, detail, parse=_fields))

    def older_than(self, cutoff_ms: int) -> list[str]:
        """Call ids on ``recordings`` whose recording started before ``cutoff_ms``, oldest first."""
        return [_text(c) for c in self.redis.zrangebyscore(self.keys.recordings(), "-inf", f"({cutoff_ms}")]


# --- jobs ----------------------------------------------------------------------------------------


def enqueue_check_recording(connection: redis.Redis, call_id: str, prefix: str = DEFAULT_PREFIX) -> Job | None:
    """Enqueues ``check_recording``; None when it is already queued or just ran."""
    try:
        return job_queue(connection).enqueue(
            check_recording, call_id, prefix, job_id=_job_id("check_recording", prefix, call_id),
            unique=True, retry=RETRY, result_ttl=RESULT_TTL_S, failure_ttl=FAILURE_TTL_S,
            description=f"check the recording of call {call_id}")
    except DuplicateJobError:
        return None


def check_recording(call_id: str, prefix: str = DEFAULT_PREFIX) -> dict[str, str]:
    """Checks an ended call's recording and records the verdict (idempotent)."""
    if not CALL_ID_RE.fullmatch(call_id):
        log.error("no recording check for %r: not a call id that names files", call_id)
        return {"result": "refused", "call_id": call_id, "reason": "bad call id"}
    settings = city()
    recording = CallRecording(host_folder(settings, runtime()), call_id)
    if not wait_closed(recording):
        log.warning("recording of call %s: a file is still open after %.0f s; measuring what is there",
                    call_id, FINAL_WAIT_S)
    verdict, detail = inspect(recording, settings.recording.min_rms)
    try:
        Recordings(job_connection(), prefix=prefix).checked(call_id, verdict, detail)
    except RoutingRefused as exc:
        log.warning("recording of call %s not recorded as %s: %s", call_id, verdict, exc)
        return {"result": "refused", "call_id": call_id, "reason": str(exc)}
    (log.info if verdict == RecordingStatus.OK else log.error)("recording of call %s: %s (%s)", call_id, verdict, detail)
    return {"result": "checked", "call_id": call_id, "recording": str(verdict), "detail": detail}


def expire(recordings: Recordings, folder: Path, retention_days: int, now_ms: int | None = None) -> list[str]:
    """Deletes recordings that started more than ``retention_days`` before ``now_ms``; their call ids."""
    now = recordings.clock() if now_ms is None else now_ms
    cutoff = now - retention_days * DAY_MS
    expired = []
    # Files of calls Redis does not list (lost, or recorded outside the bridge), by their age.
    stray = {p.name.removesuffix("-rx.wav").removesuffix("-tx.wav").removesuffix(".wav")
             for p in folder.glob("*.wav") if p.stat().st_mtime * 1000 < cutoff} if folder.is_dir() else set()
    for call_id in [*recordings.older_than(cutoff), *sorted(stray)]:
        if call_id in expired or not CALL_ID_RE.fullmatch(call_id):
            continue
        rec = CallRecording(folder, call_id)
        deleted = []
        for path in rec.files():
            try:
                path.unlink()
                deleted.append(path.name)
            except FileNotFoundError:
                pass
        detail = (f"deleted after {retention_days} days: {', '.join(deleted)}" if deleted
                  else f"after {retention_days} days: no file left to delete")
        log.info("recording of call %s expired: %s", call_id, detail)
        recordings.expired(call_id, detail, now_ms=now)
        expired.append(call_id)
    return expired


def expire_recordings(prefix: str = DEFAULT_PREFIX) -> dict[str, Any]:
    """The retention job: deletes what is past ``[recording] retention_days``, then comes back in an hour."""
    connection = job_connection()
    settings = city()
    recordings = Recordings(connection, prefix=prefix)
    done = expire(recordings, host_folder(settings, runtime()), settings.recording.retention_days)
    if done:
        log.info("retention: %d recording(s) expired", len(done))
    schedule_expiry(connection, prefix, recordings.clock())
    return {"expired": len(done)}


def schedule_expiry(connection: redis.Redis, prefix: str, now_ms: int) -> Job:
    """The next ``expire_recordings`` at the next full hour; the hour is its id, so workers share it."""
    at_ms = (now_ms // HOUR_MS + 1) * HOUR_MS
    when = datetime.fromtimestamp(at_ms / 1000, tz=UTC)
    job: Job = job_queue(connection).enqueue_at(
        when, expire_recordings, prefix, job_id=_job_id("expire_recordings", prefix, when.strftime("%Y%m%d%H")),
        result_ttl=RESULT_TTL_S, failure_ttl=FAILURE_TTL_S, description="delete recordings past retention")
    return job

"""Recordings: the verdict (a pure function, table test), the check with sox on generated
files (silence vs tone per direction), WAV files read while they are written, the Lua scripts
(record, audit events) and retention with a fake clock."""

from __future__ import annotations

import os
import struct
import subprocess
from pathlib import Path

import pytest
import redis
from rq import SimpleWorker

from config.settings import RecordingSettings, RuntimeSettings, load_settings
from queueing import jobs
from queueing.errors import RoutingRefused
from queueing.recording_files import (
    BadCallId,
    CallRecording,
    NotAWav,
    check_call_id,
    last_seconds,
    mixmonitor_options,
    rms_amplitude,
    wav_layout,
    whole,
)
from queueing.recordings import (
    DAY_MS,
    Leg,
    Recordings,
    check_recording,
    enqueue_check_recording,
    expire,
    inspect,
    judge,
)
from queueing.routing import Routing
from queueing.scripts import LUA_DIR
from queueing.states import RecordingStatus
from tests.queueing.test_vocabulary import tokenize
from tests.replay import E2E_CITY

CITY = load_settings(E2E_CITY)
T0 = 1_800_000_000_000


# --- files made with sox ---------------------------------------------------------------------------


def sox_wav(path: Path, seconds: float, tone_hz: int | None) -> Path:
    """An 8 kHz 16-bit mono WAV, as MixMonitor writes: a tone, or digital silence."""
    synth = ["synth", str(seconds), "sine", str(tone_hz)] if tone_hz else ["trim", "0", str(seconds)]
    subprocess.run(["sox", "-n", "-r", "8000", "-b", "16", "-c", "1", "-e", "signed-integer", str(path), *synth],
                   check=True, capture_output=True)
    return path


def recording(folder: Path, call_id: str, caller_tone: int | None, desk_tone: int | None, seconds: float = 2.0,
              mix: bool = True) -> CallRecording:
    rec = CallRecording(folder, call_id)
    sox_wav(rec.caller_leg, seconds, caller_tone)
    sox_wav(rec.desk_leg, seconds, desk_tone)
    if mix:
        sox_wav(rec.mix, seconds, caller_tone or desk_tone or None)
    return rec


def unfinished(path: Path, seconds: float = 3.0) -> Path:
    """A WAV as MixMonitor leaves it mid-call: a tone's samples behind a header whose sizes are still 0."""
    sox_wav(path, seconds, 440)
    data = path.read_bytes()
    layout = wav_layout(path)
    head = bytearray(data[:layout.data_offset])
    struct.pack_into("<I", head, 4, 0)
    struct.pack_into("<I", head, layout.data_offset - 4, 0)
    path.write_bytes(bytes(head) + data[layout.data_offset:])
    return path


# --- the verdict, a pure function --------------------------------------------------------------------

OK_LEG = Leg("caller's side (rx)", True, 12.0, 0.2)
DESK = Leg("desk's side (tx)", True, 12.0, 0.1)
MIX = Leg("mix", True, 12.0)


@pytest.mark.parametrize(("mix", "caller", "desk", "status", "words"), [
    (MIX, OK_LEG, DESK, RecordingStatus.OK, "12.0 s"),
    (Leg("mix", False), Leg("c", False), Leg("d", False), RecordingStatus.MISSING, "no recording file"),
    (MIX, Leg("caller's side (rx)", True, 12.0, 0.0), DESK, RecordingStatus.BROKEN, "caller's side (rx): silent"),
    (MIX, OK_LEG, Leg("desk's side (tx)", True, 12.0, 0.0004), RecordingStatus.BROKEN,
     "desk's side (tx): silent (RMS 0.0004 < 0.001)"),
    (MIX, OK_LEG, Leg("desk's side (tx)", False), RecordingStatus.BROKEN, "desk's side (tx): no file"),
    (Leg("mix", False), OK_LEG, DESK, RecordingStatus.BROKEN, "mix: no file"),
    (MIX, Leg("caller's side (rx)", True, 0.1, 0.3), DESK, RecordingStatus.BROKEN, "empty (0.1 s)"),
    (MIX, Leg("caller's side (rx)", True, problem="not a RIFF/WAVE file"), DESK, RecordingStatus.BROKEN,
     "not a RIFF/WAVE file"),
])
def test_the_verdict(mix, caller, desk, status, words):
    verdict, detail = judge(mix, caller, desk, 0.001)
    assert verdict == status
    assert words in detail


# --- sox on generated files -----------------------------------------------------------------------------


def test_both_directions_with_a_tone_are_ok(tmp_path):
    rec = recording(tmp_path, "test-1.1", 440, 660)
    verdict, detail = inspect(rec, 0.001)
    assert verdict == RecordingStatus.OK, detail


@pytest.mark.parametrize(("caller_tone", "desk_tone", "silent"), [
    (None, 660, "caller's side (rx)"), (440, None, "desk's side (tx)"),
])
def test_a_silent_direction_is_broken(tmp_path, caller_tone, desk_tone, silent):
    rec = recording(tmp_path, "test-1.2", caller_tone, desk_tone)
    verdict, detail = inspect(rec, 0.001)
    assert verdict == RecordingStatus.BROKEN
    assert f"{silent}: silent" in detail
    assert detail.count("silent") == 1


def test_no_files_is_missing_and_a_garbage_file_is_broken(tmp_path):
    assert inspect(CallRecording(tmp_path, "test-1.3"), 0.001)[0] == RecordingStatus.MISSING
    rec = recording(tmp_path, "test-1.4", 440, 660)
    rec.desk_leg.write_bytes(b"<html>not audio</html>")
    verdict, detail = inspect(rec, 0.001)
    assert verdict == RecordingStatus.BROKEN
    assert "desk's side (tx): test-1.4-tx.wav: not a RIFF/WAVE file" in detail


def test_rms_of_a_tone_and_of_silence(tmp_path):
    assert rms_amplitude(sox_wav(tmp_path / "tone.wav", 1, 440)) > 0.3
    assert rms_amplitude(sox_wav(tmp_path / "quiet.wav", 1, None)) < 0.0001  # sox dithers: not quite 0


# --- files being written ------------------------------------------------------------------------------


def test_a_file_being_written_is_read_by_its_real_length(tmp_path):
    path = unfinished(tmp_path / "c.wav", 3.0)
    layout = wav_layout(path)
    assert not layout.final
    assert layout.seconds == pytest.approx(3.0, abs=0.01)
    assert rms_amplitude(path) > 0.3  # measured all the same


def test_the_last_seconds_are_a_proper_wav(tmp_path):
    path = unfinished(tmp_path / "c.wav", 3.0)
    piece = last_seconds(path, 1.0)
    out = tmp_path / "recent.wav"
    out.write_bytes(piece.read(0, piece.size - 1))
    layout = wav_layout(out)
    assert layout.final
    assert layout.seconds == pytest.approx(1.0, abs=0.001)
    soxi = subprocess.run(["soxi", "-D", str(out)], capture_output=True, text=True, check=True)
    assert float(soxi.stdout) == pytest.approx(1.0, abs=0.001)
    # More than there is: all of it.
    assert wav_layout(tmp_path / "c.wav").data_bytes == last_seconds(path, 60).length


def test_byte_ranges_of_a_wav_slice_join_up(tmp_path):
    path = sox_wav(tmp_path / "w.wav", 1.0, 440)
    piece = whole(path)
    full = piece.read(0, piece.size - 1)
    assert full == path.read_bytes()  # a closed file: the same bytes
    parts = piece.read(0, 9) + piece.read(10, 43) + piece.read(44, 999) + piece.read(1000, piece.size - 1)
    assert parts == full


def test_not_a_wav_is_refused_plainly(tmp_path):
    bad = tmp_path / "x.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00" + struct.pack("<HHIIHH", 6, 1, 8000, 8000, 1, 8))
    with pytest.raises(NotAWav, match="not 16-bit PCM"):
        wav_layout(bad)


# --- names -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("call_id", ["../etc/passwd", "a/b", "", ".hidden", "0912 345", "x" * 129, "<script>"])
def test_only_a_call_id_names_a_file(call_id):
    with pytest.raises(BadCallId, match="cannot name a recording"):
        check_call_id(call_id)


def test_mixmonitor_is_told_the_mix_and_each_direction():
    file, options = mixmonitor_options("/var/spool/asterisk/monitor/hotline", "hotline-1764650000.12")
    assert file == "/var/spool/asterisk/monitor/hotline/hotline-1764650000.12.wav"
    assert options == ("r(/var/spool/asterisk/monitor/hotline/hotline-1764650000.12-rx.wav)"
                       "t(/var/spool/asterisk/monitor/hotline/hotline-1764650000.12-tx.wav)")


def test_settings_refuse_a_relative_or_climbing_folder():
    for bad in ("recordings", "/var/../etc"):
        with pytest.raises(ValueError, match="absolute folder path"):
            RecordingSettings(dir=bad)


# --- Redis: the scripts and the jobs ----------------------------------------------------------------


@pytest.fixture
def answered(redis_client) -> Routing:
    """Call c-1 from 0912345678 answered at desk-101 (police), recording since T0."""
    routing = Routing(redis_client)
    routing.register_desk("desk-101", "police")
    routing.arrive("c-1", "0912345678", "PJSIP/citizens-1", now_ms=T0 - 9000)
    routing.enqueue("c-1", "police", 1, choice="1", now_ms=T0 - 8000)
    routing.set_desk_state("desk-101", "ready", now_ms=T0 - 8000)
    assert routing.claim_next(["police"], 10_000, now_ms=T0 - 7000)
    routing.offer_answered("c-1", "desk-101", now_ms=T0 - 1)
    routing.recording_start("c-1", "c-1.wav", now_ms=T0)
    return routing


def events_of(routing: Routing, kind: str) -> list[dict[str, str]]:
    return [e for e in routing.events(1000) if e["type"] == kind]


def test_recording_start_marks_the_call_and_lists_it(answered):
    call = answered.call("c-1")
    assert (call["recording"], call["recording_file"], call["recording_started_ms"]) == ("recording", "c-1.wav", str(T0))
    assert answered.redis.zscore(answered.keys.recordings(), "c-1") == T0
    [event] = events_of(answered, "recording_started")
    assert (event["call_id"], event["queue"], event["desk_id"]) == ("c-1", "police", "desk-101")


def test_recording_start_refuses_a_path_for_a_file(answered):
    with pytest.raises(RoutingRefused, match="not a plain file name"):
        answered.recording_start("c-1", "../../etc/passwd")


def test_a_broken_check_is_recorded_audited_and_raised(answered):
    Recordings(answered.redis).checked("c-1", RecordingStatus.BROKEN, "desk's side (tx): silent", now_ms=T0 + 5)
    call = answered.call("c-1")
    assert (call["recording"], call["recording_checked_ms"], call["recording_detail"]) == (
        "broken", str(T0 + 5), "desk's side (tx): silent")
    [checked] = events_of(answered, "recording_checked")
    [alert] = events_of(answered, "recording_broken")
    for event in (checked, alert):
        assert (event["call_id"], event["queue"], event["desk_id"], event["status"]) == ("c-1", "police", "desk-101",
                                                                                          "broken")


def test_an_ok_check_raises_no_alert_and_a_bad_verdict_is_refused(answered):
    recordings = Recordings(answered.redis)
    recordings.checked("c-1", RecordingStatus.OK, "fine", now_ms=T0 + 5)
    assert answered.call("c-1")["recording"] == "ok"
    assert events_of(answered, "recording_broken") == []
    with pytest.raises(RoutingRefused, match="ok, broken or missing"):
        recordings.checked("c-1", RecordingStatus.EXPIRED, "no")


@pytest.fixture
def conn(redis_client, redis_url, tmp_path):
    client = redis.Redis.from_url(redis_url)
    folder_root = tmp_path / "root"
    city = CITY.model_copy(update={"recording": RecordingSettings(dir="/rec", retention_days=30)})
    jobs.configure(city=city, runtime=RuntimeSettings(redis_url=redis_url, ami_secret="x", asterisk_root=folder_root))
    (folder_root / "rec").mkdir(parents=True)
    yield client
    client.close()
    jobs.configure()


@pytest.mark.parametrize(("desk_tone", "status"), [(660, "ok"), (None, "broken")])
def test_the_check_job_run_by_a_worker_records_the_verdict(answered, conn, tmp_path, desk_tone, status):
    recording(tmp_path / "root" / "rec", "c-1", 440, desk_tone)
    assert enqueue_check_recording(conn, "c-1") is not None
    assert enqueue_check_recording(conn, "c-1") is None  # the hang-up reported twice: one check
    SimpleWorker([jobs.QUEUE_NAME], connection=conn).work(burst=True)
    call = answered.call("c-1")
    assert call["recording"] == status
    assert call["recording_checked_ms"]
    assert len(events_of(answered, "recording_broken")) == (status == "broken")


def test_the_check_of_a_call_never_recorded_says_missing(answered, conn):
    assert check_recording("c-1")["recording"] == "missing"
    assert answered.call("c-1")["recording"] == "missing"
    assert check_recording("../x")["result"] == "refused"


def _age(rec: CallRecording, ms: int) -> None:
    for path in rec.files():
        os.utime(path, (ms / 1000, ms / 1000))


def test_retention_deletes_what_is_older_with_a_fake_clock(answered, tmp_path):
    folder = tmp_path / "rec"
    folder.mkdir()
    old = recording(folder, "c-1", 440, 660)
    _age(old, T0)
    # c-2 started 10 days later, still kept at the time of the run below.
    answered.arrive("c-2", "0912000002", "PJSIP/citizens-2", now_ms=T0 + 10 * DAY_MS)
    answered.recording_start("c-2", "c-2.wav", now_ms=T0 + 10 * DAY_MS)
    kept = recording(folder, "c-2", 440, 660)
    _age(kept, T0 + 10 * DAY_MS)
    # A stray file (its call was never in Redis), as old as c-1.
    stray = recording(folder, "lost-7.1", 440, 660)
    _age(stray, T0)
    recordings = Recordings(answered.redis)

    assert expire(recordings, folder, 30, now_ms=T0 + 30 * DAY_MS - 1) == []  # not yet 30 days
    assert expire(recordings, folder, 30, now_ms=T0 + 31 * DAY_MS) == ["c-1", "lost-7.1"]
    assert not any(p.exists() for p in old.files() + stray.files())
    assert all(p.exists() for p in kept.files())
    call = answered.call("c-1")
    assert call["recording"] == "expired"
    assert "deleted after 30 days: c-1.wav, c-1-rx.wav, c-1-tx.wav" == call["recording_detail"]
    assert answered.redis.zrange(answered.keys.recordings(), 0, -1) == ["c-2"]
    assert [e["call_id"] for e in events_of(answered, "recording_expired")] == ["c-1", "lost-7.1"]
    assert answered.call("lost-7.1") == {}  # no record made up for a stray file
    # An expired recording is not checked again.
    with pytest.raises(RoutingRefused, match="expired"):
        recordings.checked("c-1", RecordingStatus.OK, "")


# --- vocabulary: the scripts' recording values are RecordingStatus's -------------------------------------


def test_the_recording_scripts_speak_recording_status():
    used = set()
    for path in sorted(LUA_DIR.glob("recording_*.lua")):
        tokens = tokenize(path.read_text(encoding="utf-8"))
        for i, t in enumerate(tokens):
            is_value = tokens[i - 2].text == "recording" and tokens[i - 1].text == ","
            if t.kind == "str" and t.text == "recording" and not is_value and tokens[i + 2].kind == "str":
                used.add(tokens[i + 2].text)  # 'recording', '<value>' in HSET / emit / reply
            if t.kind == "name" and t.text == "recording" and tokens[i - 1].text == ".":
                used.add(tokens[i + 2].text)  # call.recording == '<value>'
            if t.kind == "name" and t.text == "VERDICTS" and tokens[i + 1].text == "=":
                j = i + 3
                while tokens[j].text != "}":
                    if tokens[j].kind == "name" and tokens[j + 1].text == "=":
                        used.add(tokens[j].text)
                    j += 1
    used.discard("")  # a call record that is gone
    assert used == set(RecordingStatus)

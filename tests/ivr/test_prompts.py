"""ivr.prompts: real espeak-ng + sox audio, in Asterisk's format, rebuilt only when a prompt changes."""

import json
import subprocess
from pathlib import Path

import pytest

from config.settings import PROMPT_KEYS, load_settings
from ivr.prompts import MANIFEST, PromptBuildError, build_hold_music, build_prompts

TINY_CITY = """
[hotline]
number = "112"
languages = ["vi", "en"]

[ivr]
no_input_timeout_s = 5.0
attempts = 2

[queueing]
ring_timeout_s = 12
wrap_up_s = 10
missed_calls_before_pause = 3
bridge_heartbeat_stale_s = 5
announce_interval_s = 20

[[agencies]]
id = "police"
digit = "1"
priority = 1
label = "POLICE"
name = { vi = "Công an", en = "Police" }

[prompts.vi]
menu = "Công an, bấm phím 1."
invalid = "Phím không đúng."
no_input = "Chưa nhận được phím."
stay_on_line = "Xin giữ máy."
connecting_general = "Đang chuyển máy."

[prompts.en]
menu = "For police, press 1."
invalid = "That key is not on the menu."
no_input = "We did not hear a key."
stay_on_line = "Please stay on the line."
connecting_general = "Connecting you to an operator."

[[desks]]
id = "desk-1"
agency = "police"
"""


def soxi(flag: str, path: Path) -> str:
    return subprocess.run(["soxi", flag, str(path)], capture_output=True, text=True, check=True).stdout.strip()


def city_file(tmp_path: Path, text: str = TINY_CITY) -> Path:
    path = tmp_path / "city.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def city(tmp_path):
    return load_settings(city_file(tmp_path))


def test_builds_every_prompt_as_asterisk_wav(city, tmp_path):
    out = tmp_path / "sounds" / "hotline"
    rebuilt = build_prompts(city, out)

    expected = {out / lang / f"{key}.wav" for lang in ("vi", "en") for key in PROMPT_KEYS}
    assert set(rebuilt) == expected
    for path in expected:
        assert soxi("-t", path) == "wav"
        assert soxi("-r", path) == "8000"
        assert soxi("-c", path) == "1"
        assert soxi("-b", path) == "16"
        assert soxi("-e", path) == "Signed Integer PCM"
        assert float(soxi("-D", path)) > 0.3, f"{path} is too short to be speech"
        assert path.stat().st_mode & 0o044 == 0o044, "Asterisk runs as another user and must read it"
    manifest = json.loads((out / MANIFEST).read_text())
    assert set(manifest["files"]) == {f"{lang}/{key}.wav" for lang in ("vi", "en") for key in PROMPT_KEYS}


def test_unchanged_prompts_are_not_rebuilt(city, tmp_path):
    out = tmp_path / "hotline"
    build_prompts(city, out)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.wav")}

    assert build_prompts(city, out) == []
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.wav")} == before


def test_changing_one_text_rebuilds_only_that_file(city, tmp_path):
    out = tmp_path / "hotline"
    build_prompts(city, out)
    changed = load_settings(city_file(tmp_path, TINY_CITY.replace("Please stay on the line.", "Please hold, help is coming.")))

    assert build_prompts(changed, out) == [out / "en" / "stay_on_line.wav"]
    assert build_prompts(changed, out) == []


def test_speed_and_missing_files_rebuild(city, tmp_path):
    out = tmp_path / "hotline"
    build_prompts(city, out)
    (out / "vi" / "menu.wav").unlink()
    assert build_prompts(city, out) == [out / "vi" / "menu.wav"]

    slower = build_prompts(city, out, speed_wpm=120)
    assert len(slower) == 2 * len(PROMPT_KEYS)
    assert float(soxi("-D", out / "en" / "menu.wav")) > 0.3


def test_dropped_language_files_are_removed(city, tmp_path):
    out = tmp_path / "hotline"
    build_prompts(city, out)
    text = TINY_CITY.replace('languages = ["vi", "en"]', 'languages = ["en"]')
    text = text.replace('name = { vi = "Công an", en = "Police" }', 'name = { en = "Police" }')
    start, end = text.index("[prompts.vi]"), text.index("[prompts.en]")
    english_only = load_settings(city_file(tmp_path, text[:start] + text[end:]))

    assert build_prompts(english_only, out) == []
    assert not list((out / "vi").glob("*.wav"))
    assert len(list((out / "en").glob("*.wav"))) == len(PROMPT_KEYS)


def test_speed_out_of_range_is_refused(city, tmp_path):
    with pytest.raises(ValueError, match="speed_wpm must be 80-450"):
        build_prompts(city, tmp_path / "hotline", speed_wpm=10)


def test_missing_tools_are_named_with_their_package(city, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(PromptBuildError, match=r"espeak-ng not found.*Debian package espeak-ng"):
        build_prompts(city, tmp_path / "hotline")
    with pytest.raises(PromptBuildError, match=r"sox not found.*Debian package sox"):
        build_hold_music([], tmp_path / "moh")


def test_unknown_voice_is_a_clear_error(tmp_path):
    city = load_settings(city_file(tmp_path, TINY_CITY + '\n[tts]\nvoices = { en = "zz" }\n'))
    with pytest.raises(PromptBuildError, match=r"voice 'zz'.*espeak-ng failed: .*does not exist"):
        build_prompts(city, tmp_path / "hotline")


def test_hold_music_becomes_8khz_ulaw(tmp_path):
    source = tmp_path / "calm.wav"
    subprocess.run(["sox", "-n", "-r", "44100", "-c", "2", str(source), "synth", "2", "sine", "440"], check=True)

    [target] = build_hold_music([source], tmp_path / "moh")

    assert target == tmp_path / "moh" / "calm.ulaw"
    assert target.stat().st_mode & 0o044 == 0o044
    # Headerless µ-law at 8 kHz mono is one byte per sample: 2 s ≈ 16000 bytes.
    assert abs(target.stat().st_size - 16000) <= 80
    # Read back as µ-law: sox must decode it as 2 s of sound, not noise-length garbage.
    stat = subprocess.run(
        ["sox", "-t", "ul", "-r", "8000", "-c", "1", str(target), "-n", "stat"], capture_output=True, text=True, check=True
    ).stderr
    length = float(next(line for line in stat.splitlines() if line.startswith("Length")).split()[-1])
    assert length == pytest.approx(2.0, abs=0.01)


def test_hold_music_missing_source(tmp_path):
    with pytest.raises(PromptBuildError, match="no such hold-music file"):
        build_hold_music([tmp_path / "absent.wav"], tmp_path / "moh")


def test_desk_tones_are_short_8khz_sounds(tmp_path):
    from ivr.prompts import DESK_TONES, build_tones

    files = build_tones(tmp_path)
    assert sorted(f.stem for f in files) == sorted(DESK_TONES)
    for f in files:
        info = subprocess.run(["soxi", str(f)], capture_output=True, text=True, check=True).stdout
        assert "8000" in info and "1" in info.split("Channels")[1].split("\n")[0]
        seconds = float(subprocess.run(["soxi", "-D", str(f)], capture_output=True, text=True, check=True).stdout)
        assert 0.2 <= seconds <= 1.5

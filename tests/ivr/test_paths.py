"""ivr.paths: each caller path's length from made-up prompt durations (table tests), the
city-file warning, and the measuring on real generated prompt files (espeak-ng + sox)."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest

from config.names import IvrMode
from config.settings import CitySettings, load_settings, parse_settings
from ivr.paths import (
    PATH_PROMPTS,
    CallerPaths,
    Step,
    WrongKey,
    audio_seconds,
    caller_paths,
    measure_prompts,
    slow_silent_caller,
)
from ivr.prompts import PromptBuildError, build_prompts
from tests.replay import E2E_CITY

REPO = Path(__file__).resolve().parents[2]

# Made-up durations: round numbers so every sum below can be checked by eye.
DURATIONS = {
    ("vi", "menu"): 6.0, ("en", "menu"): 7.0,
    ("vi", "no_input"): 1.0, ("en", "no_input"): 1.5,
    ("vi", "invalid"): 0.5, ("en", "invalid"): 0.75,
}


def city(languages: tuple[str, ...] = ("vi", "en"), service_levels: list[dict] | None = None, **ivr) -> CitySettings:
    data = tomllib.loads(E2E_CITY.read_text())
    data["ivr"] = {"no_input_timeout_s": 4.0, "attempts": 2, **ivr}
    data["hotline"]["languages"] = list(languages)
    data["prompts"] = {lang: data["prompts"][lang] for lang in languages}
    for agency in data["agencies"]:
        agency["name"] = {lang: agency["name"][lang] for lang in languages}
        for nature in agency.get("natures", []):
            nature["name"] = {lang: nature["name"][lang] for lang in languages}
    data["tts"] = {}
    if service_levels is not None:
        data["supervision"] = {"service_levels": service_levels}
    return parse_settings(data, "city.toml")


def spans(paths: CallerPaths) -> list[tuple[int, str | None, str | None, float, float]]:
    return [(s.attempt, s.language, s.prompt, s.start_s, s.end_s) for s in paths.steps]


# (name, city settings, the silent caller's steps, wrong keys)
TABLE = [
    ("today's shape: two attempts, the second with the no-input notice in each language",
     city(attempts=2, no_input_timeout_s=4.0),
     [(1, "vi", "menu", 0.0, 6.0), (1, "en", "menu", 6.0, 13.0), (1, None, None, 13.0, 17.0),
      (2, "vi", "no_input", 17.0, 18.0), (2, "vi", "menu", 18.0, 24.0),
      (2, "en", "no_input", 24.0, 25.5), (2, "en", "menu", 25.5, 32.5), (2, None, None, 32.5, 36.5)],
     # A wrong key in attempt 1: "invalid" + menu in each language + the wait = 0.5+6+0.75+7+4.
     (WrongKey(1, menu_again=True, queued_after_s=18.25), WrongKey(2, menu_again=False, queued_after_s=0.0))),
    ("one attempt: each menu once, then one wait",
     city(attempts=1, no_input_timeout_s=2.0),
     [(1, "vi", "menu", 0.0, 6.0), (1, "en", "menu", 6.0, 13.0), (1, None, None, 13.0, 15.0)],
     (WrongKey(1, menu_again=False, queued_after_s=0.0),)),
    ("one language, three attempts",
     city(languages=("en",), attempts=3, no_input_timeout_s=1.0),
     [(1, "en", "menu", 0.0, 7.0), (1, None, None, 7.0, 8.0),
      (2, "en", "no_input", 8.0, 9.5), (2, "en", "menu", 9.5, 16.5), (2, None, None, 16.5, 17.5),
      (3, "en", "no_input", 17.5, 19.0), (3, "en", "menu", 19.0, 26.0), (3, None, None, 26.0, 27.0)],
     # After a wrong key in attempt 1: invalid+menu+wait (8.75), then no_input+menu+wait (9.5).
     (WrongKey(1, True, 18.25), WrongKey(2, True, 8.75), WrongKey(3, False, 0.0))),
]


@pytest.mark.parametrize(("name", "settings", "steps", "wrong"), TABLE, ids=[row[0] for row in TABLE])
def test_silent_path_and_wrong_keys(name, settings, steps, wrong):
    paths = caller_paths(settings, DURATIONS)
    assert spans(paths) == steps
    assert paths.no_input_s == steps[-1][-1]
    # A menu key reaches its agency up to the end of the last wait; never during "connecting":
    # that prompt is played once the caller is queued.
    assert paths.latest_key_s == paths.no_input_s
    assert all(s.prompt in (*PATH_PROMPTS, None) for s in paths.steps)
    assert paths.wrong_keys == wrong
    assert dict(paths.options) == {"1": "police", "2": "fire", "3": "medical", "4": "disaster"}


def test_steps_follow_each_other_without_gaps():
    paths = caller_paths(city(attempts=3), DURATIONS)
    assert paths.steps[0].start_s == 0.0
    for before, after in zip(paths.steps, paths.steps[1:], strict=False):
        assert before.end_s == after.start_s and before.end_s > before.start_s


# (mode, desk free?, the silent caller is queued after)
MODES = [
    (IvrMode.MENU_FIRST, False, 36.5),
    (IvrMode.MENU_FIRST, True, 36.5),  # the menu plays whether or not a desk is free
    (IvrMode.HUMAN_FIRST, False, 36.5),  # nobody free: the menu as in menu_first
    (IvrMode.HUMAN_FIRST, True, 0.0),  # a desk idle: put through at the answer, no menu
]


@pytest.mark.parametrize(("mode", "desk_free", "queued_s"), MODES)
def test_silent_caller_by_mode(mode, desk_free, queued_s):
    paths = caller_paths(city(mode=mode.value), DURATIONS)
    assert paths.mode is mode
    assert paths.no_input_when(desk_free) == queued_s


# (speech_to_human_s, speech_silence_ms, speech starts at s, queued at s): a caller who keeps
# talking is queued speech_to_human_s + the detector's silence threshold after starting.
SPEECH = [
    (1.5, 500, 0.0, 2.0),
    (1.5, 500, 10.0, 12.0),
    (1.5, 500, 35.0, 36.5),  # the silent path ends first (36.5)
    (1.5, 500, 40.0, 36.5),
    (1.5, 500, -1.0, 2.0),  # speech before the answer counts from the answer
    (0.0, 500, 0.0, 36.5),  # detector off: speech is the silent path
    (3.0, 1000, 2.0, 6.0),
]


@pytest.mark.parametrize(("speech_s", "silence_ms", "starts_s", "queued_s"), SPEECH)
def test_a_caller_who_speaks(speech_s, silence_ms, starts_s, queued_s):
    paths = caller_paths(city(speech_to_human_s=speech_s, speech_silence_ms=silence_ms), DURATIONS)
    assert paths.speech_queued_at(starts_s) == queued_s


def test_latest_speech_start():
    assert caller_paths(city(speech_to_human_s=1.5), DURATIONS).latest_speech_start_s == 34.5  # 36.5 - (1.5 + 0.5)
    assert caller_paths(city(speech_to_human_s=0), DURATIONS).latest_speech_start_s is None


def test_a_missing_duration_is_named():
    durations = {k: v for k, v in DURATIONS.items() if k != ("en", "invalid")}
    with pytest.raises(KeyError, match="en/invalid"):
        caller_paths(city(), durations)


def test_step_is_what_the_ivr_plays():
    paths = caller_paths(city(attempts=1), DURATIONS)
    assert paths.steps[0] == Step(1, "vi", "menu", 0.0, 6.0)


# --- the city-file warning -------------------------------------------------------------------


def test_warns_when_a_silent_caller_is_queued_after_the_target_naming_the_keys():
    settings = city(attempts=2, no_input_timeout_s=4.0)
    warning = slow_silent_caller(settings, caller_paths(settings, DURATIONS), "city.toml")
    assert warning is not None
    assert warning.startswith("city.toml: ivr: a silent caller is queued 36.5 s after the answer (menu_first)")
    assert "target of 15 s (supervision.service_levels[0].within_s)" in warning
    for key in ("prompts.vi.menu (6.0 s × 2 = 12.0 s)", "prompts.en.menu (7.0 s × 2 = 14.0 s)", "prompts.vi.no_input (1.0 s)",
                "prompts.en.no_input (1.5 s)", "ivr.no_input_timeout_s (4.0 s × 2 = 8.0 s)",
                "ivr.attempts (2: the menus and the wait, 2 times)", 'ivr.mode = "human_first"'):
        assert key in warning, key
    # Largest first: the city sees where to cut.
    assert warning.index("prompts.en.menu") < warning.index("prompts.vi.menu") < warning.index("ivr.no_input_timeout_s")


# (name, settings, warned?)
WARNINGS = [
    ("within the default target (15 s): 6+7+2", city(attempts=1, no_input_timeout_s=2.0), False),
    ("exactly the target is within it", city(attempts=1, no_input_timeout_s=2.0,
                                              service_levels=[{"within_s": 15, "percent": 90}]), False),
    ("NFPA's 10 s target: 15 s is too long", city(attempts=1, no_input_timeout_s=2.0,
                                                    service_levels=[{"within_s": 10, "percent": 90}]), True),
    ("the first service level is the target", city(attempts=1, no_input_timeout_s=2.0,
                                                     service_levels=[{"within_s": 20, "percent": 95},
                                                                     {"within_s": 10, "percent": 90}]), False),
    ("one wait too long", city(attempts=1, no_input_timeout_s=3.0), True),
    ("human_first: not warned (a free desk takes the caller first)",
     city(attempts=2, no_input_timeout_s=4.0, mode="human_first"), False),
]


@pytest.mark.parametrize(("name", "settings", "warned"), WARNINGS, ids=[row[0] for row in WARNINGS])
def test_warning_table(name, settings, warned):
    warning = slow_silent_caller(settings, caller_paths(settings, DURATIONS))
    assert (warning is not None) == warned, warning


def test_one_attempt_names_no_notice_and_no_attempts():
    settings = city(attempts=1, no_input_timeout_s=5.0)
    warning = slow_silent_caller(settings, caller_paths(settings, DURATIONS))
    assert warning is not None and "no_input (" not in warning and "ivr.attempts" not in warning
    assert "prompts.vi.menu (6.0 s)" in warning and "ivr.no_input_timeout_s (5.0 s)" in warning


# --- measured on real generated prompts ---------------------------------------------------


def test_measured_durations_are_the_generated_files_lengths(tmp_path):
    settings = city(attempts=2, no_input_timeout_s=2.0)
    build_prompts(settings, tmp_path)
    durations = measure_prompts(settings, tmp_path)
    assert set(durations) == {(lang, key) for lang in ("vi", "en") for key in PATH_PROMPTS}
    for (lang, key), seconds in durations.items():
        samples = subprocess.run(["soxi", "-s", str(tmp_path / lang / f"{key}.wav")], capture_output=True,
                                 text=True, check=True).stdout
        assert seconds == pytest.approx(int(samples) / 8000, abs=0.001), (lang, key)
        assert seconds > 0.3, (lang, key)  # spoken words, not an empty file
    # The e2e city's menu ("Press 1, 2, 3, 4.") is longer than its "No key." notice.
    assert durations[("en", "menu")] > durations[("en", "no_input")]
    paths = caller_paths(settings, durations)
    assert paths.no_input_s == pytest.approx(sum(durations[(lang, "menu")] * 2 + durations[(lang, "no_input")]
                                                 for lang in ("vi", "en")) + 2 * 2.0)


def test_a_longer_text_measures_longer(tmp_path):
    short = city(languages=("en",))
    data = short.model_dump()
    data["prompts"]["en"]["menu"] = "Police 1, fire 2, ambulance 3, disaster 4. " * 3
    long = CitySettings.model_validate(data)
    build_prompts(short, tmp_path / "short")
    build_prompts(long, tmp_path / "long")
    assert (measure_prompts(long, tmp_path / "long")[("en", "menu")]
            > 2 * measure_prompts(short, tmp_path / "short")[("en", "menu")])


def test_a_missing_prompt_file_says_to_build_the_prompts(tmp_path):
    with pytest.raises(PromptBuildError, match="no such prompt file"):
        audio_seconds(tmp_path / "en" / "menu.wav")


def test_a_file_sox_cannot_read_is_named(tmp_path):
    bad = tmp_path / "menu.wav"
    bad.write_bytes(b"not audio")
    with pytest.raises(PromptBuildError, match="menu.wav: sox cannot read its length"):
        audio_seconds(bad)


def test_the_shipped_city_queues_a_silent_caller_within_its_target(tmp_path):
    """hotline.toml as shipped, its prompts generated: no warning, and room for a desk to answer."""
    shipped = load_settings(REPO / "hotline.toml")
    build_prompts(shipped, tmp_path)
    paths = caller_paths(shipped, measure_prompts(shipped, tmp_path))
    assert slow_silent_caller(shipped, paths) is None
    assert paths.no_input_s <= 15 - 2.5, spans(paths)

"""How long each caller's path takes, from the answer until the caller is queued for a person.

NENA counts the menu in the answer time: the clock starts when the call arrives. This
module says, from the city file and each prompt's real duration (measured on the
generated audio, never guessed), when a silent caller, a caller pressing a key at any
moment and a caller who speaks is queued; ``hotline ivr paths`` prints it, and the lab and
``hotline prompts`` warn when a silent caller would be queued later than the city's target.

It follows what telephony/ivr_call.py plays: each attempt is, per language in order, the
notice (from the second attempt on: "no_input", or "invalid" after a wrong key) and the
menu, then a wait of ``no_input_timeout_s`` for a key; after the last attempt the caller
goes to the general queue. The "connecting you to an operator" prompt is played after the
caller is queued, while a desk may already ring, so it is not on the path.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from config.names import IvrMode
from config.settings import CitySettings
from ivr.menu import Notice
from ivr.prompts import PromptBuildError, require_tool

# The prompts a caller can hear before being queued (per language).
PATH_PROMPTS: tuple[str, ...] = ("menu", "no_input", "invalid")

Durations = Mapping[tuple[str, str], float]  # (language, prompt key) → seconds


@dataclass(frozen=True)
class Step:
    """One stretch of the menu: a prompt in a language, or the wait for a key (prompt None)."""

    attempt: int  # 1-based
    language: str | None
    prompt: str | None  # "menu", a notice ("no_input", "invalid"), or None: waiting for a key
    start_s: float  # from the answer
    end_s: float


@dataclass(frozen=True)
class WrongKey:
    """A key that is no menu option, pressed during ``attempt``."""

    attempt: int
    # True: the "invalid" notice and the menu again (the next attempt); False: the general
    # queue at once (the last attempt), reason invalid.
    menu_again: bool
    # A caller who then stays silent is queued this long after the wrong key.
    queued_after_s: float


@dataclass(frozen=True)
class CallerPaths:
    mode: IvrMode
    options: Mapping[str, str]  # digit → agency id
    steps: tuple[Step, ...]  # the silent caller's menu, from the answer to the general queue
    wrong_keys: tuple[WrongKey, ...]  # one per attempt
    # A caller who keeps speaking, pressing nothing, is queued this long after starting: the
    # city's speech_to_human_s, plus TALK_DETECT's silence threshold (speech_silence_ms), the
    # quiet it waits for before a talk counts as ended, so the detector decides only then
    # (telephony/speech.py). 0: the detector is off.
    speech_after_s: float

    @property
    def no_input_s(self) -> float:
        """A silent caller who hears the menu is queued (general queue) this long after the answer."""
        return self.steps[-1].end_s if self.steps else 0.0

    @property
    def latest_key_s(self) -> float:
        """A menu key pressed before this reaches its agency at once; after it the caller is
        already in the general queue."""
        return self.no_input_s

    @property
    def menu_skipped_when_desk_free(self) -> bool:
        """human_first: with a desk idle and nobody waiting, the caller goes to it at the
        answer, before any prompt; every path is then ~0 s."""
        return self.mode is IvrMode.HUMAN_FIRST

    def no_input_when(self, desk_free: bool) -> float:
        return 0.0 if desk_free and self.menu_skipped_when_desk_free else self.no_input_s

    def speech_queued_at(self, starts_s: float) -> float:
        """When a caller who starts speaking ``starts_s`` after the answer (and keeps talking,
        pressing nothing) is queued: speech_after_s later, unless the silent path ends first.
        With the detector off, speech is the silent path."""
        if self.speech_after_s <= 0:
            return self.no_input_s
        return min(max(starts_s, 0.0) + self.speech_after_s, self.no_input_s)

    @property
    def latest_speech_start_s(self) -> float | None:
        """Speech starting after this changes nothing: the silent path ends first (None: detector off)."""
        if self.speech_after_s <= 0:
            return None
        return max(self.no_input_s - self.speech_after_s, 0.0)


def _attempt(attempt: int, notice: Notice | None, languages: list[str], durations: Durations,
             wait_s: float, start_s: float) -> list[Step]:
    steps: list[Step] = []
    at = start_s
    for lang in languages:
        for prompt in ([notice] if notice else []) + ["menu"]:
            length = durations[(lang, prompt)]
            steps.append(Step(attempt, lang, prompt, at, at + length))
            at += length
    steps.append(Step(attempt, None, None, at, at + wait_s))
    return steps


def _menu(first_attempt: int, first_notice: Notice | None, attempts: int, languages: list[str],
          durations: Durations, wait_s: float, start_s: float = 0.0) -> list[Step]:
    """The menu from ``first_attempt`` to the general queue, pressing nothing."""
    steps: list[Step] = []
    at = start_s
    for attempt in range(first_attempt, attempts + 1):
        notice = first_notice if attempt == first_attempt else "no_input"
        steps += _attempt(attempt, notice, languages, durations, wait_s, at)
        at = steps[-1].end_s
    return steps


def caller_paths(city: CitySettings, durations: Durations) -> CallerPaths:
    """Every path's timing from the city's [ivr] settings, languages and menu, and each
    prompt's duration in seconds. Pure: the durations come from measure_prompts."""
    languages, ivr = city.languages, city.ivr
    missing = sorted({(lang, key) for lang in languages for key in PATH_PROMPTS} - set(durations))
    if missing:
        raise KeyError(f"no duration for prompt(s): {', '.join(f'{lang}/{key}' for lang, key in missing)}")
    wait_s = ivr.no_input_timeout_s
    steps = _menu(1, None, ivr.attempts, languages, durations, wait_s)
    wrong = tuple(
        WrongKey(attempt, menu_again=attempt < ivr.attempts,
                 queued_after_s=_menu(attempt + 1, "invalid", ivr.attempts, languages, durations, wait_s)[-1].end_s
                 if attempt < ivr.attempts else 0.0)
        for attempt in range(1, ivr.attempts + 1)
    )
    return CallerPaths(mode=ivr.mode, options={a.digit: a.id for a in city.agencies}, steps=tuple(steps),
                       wrong_keys=wrong,
                       speech_after_s=ivr.speech_to_human_s + ivr.speech_silence_ms / 1000 if ivr.speech_to_human_s > 0 else 0.0)


# --- the city's target ----------------------------------------------------------------------


def target_s(city: CitySettings) -> int:
    """The city's answer-time target: the first [supervision] service level's within_s (NENA's 15 s by default)."""
    return city.supervision.targets[0][0]


def slow_silent_caller(city: CitySettings, paths: CallerPaths, source: str = "hotline.toml") -> str | None:
    """A warning when, in menu_first, a silent caller is queued later than the city's target,
    naming the keys that make the path long; None when it is within.

    human_first is not warned about: a free desk takes the caller before the menu, and with
    none free the caller would wait for one anyway."""
    target = target_s(city)
    if paths.mode is not IvrMode.MENU_FIRST or paths.no_input_s <= target:
        return None
    languages = city.languages
    # What each key adds to the silent path, largest first: the city knows where to cut.
    menus = {lang: sum(s.end_s - s.start_s for s in paths.steps if s.language == lang and s.prompt == "menu")
             for lang in languages}
    notices = {lang: sum(s.end_s - s.start_s for s in paths.steps if s.language == lang and s.prompt == "no_input")
               for lang in languages}
    waits = sum(s.end_s - s.start_s for s in paths.steps if s.prompt is None)
    attempts = city.ivr.attempts

    def each_attempt(total: float) -> str:
        return f"{total / attempts:.1f} s × {attempts} = {total:.1f} s" if attempts > 1 else f"{total:.1f} s"

    parts = [(seconds, f"prompts.{lang}.menu ({each_attempt(seconds)})") for lang, seconds in menus.items()]
    parts += [(seconds, f"prompts.{lang}.no_input ({seconds:.1f} s)") for lang, seconds in notices.items() if seconds]
    parts.append((waits, f"ivr.no_input_timeout_s ({each_attempt(waits)})"))
    if attempts > 1:
        parts.append((paths.no_input_s, f"ivr.attempts ({attempts}: the menus and the wait, {attempts} times)"))
    keys = "; ".join(text for _, text in sorted(parts, key=lambda p: -p[0]))
    return (f"{source}: ivr: a silent caller is queued {paths.no_input_s:.1f} s after the answer (menu_first), later than "
            f"the target of {target} s (supervision.service_levels[0].within_s) before a desk even rings. "
            f"Shorten: {keys}; or set ivr.mode = \"human_first\"")


# --- measured on the generated audio -------------------------------------------------------


def audio_seconds(path: Path) -> float:
    """A sound file's length as sox reads it (``sox --i -D``, what soxi -D prints)."""
    sox = require_tool("sox")
    if not path.is_file():
        raise PromptBuildError(f"{path}: no such prompt file (build the prompts first: hotline prompts)")
    result = subprocess.run([sox, "--i", "-D", str(path)], capture_output=True, text=True, check=False)
    try:
        return float(result.stdout.strip())
    except ValueError:
        detail = result.stderr.strip() or f"exit status {result.returncode}"
        raise PromptBuildError(f"{path}: sox cannot read its length: {detail}") from None


def measure_prompts(city: CitySettings, prompts_dir: str | Path) -> dict[tuple[str, str], float]:
    """The duration of every prompt on the caller's path, from ``<prompts_dir>/<lang>/<key>.wav``
    (as ivr.prompts.build_prompts writes them)."""
    folder = Path(prompts_dir)
    return {(lang, key): audio_seconds(folder / lang / f"{key}.wav") for lang in city.languages for key in PATH_PROMPTS}


def check_built_prompts(city: CitySettings, prompts_dir: str | Path, source: str = "hotline.toml") -> str | None:
    """Once the prompts are built: the slow-silent-caller warning from their measured lengths."""
    return slow_silent_caller(city, caller_paths(city, measure_prompts(city, prompts_dir)), source)

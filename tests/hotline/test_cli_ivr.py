"""`hotline ivr paths` and the slow-silent-caller warning of `hotline prompts`, through typer's
CliRunner, on prompts really built (espeak-ng) and measured (sox)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config.settings import load_settings
from hotline.cli import app
from ivr.paths import caller_paths, measure_prompts

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "hotline.toml"


@pytest.fixture(autouse=True)
def no_hotline_environment(clean_env):
    """The CLI reads HOTLINE_* itself: each test sets what it means to."""


def invoke(*args: str, **env: str):
    return CliRunner().invoke(app, list(args), env=env)


def city_with(tmp_path: Path, **ivr: object) -> Path:
    """The shipped city file with some [ivr] keys set (written as TOML values)."""
    text = SHIPPED.read_text()
    for key, value in ivr.items():
        line = f"{key} = {value!r}".replace("'", '"')
        text, found = re.subn(rf"(?m)^{key} = .*$", line, text)
        if not found:
            text = text.replace("[ivr]\n", f"[ivr]\n{line}\n", 1)
    path = tmp_path / "city.toml"
    path.write_text(text)
    return path


def test_paths_of_the_shipped_city(tmp_path):
    prompts = tmp_path / "prompts"
    result = invoke("ivr", "paths", "--prompts", str(prompts), "--city", str(SHIPPED))
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # within the target: no warning
    city = load_settings(SHIPPED)
    paths = caller_paths(city, measure_prompts(city, prompts))  # the files the command built
    lines = result.stdout.splitlines()
    # Shipped human_first (BENCHMARKS.md "Answer time"): a free desk takes the caller at the answer.
    assert lines[0] == f"human_first, 1 attempt(s), languages vi, en, wait for a key {city.ivr.no_input_timeout_s:g} s; target 15 s"
    silent = next(line for line in lines if line.startswith("silent (no key)"))
    assert silent.split()[3:7] == ["0.0", "s", f"{paths.no_input_s:.1f}", "s"]  # a desk free; none free: the menu
    assert f"presses a menu key by {paths.latest_key_s:.1f} s" in result.stdout
    speech_after_s = city.ivr.speech_to_human_s + city.ivr.speech_silence_ms / 1000
    assert f"{speech_after_s:.1f} s after speech starts" in result.stdout
    rows = [line.split() for line in lines if line[:1].isdigit()]
    assert [(row[0], row[5], row[6]) for row in rows] == [("1", "vi", "menu"), ("1", "en", "menu"), ("1", "waiting", "for")]
    assert rows[-1][3:5] == [f"{paths.no_input_s:.1f}", "s"]
    assert all("general queue at once (invalid)" in " ".join(row) for row in rows)  # one attempt: a wrong key → a person


def test_paths_warn_when_a_silent_caller_misses_the_target(tmp_path):
    city = city_with(tmp_path, mode="menu_first", attempts=2, no_input_timeout_s=4.0)
    result = invoke("ivr", "paths", "--prompts", str(tmp_path / "prompts"), "--city", str(city))
    assert result.exit_code == 0, result.output  # a warning, not a failure
    assert result.stderr.startswith(f"warning: {city}: ivr: a silent caller is queued ")
    assert "later than the target of 15 s" in result.stderr
    for key in ("ivr.attempts (2", "prompts.vi.menu", "prompts.en.menu", "ivr.no_input_timeout_s (4.0 s × 2 = 8.0 s)"):
        assert key in result.stderr, key
    assert "'invalid', the menu again" in result.stdout  # attempt 1 of 2: a wrong key hears the menu again


def test_paths_in_human_first_with_a_desk_free(tmp_path):
    city = city_with(tmp_path, mode="human_first", attempts=2, no_input_timeout_s=4.0)
    result = invoke("ivr", "paths", "--prompts", str(tmp_path / "prompts"), "--city", str(city))
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # human_first: a free desk takes the caller before the menu
    silent = next(line for line in result.stdout.splitlines() if line.startswith("silent (no key)"))
    assert silent.split()[3:5] == ["0.0", "s"]
    assert "at the answer (no menu)" in result.stdout
    assert "The menu when no desk is free" in result.stdout


def test_paths_of_a_broken_city_file(tmp_path):
    city = city_with(tmp_path, attempts=9)
    result = invoke("ivr", "paths", "--prompts", str(tmp_path / "prompts"), "--city", str(city))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"hotline: {city}: ivr.attempts: ")


def test_building_the_prompts_warns_of_a_slow_silent_caller(tmp_path):
    city = city_with(tmp_path, mode="menu_first", attempts=3)
    result = invoke("prompts", "--out", str(tmp_path / "sounds"), HOTLINE_CITY_FILE=str(city))
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(f"prompt(s) made in {tmp_path / 'sounds'}\n")
    assert result.stderr.startswith(f"warning: {city}: ivr: a silent caller is queued ")
    assert "ivr.attempts (3" in result.stderr

    shipped = invoke("prompts", "--out", str(tmp_path / "shipped"), HOTLINE_CITY_FILE=str(SHIPPED))
    assert shipped.exit_code == 0 and shipped.stderr == "", shipped.output

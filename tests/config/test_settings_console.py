"""The optional [console] table of the city's data file, and HOTLINE_API_SECURE_COOKIES."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from config.settings import ConsoleSettings, RuntimeSettings, SettingsError, load_settings, parse_settings
from tests.replay import E2E_CITY

REPO = Path(__file__).resolve().parents[2]


def city_data(**tables):
    data = tomllib.loads(E2E_CITY.read_text())
    data.pop("console", None)
    data.update(tables)
    return data


def test_the_table_is_optional_with_defaults():
    city = parse_settings(city_data())
    assert city.console == ConsoleSettings()
    assert (city.console.session_idle_min, city.console.pause_reasons) == (30, ["break", "meal", "training", "meeting"])


def test_values_from_the_file():
    city = parse_settings(city_data(console={"session_idle_min": 5, "pause_reasons": ["nghỉ giải lao", "ăn trưa"]}))
    assert (city.console.session_idle_min, city.console.pause_reasons) == (5, ["nghỉ giải lao", "ăn trưa"])


def test_the_shipped_files_set_the_table():
    for path in (REPO / "hotline.toml", E2E_CITY):
        assert load_settings(path).console == ConsoleSettings()
        assert "[console]" in path.read_text()


@pytest.mark.parametrize(
    ("console", "expected"),
    [
        ({"session_idle_min": 0}, "console.session_idle_min: must be greater than or equal to 1, got 0"),
        ({"session_idle_min": 1000}, "console.session_idle_min: must be less than or equal to 720, got 1000"),
        ({"session_idle_min": "30"}, "console.session_idle_min: must be a valid integer, got '30'"),
        ({"pause_reasons": []}, "console.pause_reasons: must not be empty"),
        ({"pause_reasons": ["break", "break"]}, "console.pause_reasons: pause reasons must be listed once each, repeated: break"),
        ({"pause_reasons": ["break", "   "]}, "console.pause_reasons[1]: must not be empty"),
        ({"pause_reasons": ["x" * 41]}, "console.pause_reasons[0]: must be 1-40 printable characters"),
        ({"pause_reasons": ["a\nb"]}, "console.pause_reasons[0]: must be 1-40 printable characters"),
        ({"pause_reasons": "break"}, "console.pause_reasons: must be a valid list"),
        ({"idle_min": 30}, "console.idle_min: unknown key"),
    ],
)
def test_mistakes_name_the_key(console, expected):
    with pytest.raises(SettingsError) as error:
        parse_settings(city_data(console=console), "city.toml")
    assert f"city.toml: {expected}" in str(error.value), str(error.value)


def test_secure_cookies_from_the_environment(clean_env):
    assert RuntimeSettings.from_env().api_secure_cookies is False
    clean_env.setenv("HOTLINE_API_SECURE_COOKIES", "true")
    assert RuntimeSettings.from_env().api_secure_cookies is True
    clean_env.setenv("HOTLINE_API_SECURE_COOKIES", "maybe")
    with pytest.raises(SettingsError, match="^HOTLINE_API_SECURE_COOKIES: must be a valid boolean"):
        RuntimeSettings.from_env()

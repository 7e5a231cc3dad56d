"""The optional [callbacks] and [numbers] tables of the city's data file."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from config.settings import CallbackSettings, NumberSettings, SettingsError, load_settings, parse_settings
from tests.replay import E2E_CITY

REPO = Path(__file__).resolve().parents[2]


def city_data(**tables):
    data = tomllib.loads(E2E_CITY.read_text())
    data.pop("callbacks", None)
    data.pop("numbers", None)
    data.update(tables)
    return data


def test_both_tables_are_optional_with_defaults():
    city = parse_settings(city_data())
    assert city.callbacks == CallbackSettings()
    assert (city.callbacks.auto_dial, city.callbacks.retry_after_s, city.callbacks.max_attempts) == (False, 300, 3)
    assert city.numbers == NumberSettings()
    assert (city.numbers.repeat_window_s, city.numbers.short_call_s, city.numbers.nuisance_threshold) == (600, 10, 3.0)


def test_values_from_the_file():
    city = parse_settings(city_data(
        callbacks={"auto_dial": True, "retry_after_s": 120, "max_attempts": 5},
        numbers={"repeat_window_s": 900, "nuisance_threshold": 4, "lower_priority_by": 3}))
    assert (city.callbacks.auto_dial, city.callbacks.retry_after_s, city.callbacks.max_attempts) == (True, 120, 5)
    assert city.callbacks.desk_ring_s == 20  # unset keys keep their default
    assert (city.numbers.repeat_window_s, city.numbers.nuisance_threshold, city.numbers.lower_priority_by) == (900, 4.0, 3)


@pytest.mark.parametrize(("tables", "line"), [
    ({"callbacks": {"auto_dail": True}},
     "city.toml: callbacks.auto_dail: unknown key (check its spelling and the table it is in)"),
    ({"callbacks": {"max_attempts": 0}},
     "city.toml: callbacks.max_attempts: must be greater than or equal to 1, got 0"),
    ({"callbacks": {"retry_after_s": "300"}},
     "city.toml: callbacks.retry_after_s: must be a valid integer, got '300'"),
    ({"callbacks": {"auto_dial": "yes"}},
     "city.toml: callbacks.auto_dial: must be a valid boolean, got 'yes'"),
    ({"numbers": {"repeat_window_s": 100_000}},
     "city.toml: numbers.repeat_window_s: must be less than or equal to 86400, got 100000"),
    ({"numbers": {"lower_priority_by": 10}},
     "city.toml: numbers.lower_priority_by: must be less than or equal to 9, got 10"),
    ({"numbers": {"block_after": 3}},
     "city.toml: numbers.block_after: unknown key (check its spelling and the table it is in)"),
])
def test_mistakes_name_their_key(tables, line):
    with pytest.raises(SettingsError) as error:
        parse_settings(city_data(**tables), "city.toml")
    assert line in str(error.value).splitlines()


def test_the_shipped_city_file_sets_both_tables_to_their_defaults():
    text = (REPO / "hotline.toml").read_text()
    assert "[callbacks]" in text and "[numbers]" in text
    city = load_settings(REPO / "hotline.toml")
    assert city.callbacks == CallbackSettings()
    assert city.numbers == NumberSettings()

"""The [supervision.alerts] table: two levels per threshold, critical stricter than warning, errors
naming the key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from config.settings import AlertAbove, AlertBelow, AlertSettings, SettingsError, load_settings, parse_settings
from queueing.states import AlertLevel
from tests.replay import E2E_CITY

REPO = Path(__file__).resolve().parents[2]


def city_data(alerts):
    data = tomllib.loads(E2E_CITY.read_text())
    data.setdefault("supervision", {})["alerts"] = alerts
    return data


def test_the_defaults_suit_an_emergency_centre():
    alerts = parse_settings(city_data({})).supervision.alerts
    assert alerts == AlertSettings()
    assert alerts.longest_wait_s == AlertAbove(warning=20, critical=60)
    assert alerts.service_level_percent == AlertBelow(warning=90, critical=80)
    assert alerts.fallback_callers == AlertAbove(critical=1)  # one caller there is degraded service
    assert alerts.no_desk_level == "critical"
    assert alerts.repeat_critical_s == 30


def test_the_shipped_city_file_documents_every_key():
    text = (REPO / "hotline.toml").read_text()
    assert "[supervision.alerts]" in text
    for key in AlertSettings.model_fields:
        assert f"\n{key} = " in text, key
    assert load_settings(REPO / "hotline.toml").supervision.alerts == AlertSettings()


def test_values_from_the_file_and_a_level_left_out():
    alerts = parse_settings(city_data({"longest_wait_s": {"critical": 30}, "no_desk_level": "warning",
                                       "service_level_percent": {"warning": 95}})).supervision.alerts
    assert alerts.longest_wait_s == AlertAbove(critical=30)
    assert alerts.service_level_percent == AlertBelow(warning=95)
    assert alerts.no_desk_level == "warning"


def test_the_no_desk_level_speaks_the_alert_vocabulary():
    levels = set(AlertSettings.model_fields["no_desk_level"].annotation.__args__)
    assert levels - {"off"} == set(AlertLevel)


@pytest.mark.parametrize(
    ("alerts", "expected"),
    [
        ({"longest_wait_s": {"warning": 60, "critical": 20}},
         "supervision.alerts.longest_wait_s.critical: must be higher than warning (60), got 20"),
        ({"desk_paused_s": {"warning": 900, "critical": 900}},
         "supervision.alerts.desk_paused_s.critical: must be higher than warning (900), got 900"),
        ({"service_level_percent": {"warning": 80, "critical": 90}},
         "supervision.alerts.service_level_percent.critical: must be lower than warning (80.0), got 90.0"),
        ({"abandons_15min": {}}, "supervision.alerts.abandons_15min.warning: set warning, critical or both"),
        ({"fallback_callers": {"critical": 0}},
         "supervision.alerts.fallback_callers.critical: must be greater than or equal to 1, got 0"),
        ({"service_level_percent": {"warning": 101}},
         "supervision.alerts.service_level_percent.warning: must be less than or equal to 100, got 101"),
        ({"no_desk_level": "loud"}, "supervision.alerts.no_desk_level: must be 'warning', 'critical' or 'off', got 'loud'"),
        ({"repeat_critical_s": 1}, "supervision.alerts.repeat_critical_s: must be greater than or equal to 5, got 1"),
        ({"longest_wait": {"warning": 5}}, "supervision.alerts.longest_wait: unknown key"),
        ({"broken_recordings": {"warning": 1, "loud": True}}, "supervision.alerts.broken_recordings.loud: unknown key"),
    ],
)
def test_mistakes_name_the_key(alerts, expected):
    with pytest.raises(SettingsError) as error:
        parse_settings(city_data(alerts), "city.toml")
    assert f"city.toml: {expected}" in str(error.value), str(error.value)

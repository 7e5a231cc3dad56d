"""config.settings: the city's data file is checked at start, every mistake named by its key path."""

import tomllib
from pathlib import Path

import pytest
from pydantic import ValidationError

from config.settings import (
    GENERAL_QUEUE,
    PROMPT_KEYS,
    CitySettings,
    RuntimeSettings,
    SettingsError,
    format_loc,
    load_settings,
    parse_settings,
)

REPO = Path(__file__).resolve().parents[2]

CITY = """
[hotline]
number = "112"
languages = ["vi", "en"]

[ivr]
no_input_timeout_s = 5.0
attempts = 2
general_priority = 0

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

[[agencies]]
id = "fire"
digit = "2"
priority = 1
label = "FIRE"
name = { vi = "Cứu hỏa", en = "Fire" }

[[agencies]]
id = "medical"
digit = "3"
priority = 2
label = "AMBULANCE"
name = { vi = "Cấp cứu", en = "Ambulance" }

[prompts.vi]
menu = "Công an bấm 1. Cứu hỏa bấm 2. Cấp cứu bấm 3."
invalid = "Phím không đúng."
no_input = "Chưa nhận được phím."
stay_on_line = "Xin giữ máy."
connecting_general = "Đang chuyển máy."

[prompts.en]
menu = "Police, press 1. Fire, press 2. Ambulance, press 3."
invalid = "That key is not on the menu."
no_input = "We did not hear a key."
stay_on_line = "Please stay on the line."
connecting_general = "Connecting you to an operator."

[[desks]]
id = "desk-101"
agency = "police"

[[desks]]
id = "desk-201"
agency = "fire"

[[desks]]
id = "desk-301"
agency = "medical"
"""


def city_data() -> dict:
    return tomllib.loads(CITY)


def changed(path: str, value=..., *, drop: bool = False):
    """A mutation of the valid city: set (or drop) the key at a dotted path like 'agencies.1.digit'."""

    def mutate(data: dict) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node = data
        for part in parents:
            node = node[part]
        if drop:
            del node[last]
        else:
            node[last] = value

    return mutate


# --- the valid files -------------------------------------------------------------------


def test_the_valid_city_loads(tmp_path):
    path = tmp_path / "hotline.toml"
    path.write_text(CITY, encoding="utf-8")
    city = load_settings(path)

    assert city.hotline.number == "112"
    assert city.languages == ["vi", "en"]
    assert [(a.id, a.digit, a.priority) for a in city.agencies] == [("police", "1", 1), ("fire", "2", 1), ("medical", "3", 2)]
    assert city.queues == [GENERAL_QUEUE, "police", "fire", "medical"]
    assert city.agency("fire").label == "FIRE"
    assert [d.id for d in city.desks_of("police")] == ["desk-101"]
    assert city.prompt("en", "stay_on_line") == "Please stay on the line."
    assert city.tts.speed_wpm == 150 and city.tts.voice_for("vi") == "vi"


def test_the_real_hotline_toml_loads():
    city = load_settings(REPO / "hotline.toml")

    assert city.hotline.languages[0] == "vi"
    assert {a.digit for a in city.agencies} == {"1", "2", "3", "4"}
    assert {a.id for a in city.agencies} <= set(city.queues)
    for lang in city.languages:
        for key in PROMPT_KEYS:
            assert city.prompt(lang, key)
    for agency in city.agencies:
        assert city.desks_of(agency.id), f"nobody answers {agency.id}"


def test_a_bare_integer_digit_is_taken_as_the_digit():
    city = parse_settings(_apply(changed("agencies.0.digit", 1)))
    assert city.agencies[0].digit == "1"


def test_settings_are_frozen():
    city = parse_settings(city_data())
    with pytest.raises(ValidationError, match="frozen"):
        city.ivr.attempts = 9


# --- every mistake is named by its key path ------------------------------------------------


def _apply(*mutations) -> dict:
    data = city_data()
    for mutate in mutations:
        mutate(data)
    return data


def _without_language(lang: str):
    def mutate(data: dict) -> None:
        data["prompts"].pop(lang)

    return mutate


def _menu_without(lang: str, digit: str):
    def mutate(data: dict) -> None:
        data["prompts"][lang]["menu"] = data["prompts"][lang]["menu"].replace(digit, "")

    return mutate


BAD = [
    # [hotline]
    ("number with letters", changed("hotline.number", "11a"), "hotline.number: must be digits only, like \"112\", got '11a'"),
    ("number unquoted", changed("hotline.number", 112), "hotline.number: must be a valid string, got 112"),
    ("no languages", changed("hotline.languages", []), "hotline.languages: must not be empty"),
    ("repeated language", changed("hotline.languages", ["vi", "vi"]), "hotline.languages: languages must be listed once each, repeated: vi"),
    ("language code", changed("hotline.languages", ["vi", "EN"]), "hotline.languages[1]: must be a 2-3 letter lowercase language code"),
    ("misspelt key", changed("hotline.nmber", "113"), "hotline.nmber: unknown key"),
    ("unknown table", changed("ivrr", {}), "ivrr: unknown key"),
    ("missing table", changed("ivr", drop=True), "ivr: required key is missing"),
    # [ivr]
    ("timeout too short", changed("ivr.no_input_timeout_s", 0.5), "ivr.no_input_timeout_s: must be greater than or equal to 1, got 0.5"),
    ("timeout too long", changed("ivr.no_input_timeout_s", 31), "ivr.no_input_timeout_s: must be less than or equal to 30, got 31"),
    ("timeout as text", changed("ivr.no_input_timeout_s", "5"), "ivr.no_input_timeout_s: must be a valid number, got '5'"),
    ("no attempts", changed("ivr.attempts", 0), "ivr.attempts: must be greater than or equal to 1, got 0"),
    ("too many attempts", changed("ivr.attempts", 6), "ivr.attempts: must be less than or equal to 5, got 6"),
    ("attempts as a float", changed("ivr.attempts", 2.5), "ivr.attempts: must be a valid integer, got 2.5"),
    ("general priority", changed("ivr.general_priority", 10), "ivr.general_priority: must be less than or equal to 9, got 10"),
    ("speech energy zero", changed("ivr.speech_energy", 0), "ivr.speech_energy: must be greater than or equal to 1, got 0"),
    ("speech energy too high", changed("ivr.speech_energy", 40000),
     "ivr.speech_energy: must be less than or equal to 32768, got 40000"),
    ("speech silence too short", changed("ivr.speech_silence_ms", 50),
     "ivr.speech_silence_ms: must be greater than or equal to 100, got 50"),
    ("speech silence as text", changed("ivr.speech_silence_ms", "500"), "ivr.speech_silence_ms: must be a valid integer, got '500'"),
    # [queueing]
    ("ring timeout", changed("queueing.ring_timeout_s", 0), "queueing.ring_timeout_s: must be greater than or equal to 5, got 0"),
    ("missing ring timeout", changed("queueing.ring_timeout_s", drop=True), "queueing.ring_timeout_s: required key is missing"),
    ("negative wrap-up", changed("queueing.wrap_up_s", -1), "queueing.wrap_up_s: must be greater than or equal to 0, got -1"),
    ("pause after no misses", changed("queueing.missed_calls_before_pause", 0), "queueing.missed_calls_before_pause: must be greater than or equal to 1"),
    ("heartbeat stale too soon", changed("queueing.bridge_heartbeat_stale_s", 1), "queueing.bridge_heartbeat_stale_s: must be greater than or equal to 2, got 1"),
    ("announce too often", changed("queueing.announce_interval_s", 2), "queueing.announce_interval_s: must be greater than or equal to 5, got 2"),
    # [[agencies]]
    ("two-digit digit", changed("agencies.1.digit", "11"), "hotline.toml: agencies[1].digit: must be one digit 1-9, got '11'"),
    ("digit zero", changed("agencies.1.digit", "0"), "agencies[1].digit: must be one digit 1-9, got '0'"),
    ("star digit", changed("agencies.2.digit", "*"), "agencies[2].digit: must be one digit 1-9, got '*'"),
    ("repeated digit", changed("agencies.1.digit", "1"), "agencies[1].digit: digit '1' is already used by agency 'police' (agencies[0])"),
    ("repeated id", changed("agencies.2.id", "police"), "agencies[2].id: 'police' is already the id of agencies[0]"),
    ("reserved id", changed("agencies.1.id", "general"), "agencies[1].id: 'general' is reserved"),
    ("uppercase id", changed("agencies.1.id", "Fire"), "agencies[1].id: must be lowercase letters, digits or '_', starting with a letter"),
    ("negative priority", changed("agencies.1.priority", -1), "agencies[1].priority: must be greater than or equal to 0, got -1"),
    ("label too long", changed("agencies.1.label", "FIRE AND RESCUE!"), "agencies[1].label: must be 1-15 plain ASCII characters"),
    ("label not ASCII", changed("agencies.1.label", "CỨU HỎA"), "agencies[1].label: must be 1-15 plain ASCII characters"),
    ("label with a quote", changed("agencies.0.label", 'POLICE"'), "agencies[0].label: must be 1-15 plain ASCII characters"),
    ("name missing a language", changed("agencies.1.name", {"vi": "Cứu hỏa"}), "agencies[1].name.en: missing"),
    ("name in an unknown language", changed("agencies.1.name.fr", "Pompiers"), "agencies[1].name.fr: 'fr' is not in hotline.languages"),
    ("blank name", changed("agencies.1.name.vi", "  "), "agencies[1].name.vi: must not be empty"),
    ("unknown agency key", changed("agencies.1.colour", "red"), "agencies[1].colour: unknown key"),
    ("no agencies", changed("agencies", []), "agencies: must not be empty"),
    # [prompts.*]
    ("language without prompts", _without_language("en"), "prompts.en: missing"),
    ("prompt key missing", changed("prompts.en.stay_on_line", drop=True), "prompts.en.stay_on_line: required key is missing"),
    ("blank prompt", changed("prompts.vi.invalid", ""), "prompts.vi.invalid: must not be empty"),
    ("unknown prompt key", changed("prompts.en.welcome", "Hello"), "prompts.en.welcome: unknown key"),
    ("position template without {n}", changed("prompts.en.position", "You are next."), 'prompts.en.position: must contain "{n}"'),
    ("wait template without {minutes}", changed("prompts.vi.expected_wait", "Chờ nhé."), 'prompts.vi.expected_wait: must contain "{minutes}"'),
    ("prompts for an unknown language", changed("prompts.fr", dict(tomllib.loads(CITY)["prompts"]["en"])), "prompts.fr: 'fr' is not in hotline.languages"),
    ("menu never offers a digit", _menu_without("en", "3"), "prompts.en.menu: does not mention digit 3 (agency 'medical')"),
    # [[desks]]
    ("repeated desk", changed("desks.2.id", "desk-101"), "desks[2].id: 'desk-101' is already the id of desks[0]"),
    ("desk id not a SIP user", changed("desks.1.id", "Desk 1"), "desks[1].id: must be lowercase letters, digits or '-'"),
    ("desk of an unknown agency", changed("desks.1.agency", "army"), "desks[1].agency: no agency has id 'army'"),
    ("agency without a desk", changed("desks.2.agency", "fire"), "agencies[2].id: no desk serves agency 'medical'"),
    ("no desks", changed("desks", []), "desks: must not be empty"),
    # [tts]
    ("speech too slow", changed("tts", {"speed_wpm": 20}), "tts.speed_wpm: must be greater than or equal to 80, got 20"),
    ("voice for an unknown language", changed("tts", {"voices": {"fr": "fr"}}), "tts.voices.fr: 'fr' is not in hotline.languages"),
    ("voice name", changed("tts", {"voices": {"en": "en us"}}), "tts.voices.en: must be an espeak-ng voice name"),
    # [supervision]
    ("service level over 100 %", changed("supervision", {"service_levels": [{"within_s": 10, "percent": 101}]}),
     "supervision.service_levels[0].percent: must be less than or equal to 100, got 101"),
    ("service level without seconds", changed("supervision", {"service_levels": [{"percent": 90}]}),
     "supervision.service_levels[0].within_s: required key is missing"),
    ("two targets of the same seconds", changed("supervision", {"service_levels": [{"within_s": 10, "percent": 90},
                                                                                  {"within_s": 10, "percent": 95}]}),
     "supervision.service_levels: service levels must each have their own within_s"),
    ("short abandon as text", changed("supervision", {"short_abandon_s": "5"}), "supervision.short_abandon_s: must be a valid integer"),
    ("shift start not HH:MM", changed("supervision", {"shift_starts": ["07:00", "7pm"]}),
     "supervision.shift_starts[1]: must be a local time like \"07:00\", got '7pm'"),
    ("unknown supervision key", changed("supervision", {"service_level": []}), "supervision.service_level: unknown key"),
]


@pytest.mark.parametrize(("mutate", "expected"), [row[1:] for row in BAD], ids=[row[0] for row in BAD])
def test_bad_city_names_the_key(mutate, expected):
    with pytest.raises(SettingsError) as caught:
        parse_settings(_apply(mutate), "hotline.toml")
    assert expected in str(caught.value)
    path = expected.removeprefix("hotline.toml: ").split(": ")[0]
    assert any(issue.startswith(f"{path}: ") for issue in caught.value.issues), caught.value.issues


def test_the_example_message_is_exact(tmp_path):
    text = CITY.replace('id = "fire"\ndigit = "2"', 'id = "fire"\ndigit = "11"')
    path = tmp_path / "hotline.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert str(caught.value) == f"{path}: agencies[1].digit: must be one digit 1-9, got '11'"


def test_every_mistake_is_reported_at_once():
    data = _apply(changed("hotline.number", "x"), changed("ivr.attempts", 0), changed("agencies.1.digit", "0"))
    with pytest.raises(SettingsError) as caught:
        parse_settings(data, "city.toml")
    lines = str(caught.value).splitlines()
    assert [line.split(": ")[1] for line in lines] == ["hotline.number", "ivr.attempts", "agencies[1].digit"]
    assert all(line.startswith("city.toml: ") for line in lines)


def test_cross_checks_report_every_problem():
    data = _apply(changed("agencies.1.digit", "1"), changed("desks.0.agency", "army"))
    with pytest.raises(SettingsError) as caught:
        parse_settings(data)
    assert caught.value.issues == [
        "agencies[1].digit: digit '1' is already used by agency 'police' (agencies[0])",
        "desks[0].agency: no agency has id 'army' (agencies: police, fire, medical)",
        "agencies[0].id: no desk serves agency 'police': add a [[desks]] entry with agency = \"police\"",
    ]


def test_direct_model_validation_also_cross_checks():
    with pytest.raises(ValueError, match=r"agencies\[1\]\.digit"):
        CitySettings.model_validate(_apply(changed("agencies.1.digit", "1")))


@pytest.mark.parametrize(
    ("loc", "text"),
    [(("agencies", 1, "digit"), "agencies[1].digit"), (("prompts", "vi", "menu"), "prompts.vi.menu"), (("desks", 0), "desks[0]"), ((), "(top level)")],
)
def test_format_loc(loc, text):
    assert format_loc(loc) == text


# --- files that are not a city ------------------------------------------------------------


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.toml"
    with pytest.raises(SettingsError, match=r"nowhere\.toml: no such file .*HOTLINE_CITY_FILE"):
        load_settings(path)


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(SettingsError, match="is a directory"):
        load_settings(tmp_path)


def test_toml_syntax_error_gives_the_line(tmp_path):
    path = tmp_path / "hotline.toml"
    path.write_text(CITY.replace('attempts = 2', 'attempts = '), encoding="utf-8")
    with pytest.raises(SettingsError, match=r"hotline\.toml: not valid TOML: .*line 8"):
        load_settings(path)


def test_not_utf8(tmp_path):
    path = tmp_path / "hotline.toml"
    path.write_bytes(CITY.replace("Công an", "C\xf4ng an").encode("latin-1", "replace"))
    with pytest.raises(SettingsError, match="not UTF-8"):
        load_settings(path)


# --- runtime settings ----------------------------------------------------------------------


def test_runtime_defaults(clean_env):
    runtime = RuntimeSettings.from_env()
    assert runtime.city_file == Path("hotline.toml")
    assert runtime.redis_url.startswith("redis://")
    assert (runtime.ami_port, runtime.agi_port) == (5038, 4573)
    assert runtime.ami_secret is None


def test_runtime_from_environment(clean_env):
    clean_env.setenv("HOTLINE_REDIS_URL", "redis://redis.internal:6380/2")
    clean_env.setenv("HOTLINE_AMI_SECRET", "s3cret")
    clean_env.setenv("HOTLINE_API_PORT", "9000")
    clean_env.setenv("HOTLINE_CITY_FILE", "/etc/hotline/hanoi.toml")
    runtime = RuntimeSettings.from_env()
    assert runtime.redis_url == "redis://redis.internal:6380/2"
    assert runtime.api_port == 9000
    assert runtime.city_file == Path("/etc/hotline/hanoi.toml")
    assert runtime.require_ami_secret() == "s3cret"
    assert "s3cret" not in repr(runtime)


@pytest.mark.parametrize("secret", [None, ""])
def test_missing_ami_secret_names_the_variable(clean_env, secret):
    if secret is not None:
        clean_env.setenv("HOTLINE_AMI_SECRET", secret)
    runtime = RuntimeSettings.from_env()
    with pytest.raises(SettingsError, match=r"^HOTLINE_AMI_SECRET is not set"):
        runtime.require_ami_secret()


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("HOTLINE_AMI_PORT", "abc", "HOTLINE_AMI_PORT: must be a valid integer"),
        ("HOTLINE_AGI_PORT", "70000", "HOTLINE_AGI_PORT: must be less than or equal to 65535"),
        ("HOTLINE_REDIS_URL", "localhost:6379", "HOTLINE_REDIS_URL: must start with redis://"),
        ("HOTLINE_API_AUTH", "no", "HOTLINE_API_AUTH: must be 'on' or 'off', got 'no'"),
    ],
)
def test_bad_runtime_value_names_the_variable(clean_env, name, value, expected):
    clean_env.setenv(name, value)
    with pytest.raises(SettingsError, match=expected):
        RuntimeSettings.from_env()


def test_announcement_templates_become_one_prompt_per_place_and_minute():
    from config.settings import MAX_ANNOUNCED_POSITION, MAX_ANNOUNCED_WAIT_MIN, parse_settings

    data = tomllib.loads(CITY)
    data["prompts"]["en"]["position"] = "You are number {n} in line."
    data["prompts"]["en"]["expected_wait"] = "About {minutes} minutes."
    city = parse_settings(data)
    en, vi = city.prompt_texts("en"), city.prompt_texts("vi")
    assert en["position_3"] == "You are number 3 in line."
    assert en["wait_12"] == "About 12 minutes."
    assert len(en) == len(PROMPT_KEYS) + MAX_ANNOUNCED_POSITION + MAX_ANNOUNCED_WAIT_MIN
    assert set(vi) == set(PROMPT_KEYS)  # no templates for vi: stay_on_line only


def test_supervision_defaults_to_nena_and_takes_nfpa_in_one_edit():
    city = parse_settings(_apply(), "hotline.toml")  # the test city has no [supervision]
    assert city.supervision.service_levels is None
    assert city.supervision.targets == ((15, 90.0), (20, 95.0))
    assert (city.supervision.short_abandon_s, city.supervision.shift_starts) == (5, ["07:00", "19:00"])
    nfpa = parse_settings(_apply(changed("supervision", {"service_levels": [{"within_s": 10, "percent": 90}]})), "hotline.toml")
    assert nfpa.supervision.targets == ((10, 90.0),)

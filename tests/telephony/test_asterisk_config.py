"""telephony.asterisk_config: the Asterisk files rendered for a city and a site."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

from config.settings import load_settings
from ivr.early_keys import KEY_LOG_LIMIT
from telephony.asterisk_config import (
    INCLUDABLE,
    STATIC_INSTANCE_FILES,
    TEMPLATES,
    AsteriskConfigError,
    AsteriskSite,
    render,
    render_template,
    write,
)
from telephony.ivr_call import KEY_LOG_VARIABLE
from tests.replay import E2E_CITY

ROOT = Path(__file__).resolve().parents[2]
CITIES = {"e2e": load_settings(E2E_CITY), "hotline": load_settings(ROOT / "hotline.toml")}


def site_for(city, **overrides) -> AsteriskSite:
    values = dict(
        sip_port=5070, sip_bind="127.0.0.2", ami_bind="127.0.0.3", ami_port=5039, ami_user="bridge",
        ami_secret="s3cr3t-ami", agi_host="10.1.2.3", agi_port=4599, citizens_match="192.0.2.10",
        desk_passwords={d.id: f"pw-{d.id}-x9" for d in city.desks},
    )
    values.update(overrides)
    return AsteriskSite(**values)


def sections(text: str) -> list[tuple[str, dict[str, str]]]:
    """Asterisk .conf sections in order (a name may repeat, as in pjsip.conf)."""
    out: list[tuple[str, dict[str, str]]] = []
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if m := re.fullmatch(r"\[([^\]]+)\].*", line):
            out.append((m.group(1), {}))
        elif (m := re.fullmatch(r"([^=\s]+)\s*=>?\s*(.*)", line)) and out:
            out[-1][1].setdefault(m.group(1), m.group(2))
    return out


@pytest.fixture(params=sorted(CITIES))
def city(request):
    return CITIES[request.param]


def test_every_desk_has_endpoint_auth_and_aor_with_its_password(city):
    files = render(city, site_for(city))
    pjsip = sections(files["pjsip.conf"])
    for d in city.desks:
        own = {body["type"]: body for name, body in pjsip if name == d.id}
        assert set(own) == {"endpoint", "auth", "aor"}, d.id
        assert own["endpoint"]["auth"] == d.id
        assert own["endpoint"]["aors"] == d.id
        assert own["endpoint"]["context"] == "hotline-desk"
        assert own["auth"]["username"] == d.id
        assert own["auth"]["password"] == f"pw-{d.id}-x9"
        assert own["aor"]["max_contacts"] == "1"
    assert f"; agency: {city.desks[0].agency}" in files["pjsip.conf"]


def test_sip_transport_and_citizens_trunk(city):
    pjsip = sections(render(city, site_for(city))["pjsip.conf"])
    transport = dict(pjsip)["transport-udp"]
    assert transport["bind"] == "127.0.0.2:5070"
    citizens = {body["type"]: body for name, body in pjsip if name == "citizens"}
    assert citizens["endpoint"]["context"] == "hotline-inbound"
    assert citizens["identify"]["match"] == "192.0.2.10"


def test_fallback_queue_has_every_desk_as_a_member(city):
    queues = render(city, site_for(city))["queues.conf"]
    members = re.findall(r"^member => (\S+)$", queues, re.M)
    assert members == [f"PJSIP/{d.id}" for d in city.desks]
    fallback = dict(sections(queues))["hotline-fallback"]
    assert fallback["timeout"] == str(city.queueing.ring_timeout_s)
    assert fallback["wrapuptime"] == str(city.queueing.wrap_up_s)
    assert fallback["ringinuse"] == "no"


def test_no_placeholder_is_left_in_any_file(city):
    files = render(city, site_for(city))
    for name, text in files.items():
        assert "{{" not in text and "}}" not in text, name


def test_dialplan_has_the_number_the_agi_url_and_the_timers(city):
    ext = render(city, site_for(city))["extensions.conf"]
    assert f"exten => {city.hotline.number},1,NoOp(" in ext
    assert f"Goto(hotline-inbound,{city.hotline.number},1)" in ext
    globals_ = dict(sections(ext))["globals"]
    assert globals_["HOTLINE_AGI"] == "agi://10.1.2.3:4599"
    assert globals_["HOTLINE_RING_TIMEOUT"] == str(city.queueing.ring_timeout_s)
    assert globals_["HOTLINE_HEARTBEAT_STALE"] == str(city.queueing.bridge_heartbeat_stale_s)
    assert globals_["HOTLINE_ANNOUNCE_INTERVAL"] == str(city.queueing.announce_interval_s)
    assert globals_["HOTLINE_FIRST_LANGUAGE"] == city.hotline.languages[0]
    # the route the bridge serves (Bridge registers {"ivr": IvrCall})
    assert "AGI(${HOTLINE_AGI}/ivr)" in ext


def test_manager_binds_to_the_given_address_with_the_secret(city):
    manager = sections(render(city, site_for(city))["manager.conf"])
    general = dict(manager)["general"]
    assert (general["enabled"], general["bindaddr"], general["port"]) == ("yes", "127.0.0.3", "5039")
    user = dict(manager)["bridge"]
    assert user["secret"] == "s3cr3t-ami"
    assert user["deny"] == "0.0.0.0/0.0.0.0"
    assert user["permit"] == "127.0.0.1/255.255.255.255"
    # what the bridge needs: UserEvents and channel lists in; Redirect, Getvar, DBPut out
    assert {"user", "call", "system", "reporting"} <= set(user["read"].split(","))
    assert {"call", "system"} <= set(user["write"].split(","))


def test_full_instance_files(city, tmp_path):
    site = site_for(city, etc_dir=str(tmp_path / "etc"), state_dir=str(tmp_path / "state"), system_name="lab-1")
    files = render(city, site)
    assert set(files) == {*INCLUDABLE, "asterisk.conf", "rtp.conf", "logger.conf", *STATIC_INSTANCE_FILES}
    asterisk = dict(sections(files["asterisk.conf"]))
    assert asterisk["directories"]["astetcdir"] == str(tmp_path / "etc")
    assert asterisk["directories"]["astdbdir"] == str(tmp_path / "state") + "/db"
    assert asterisk["options"]["systemname"] == "lab-1"
    assert dict(sections(files["rtp.conf"]))["general"] == {"rtpstart": "10000", "rtpend": "20000"}
    assert files["modules.conf"] == TEMPLATES.joinpath("modules.conf").read_text()
    assert "verbose(1)" in files["logger.conf"]
    assert "verbose(3)" in render(city, site_for(city, log_verbosity=3))["logger.conf"]


def test_existing_installation_gets_only_the_includable_files(city):
    files = render(city, site_for(city), full_instance=False)
    assert set(files) == set(INCLUDABLE)
    assert "asterisk.conf" not in files and "modules.conf" not in files


def test_write(city, tmp_path):
    files = render(city, site_for(city), full_instance=False)
    written = write(files, tmp_path / "out")
    assert sorted(p.name for p in written) == sorted(files)
    for path in written:
        assert path.read_text() == files[path.name]


@pytest.mark.parametrize("secret", ["", None])
def test_empty_ami_secret_is_refused(city, secret):
    site = site_for(city, ami_secret=secret or "")
    with pytest.raises(AsteriskConfigError, match="ami_secret") as caught:
        render(city, site)
    assert "HOTLINE_AMI_SECRET" in str(caught.value)


def test_missing_desk_password_names_the_desk(city):
    passwords = {d.id: "pw" for d in city.desks}
    del passwords[city.desks[-1].id]
    passwords[city.desks[0].id] = ""
    with pytest.raises(AsteriskConfigError) as caught:
        render(city, site_for(city, desk_passwords=passwords))
    message = str(caught.value)
    assert message == f"desk_passwords: no SIP password for {city.desks[0].id}, {city.desks[-1].id}"


def test_render_template_names_the_file_and_the_missing_placeholders():
    with pytest.raises(AsteriskConfigError) as caught:
        render_template("queues.conf.tmpl", "a={{ring_timeout_s}} b={{ringtone}} c={{agent}}", {"ring_timeout_s": 5})
    assert str(caught.value) == "queues.conf.tmpl: no value for agent, ringtone"


def test_render_template_leaves_asterisk_variables_alone():
    text = "exten => {{number}},1,Set(X=${EXTEN}) ; $[${A} + 1] {not}"
    assert render_template("t", text, {"number": "112"}) == "exten => 112,1,Set(X=${EXTEN}) ; $[${A} + 1] {not}"


def test_a_value_that_looks_like_a_placeholder_is_not_rendered_again():
    assert render_template("t", "{{a}} {{b}}", {"a": "{{b}}", "b": "x"}) == "{{b}} x"


# --- modules.conf loads what the dialplan uses --------------------------------------------------

# Applications built into Asterisk's core (pbx.c, pbx_builtins.c): no module to load.
CORE_APPS = {"NoOp", "Answer", "Set", "GotoIf", "Goto", "Wait", "Hangup", "Bridge"}  # Bridge: builtin (main/features.c)
APP_MODULES = {
    "Dial": "app_dial", "Playback": "app_playback", "Queue": "app_queue", "AGI": "res_agi",
    "UserEvent": "app_userevent", "MusicOnHold": "res_musiconhold", "StartMusicOnHold": "res_musiconhold",
    "StopMusicOnHold": "res_musiconhold", "Gosub": "app_stack", "Return": "app_stack", "ExecIf": "app_exec",
    "ConfBridge": "app_confbridge", "ConfKick": "app_confbridge", "ChanSpy": "app_chanspy",
    "StoreDTMF": "app_dtmfstore",
}
FUNCTION_MODULES = {
    "CALLERID": "func_callerid", "CHANNEL": "func_channel", "DB": "func_db", "DEVICE_STATE": "func_devstate",
    "IF": "func_logic", "IMPORT": "func_logic", "LEN": "func_strings", "MATH": "func_math",
    "IFMODULE": "func_module",
}
DIALPLAN = TEMPLATES.joinpath("extensions.conf.tmpl").read_text()
LOADED = set(re.findall(r"^load\s*=>?\s*(\w+)\.so", TEMPLATES.joinpath("modules.conf").read_text(), re.M))


def dialplan_apps() -> set[str]:
    apps = set()
    for line in DIALPLAN.splitlines():
        line = line.split(";", 1)[0]
        if m := re.match(r"\s*exten\s*=>\s*[^,]+,[^,]+,(\w+)\(", line):
            apps.add(m.group(1))
        elif m := re.match(r"\s*same\s*=>\s*[^,]+,(\w+)\(", line):
            apps.add(m.group(1))
        # the application an ExecIf runs (its condition ends at "]?")
        apps.update(re.findall(r"ExecIf\(\$\[.*?\]\?(\w+)\(", line))
    # Dial's U(context^…) option runs a Gosub on the desk's channel
    if re.search(r"Dial\([^)]*,[a-zA-Z]*U\(", DIALPLAN):
        apps.add("Gosub")
    return apps


def test_dialplan_parser_sees_the_applications():
    apps = dialplan_apps()
    assert {"Dial", "Playback", "Queue", "AGI", "UserEvent", "StartMusicOnHold", "StopMusicOnHold",
            "Gosub", "Return", "NoOp", "Hangup", "StoreDTMF"} <= apps


def test_the_callers_keys_are_logged_from_before_the_answer(city):
    """No key is lost (issue 11): StoreDTMF logs every key before Answer() and the AGI run;
    the IVR reads that variable, with the same limit; guarded, as a missing application
    would hang the caller up."""
    ext = render(city, site_for(city))["extensions.conf"]
    inbound = ext.split("[hotline-inbound]", 1)[1].split("\n[", 1)[0]
    steps = [line.split(";", 1)[0] for line in inbound.splitlines() if "same =>" in line.split(";", 1)[0]]
    store = next(i for i, line in enumerate(steps) if "StoreDTMF(" in line)
    answer = next(i for i, line in enumerate(steps) if "Answer()" in line)
    first_agi = next(i for i, line in enumerate(steps) if "AGI(" in line)
    assert store < answer < first_agi
    assert (f"ExecIf($[${{IFMODULE(app_dtmfstore.so)}}]?StoreDTMF(RX,{KEY_LOG_VARIABLE},{KEY_LOG_LIMIT}))"
            in steps[store])


def test_talk_detection_is_on_in_the_menu_only(city):
    """A caller who speaks in the menu reaches a person (issue 11): TALK_DETECT with the city's
    thresholds before the IVR's AGI, off in every context the caller goes to after the menu
    (so desk conversations raise no events), the AMI user reading its events; none when
    [ivr] speech_to_human_s is 0."""
    files = render(city, site_for(city))
    ext = files["extensions.conf"]
    assert dict(sections(ext))["globals"]["HOTLINE_TALK_DETECT"] == f"{city.ivr.speech_silence_ms},{city.ivr.speech_energy}"
    inbound = [line.split(";", 1)[0] for line in ext.split("[hotline-inbound]", 1)[1].split("\n[", 1)[0].splitlines()]
    talk_on = next(i for i, line in enumerate(inbound) if "Gosub(hotline-talk-on,s,1)" in line)
    assert "IFMODULE(func_talkdetect.so)" in inbound[talk_on]
    assert talk_on < next(i for i, line in enumerate(inbound) if "AGI(" in line)
    for context in ("hotline-wait", "hotline-deliver", "hotline-fallback"):
        steps = ext.split(f"[{context}]", 1)[1].split("\n[", 1)[0].splitlines()
        assert "same => n,Gosub(hotline-talk-off,s,1)" in steps[2].split(";")[0], context  # right after the stage
    assert "Set(TALK_DETECT(set)=${HOTLINE_TALK_DETECT})" in ext and "Set(TALK_DETECT(remove)=)" in ext
    assert "func_talkdetect" in LOADED
    assert "class" in dict(sections(files["manager.conf"]))["bridge"]["read"].split(",")

    off = city.model_copy(update={"ivr": city.ivr.model_copy(update={"speech_to_human_s": 0})})
    assert dict(sections(render(off, site_for(off))["extensions.conf"]))["globals"]["HOTLINE_TALK_DETECT"] == ""


def test_modules_conf_loads_every_module_the_dialplan_applications_need():
    apps = dialplan_apps()
    unknown = apps - CORE_APPS - set(APP_MODULES)
    assert not unknown, f"dialplan uses {sorted(unknown)}: add them to APP_MODULES or CORE_APPS"
    missing = {app: APP_MODULES[app] for app in apps if app in APP_MODULES and APP_MODULES[app] not in LOADED}
    assert not missing, f"modules.conf does not load {missing}"


def test_modules_conf_loads_every_module_the_dialplan_functions_need():
    functions = set(re.findall(r"\$\{([A-Z_]+)\(", DIALPLAN))
    assert {"CALLERID", "CHANNEL", "DB", "DEVICE_STATE", "IF"} <= functions
    unknown = functions - set(FUNCTION_MODULES)
    assert not unknown, f"dialplan uses {sorted(unknown)}: add them to FUNCTION_MODULES"
    missing = {f: FUNCTION_MODULES[f] for f in functions if FUNCTION_MODULES[f] not in LOADED}
    assert not missing, f"modules.conf does not load {missing}"


def test_modules_conf_is_explicit():
    config = configparser.ConfigParser(strict=False, delimiters=("=",), inline_comment_prefixes=(";",))
    config.read_string("\n".join(line for line in TEMPLATES.joinpath("modules.conf").read_text().splitlines()
                                 if not line.startswith("load")))
    assert config["modules"]["autoload"] == "no"
    assert {"chan_pjsip", "res_pjsip", "pbx_config", "res_musiconhold", "format_wav"} <= LOADED

"""Render asterisk_conf/ for one Asterisk: the lab's sandbox or an existing installation.

The templates use ``{{name}}`` placeholders (Asterisk's own ``${VAR}`` stays untouched).
Every placeholder must be given a value: a missing one is an error naming the file and
the placeholder, so a half-rendered dialplan never reaches Asterisk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import asterisk_conf
from config.settings import CitySettings

# The templates are package data: an installed hotline renders without a checkout.
TEMPLATES = files(asterisk_conf)
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")

# Files an existing installation includes from its own configuration.
INCLUDABLE = ("pjsip.conf", "extensions.conf", "queues.conf", "manager.conf", "musiconhold.conf", "confbridge.conf")


# Copied as they are into a full instance; an existing installation keeps its own.
STATIC_INSTANCE_FILES = (
    "modules.conf", "cdr.conf", "cel.conf", "indications.conf",
    "features.conf", "acl.conf", "udptl.conf", "pjproject.conf", "ccss.conf",
)


class AsteriskConfigError(ValueError):
    pass


@dataclass(frozen=True)
class AsteriskSite:
    """Where this Asterisk listens and how it reaches the bridge."""

    sip_port: int = 5060
    sip_bind: str = "127.0.0.1"
    media_address: str = "127.0.0.1"
    # RTP ports Asterisk takes from: each channel with media takes a pair (RTP and RTCP), so
    # (rtp_end - rtp_start) / 2 calls with media at once; Asterisk's own default range.
    rtp_start: int = 10000
    rtp_end: int = 20000
    # asterisk.conf maxfiles: Asterisk raises its open-file limit to this at start (as root).
    # Every channel with media holds about four descriptors (RTP, RTCP, timer, SIP).
    max_files: int = 65536
    # asterisk.conf maxcalls: 0 is no limit. Above it Asterisk refuses a call outright.
    max_calls: int = 0
    citizens_match: str = "127.0.0.1"  # address(es) of the carrier / SBC sending citizens' calls
    # Where calls *to* citizens go (automatic call-back): the carrier / SBC as a SIP URI, e.g.
    # "sip:198.51.100.7:5060". Empty: the citizens endpoint gets no AOR, and a callback
    # attempt is reported as NOCARRIER (outcome failed) without dialling.
    citizens_contact: str = ""
    dtmf_mode: str = "rfc4733"
    ami_bind: str = "127.0.0.1"
    ami_port: int = 5038
    ami_user: str = "hotline"
    ami_secret: str = ""
    ami_permit: str = "127.0.0.1/255.255.255.255"
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    # A second bridge for the dialplan to try when the first is unreachable; None: the first again.
    agi_backup_host: str | None = None
    agi_backup_port: int | None = None
    moh_dir: str = "/var/lib/asterisk/moh-hotline"
    system_name: str = "hotline"
    log_verbosity: int = 1  # 3 logs every dialplan step (the test lab: failures explain themselves)
    etc_dir: str = "/etc/asterisk"
    state_dir: str = "/var/lib/asterisk"
    desk_passwords: dict[str, str] = field(default_factory=dict)


def render_template(name: str, text: str, values: dict[str, object]) -> str:
    missing = sorted({m for m in _PLACEHOLDER.findall(text) if m not in values})
    if missing:
        raise AsteriskConfigError(f"{name}: no value for {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text)


def _template(name: str) -> str:
    return TEMPLATES.joinpath(name).read_text(encoding="utf-8")


def render(settings: CitySettings, site: AsteriskSite, full_instance: bool = True) -> dict[str, str]:
    """File name → content. ``full_instance`` adds asterisk.conf, modules.conf, logger.conf
    and rtp.conf, which an existing installation keeps as its own."""
    if not site.ami_secret:
        raise AsteriskConfigError("ami_secret: empty; set HOTLINE_AMI_SECRET (there is no default)")
    missing_pw = [d.id for d in settings.desks if not site.desk_passwords.get(d.id)]
    if missing_pw:
        raise AsteriskConfigError(f"desk_passwords: no SIP password for {', '.join(missing_pw)}")

    q = settings.queueing
    values: dict[str, object] = {
        **{k: v for k, v in site.__dict__.items() if k != "desk_passwords"},
        "agi_backup_host": site.agi_backup_host or site.agi_host,
        "agi_backup_port": site.agi_backup_port or site.agi_port,
        "number": settings.hotline.number,
        "first_language": settings.hotline.languages[0],
        "ring_timeout_s": q.ring_timeout_s,
        "wrap_up_s": q.wrap_up_s,
        "heartbeat_stale_s": q.bridge_heartbeat_stale_s,
        "announce_interval_s": q.announce_interval_s,
        # TALK_DETECT(set)'s argument in the menu: silence ms, energy; empty: detector off.
        "talk_detect": (f"{settings.ivr.speech_silence_ms},{settings.ivr.speech_energy}"
                        if settings.ivr.speech_to_human_s > 0 else ""),
    }
    if site.citizens_contact and not re.fullmatch(r"sips?:[^\s;,]+", site.citizens_contact):
        raise AsteriskConfigError(f"citizens_contact: not a SIP URI: {site.citizens_contact!r}")
    # The citizens trunk's outbound side: Dial(PJSIP/<number>@citizens) sends the INVITE to
    # this contact with <number> as the Request-URI user.
    values["citizens_aors"] = ("aors = citizens" if site.citizens_contact
                               else "; no aors: no carrier for calls to citizens (citizens_contact empty)")
    values["citizens_aor_section"] = (
        f"[citizens]\ntype = aor\ncontact = {site.citizens_contact}\n" if site.citizens_contact else "")
    desk_template = _template("pjsip_desk.conf.tmpl")
    values["desk_sections"] = "\n".join(
        render_template(
            "pjsip_desk.conf.tmpl",
            desk_template,
            {**values, "desk_id": d.id, "agency": d.agency, "password": site.desk_passwords[d.id]},
        )
        for d in settings.desks
    )
    values["fallback_members"] = "\n".join(f"member => PJSIP/{d.id}" for d in settings.desks)

    out = {
        "pjsip.conf": render_template("pjsip.conf.tmpl", _template("pjsip.conf.tmpl"), values),
        "extensions.conf": render_template("extensions.conf.tmpl", _template("extensions.conf.tmpl"), values),
        "queues.conf": render_template("queues.conf.tmpl", _template("queues.conf.tmpl"), values),
        "manager.conf": render_template("manager.conf.tmpl", _template("manager.conf.tmpl"), values),
        "musiconhold.conf": render_template("musiconhold.conf.tmpl", _template("musiconhold.conf.tmpl"), values),
        # The conference's profiles (no placeholders): hotline-conference needs them anywhere.
        "confbridge.conf": _template("confbridge.conf"),
    }
    if full_instance:
        out["asterisk.conf"] = render_template("asterisk.conf.tmpl", _template("asterisk.conf.tmpl"), values)
        out["rtp.conf"] = render_template("rtp.conf.tmpl", _template("rtp.conf.tmpl"), values)
        out["logger.conf"] = render_template("logger.conf.tmpl", _template("logger.conf.tmpl"), values)
        for name in STATIC_INSTANCE_FILES:
            out[name] = _template(name)
    return out


def write(files: dict[str, str], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        path = out_dir / name
        path.write_text(text)
        written.append(path)
    return written

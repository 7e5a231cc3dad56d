"""The city's data file (hotline.toml) and the process's runtime settings.

The data file says *what* the hotline is: its number, languages, menu, prompts,
timeouts, agencies and desks. A city edits it by hand, so every mistake is
reported with the key path it sits at (``agencies[1].digit``) before anything
answers a call. The runtime settings say *where* things run (Redis, AMI, FastAGI,
API) and come from ``HOTLINE_*`` environment variables.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.names import GENERAL_QUEUE as GENERAL_QUEUE  # re-exported: the city file's reserved queue id
from config.names import IvrMode
from config.redis_url import check_url as check_redis_url

DEFAULT_CITY_FILE = Path("hotline.toml")

# Queue scores are priority × 10¹³ + arrival ms, stored as Redis doubles (exact up
# to 2⁵³ ≈ 9·10¹⁵): a single-digit priority keeps every score exact.
MAX_PRIORITY = 9

# espeak-ng's words per minute; outside this range speech is unintelligible.
TTS_SPEED_WPM = (80, 450)

Issue = tuple[tuple[str | int, ...], str]  # (key path, message)


class SettingsError(Exception):
    """A settings problem, worded for the person who edits the file or the environment."""

    def __init__(self, message: str, issues: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.issues = list(issues) or [message]


# --- key paths and messages -------------------------------------------------------


def format_loc(loc: Iterable[str | int]) -> str:
    """('agencies', 1, 'digit') → 'agencies[1].digit', the way the TOML reads."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            # A key TOML would have to quote (empty, spaces, line breaks…) is shown quoted,
            # so every message stays one line that names its key.
            name = str(part) if re.fullmatch(r"[A-Za-z0-9_-]+", str(part)) else json.dumps(str(part), ensure_ascii=False)
            out += f".{name}" if out else name
    return out or "(top level)"


class _CrossCheckFailed(ValueError):
    """Raised by CitySettings' cross-reference checks, carrying one issue per key path.

    Pydantic reports a model validator's error at the model's own location; keeping
    the issues structured lets format_validation_error name the real keys.
    """

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("; ".join(f"{format_loc(loc)}: {msg}" for loc, msg in issues))
        self.issues = issues


_MESSAGES = {
    "missing": "required key is missing",
    "extra_forbidden": "unknown key (check its spelling and the table it is in)",
}


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


def validation_issues(error: ValidationError) -> list[str]:
    """One 'key.path: message' line per problem in a pydantic ValidationError."""
    lines: list[str] = []
    for err in error.errors():
        loc = tuple(err["loc"])
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, _CrossCheckFailed):
            lines.extend(f"{format_loc(loc + sub)}: {msg}" for sub, msg in cause.issues)
            continue
        if err["type"] == "value_error":
            msg = str(cause) if cause is not None else err["msg"]
        elif err["type"] == "too_short" and (err.get("ctx") or {}).get("min_length") == 1:
            msg = "must not be empty"
        else:
            msg = _MESSAGES.get(err["type"], err["msg"]).replace("Input should be", "must be", 1)
            if err["type"] not in _MESSAGES and _scalar(err.get("input")):
                msg += f", got {err['input']!r}"
        lines.append(f"{format_loc(loc)}: {msg}")
    return lines


def format_validation_error(error: ValidationError, source: str) -> str:
    """The CLI-friendly text: one '<file>: key.path: message' line per problem."""
    return "\n".join(f"{source}: {line}" for line in validation_issues(error))


# --- field types ----------------------------------------------------------------------


def _non_blank(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


def _matches(pattern: str, what: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{what}, got {value!r}")
        return value

    return check


def _listed_once(what: str) -> Callable[[list[str]], list[str]]:
    """A list whose items must each be there once (languages, pause reasons, shift starts)."""

    def check(values: list[str]) -> list[str]:
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            raise ValueError(f"{what} must be listed once each, repeated: {', '.join(repeated)}")
        return values

    return check


def _webhook_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
        raise ValueError(f"must be an http:// or https:// URL with a host, got {value!r}")
    if parts.username or parts.password:
        raise ValueError("must not carry a user name or password: the secret goes in the environment "
                         "variable named by cad_webhook_secret_env")
    return value


def _digit(value: Any) -> Any:
    # A bare 1 is the natural thing to type; take it as "1" rather than nag.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and not re.fullmatch(r"[1-9]", value):
        raise ValueError(f"must be one digit 1-9, got {value!r}")
    return value


Text = Annotated[str, AfterValidator(_non_blank)]
Language = Annotated[str, AfterValidator(_matches(r"[a-z]{2,3}", "must be a 2-3 letter lowercase language code like 'vi'"))]
AgencyId = Annotated[
    str,
    AfterValidator(_matches(r"[a-z][a-z0-9_]{0,31}", "must be lowercase letters, digits or '_', starting with a letter (at most 32)")),
]
DeskId = Annotated[
    str,
    AfterValidator(_matches(r"[a-z0-9][a-z0-9-]{0,31}", "must be lowercase letters, digits or '-' (a SIP user name, at most 32)")),
]
# Shown on the desk phone before the caller's number, passed through SIP caller-id
# and dialplan arguments: quotes, commas and angle brackets would break those.
Label = Annotated[
    str,
    AfterValidator(_matches(r"[A-Za-z0-9 &+./_-]{1,15}", "must be 1-15 plain ASCII characters (letters, digits, space, &+./_-)")),
]
Digit = Annotated[str, BeforeValidator(_digit)]
WebhookUrl = Annotated[str, AfterValidator(_webhook_url)]
EnvName = Annotated[str, AfterValidator(_matches(r"[A-Z][A-Z0-9_]{0,63}",
                                                   "must be an environment variable name like \"HOTLINE_CAD_SECRET_POLICE\""))]
Priority = Annotated[int, Field(ge=0, le=MAX_PRIORITY)]
Voice = Annotated[str, AfterValidator(_matches(r"[A-Za-z0-9_+/-]{1,64}", "must be an espeak-ng voice name like 'vi' or 'en-us'"))]


class _Table(BaseModel):
    # strict: a TOML "12" where 12 was meant (or the reverse) is a mistake worth hearing about.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --- the data file's tables -------------------------------------------------------------


class LineSettings(_Table):
    """[hotline]"""

    number: Annotated[str, AfterValidator(_matches(r"[0-9]{1,15}", "must be digits only, like \"112\""))]
    languages: Annotated[list[Language], Field(min_length=1), AfterValidator(_listed_once("languages"))]


class IvrSettings(_Table):
    """[ivr]"""

    no_input_timeout_s: float = Field(ge=1, le=30)
    attempts: int = Field(ge=1, le=5)
    general_priority: Priority = 0
    mode: IvrMode = Field(default=IvrMode.MENU_FIRST, strict=False)  # not strict: TOML gives the enum's value as text
    # A caller who speaks this long in the menu without pressing a key goes to a person at
    # once (the general queue, top priority); 0 turns the speech detector off.
    speech_to_human_s: float = Field(default=1.5, ge=0, le=10)
    # TALK_DETECT's thresholds (docs/speech.md has the recordings they were tuned on): the
    # average sample magnitude above which a frame is talking (Asterisk: 1-32768), and how long
    # the caller must be quiet for a talk to end (a shorter pause is one talk).
    speech_energy: int = Field(default=768, ge=1, le=32768)
    speech_silence_ms: int = Field(default=500, ge=100, le=5000)


class QueueingSettings(_Table):
    """[queueing]"""

    ring_timeout_s: int = Field(ge=5, le=120)
    wrap_up_s: int = Field(ge=0, le=600)
    missed_calls_before_pause: int = Field(ge=1, le=20)
    # The bridge writes the heartbeat every second, so one missed beat must not count as stale.
    bridge_heartbeat_stale_s: int = Field(ge=2, le=60)
    announce_interval_s: int = Field(ge=5, le=300)


class TtsSettings(_Table):
    """[tts] — how ivr.prompts speaks the prompts (espeak-ng)."""

    speed_wpm: int = Field(default=150, ge=TTS_SPEED_WPM[0], le=TTS_SPEED_WPM[1])
    voices: dict[Language, Voice] = Field(default_factory=dict)  # language → voice; default: the language code

    def voice_for(self, language: str) -> str:
        return self.voices.get(language, language)


# The form's "none of these fits": free text is kept with it (``nature_text``), never lost.
OTHER_NATURE = "other"


class Nature(_Table):
    """One of an agency's ``natures``: what an incident is (the incident form's list)."""

    id: AgencyId
    name: dict[str, Text]  # language → name


class Agency(_Table):
    """[[agencies]]"""

    id: AgencyId
    digit: Digit
    priority: Priority
    label: Label
    name: dict[str, Text]  # language → name
    # Once this agency's longest wait passes this (or none of its desks is logged in), its
    # callers are also offered to desks cross-trained for it, keeping their place here.
    overflow_after_s: int = Field(default=10, ge=1, le=600)
    # The incident form's natures for this agency's call-takers; a supervisor edits the list here.
    natures: list[Nature] = Field(default_factory=list)
    # Where this agency's CAD takes the EIDO document when a call-taker dispatches (api/cad_push.py), and
    # the environment variable holding the HMAC secret that signs it: never the secret itself in this file.
    cad_webhook_url: WebhookUrl | None = None
    cad_webhook_secret_env: EnvName | None = None


class Prompts(_Table):
    """[prompts.<language>] — the text of every prompt in one language."""

    menu: Text
    invalid: Text  # before the menu repeats after an invalid digit
    no_input: Text  # before the menu repeats after silence
    stay_on_line: Text  # every announce_interval_s while waiting
    connecting_general: Text  # after the last attempt, before the general queue
    # Optional, for the periodic announcement while waiting: "{n}" is the caller's place in
    # line, "{minutes}" the expected wait. Without them only stay_on_line is played.
    position: Text | None = None
    expected_wait: Text | None = None

    @field_validator("position")
    @classmethod
    def _has_n(cls, text: str | None) -> str | None:
        if text is not None and "{n}" not in text:
            raise ValueError('must contain "{n}", where the caller\'s place in line is said')
        return text

    @field_validator("expected_wait")
    @classmethod
    def _has_minutes(cls, text: str | None) -> str | None:
        if text is not None and "{minutes}" not in text:
            raise ValueError('must contain "{minutes}", where the expected wait is said')
        return text


# Every language has exactly these prompts; ivr.prompts renders one file per key.
PROMPT_KEYS: tuple[str, ...] = tuple(k for k, f in Prompts.model_fields.items() if f.is_required())
# Places in line and minutes announced; beyond them the caller hears stay_on_line only.
MAX_ANNOUNCED_POSITION = 9
MAX_ANNOUNCED_WAIT_MIN = 15


class CallbackSettings(_Table):
    """[callbacks] — calling back citizens who hung up before a desk answered (optional)."""

    auto_dial: bool = False  # off: desks call back by hand from the list (GET /callbacks/{agency})
    retry_after_s: int = Field(default=300, ge=30, le=86_400)  # after no answer / busy
    max_attempts: int = Field(default=3, ge=1, le=10)  # attempts that reach no one before giving up
    desk_ring_s: int = Field(default=20, ge=5, le=120)  # auto-dial: ring the desk this long first
    citizen_ring_s: int = Field(default=30, ge=5, le=120)  # then ring the citizen this long
    desk_retry_s: int = Field(default=30, ge=1, le=3_600)  # auto-dial: no desk free / desk leg failed → again after this


class NumberSettings(_Table):
    """[numbers] — repeat and nuisance callers (optional). Nobody is ever blocked."""

    repeat_window_s: int = Field(default=600, ge=0, le=86_400)  # a call this soon after the last one is a repeat
    short_call_s: int = Field(default=10, ge=1, le=120)  # shorter calls count towards the nuisance score
    nuisance_window_s: int = Field(default=86_400, ge=3_600, le=604_800)  # calls older than this are ignored
    nuisance_half_life_s: int = Field(default=21_600, ge=600, le=604_800)  # a nuisance call's weight halves this often
    nuisance_threshold: float = Field(default=3.0, gt=0, le=100)  # score shown as "likely nuisance"
    lower_priority_by: int = Field(default=2, ge=1, le=9)  # default step of a supervisor's lower_priority policy


# Shown to the call-taker as buttons and stored as the desk's reason: short plain text.
PauseReason = Annotated[str, AfterValidator(_matches(r"[^\x00-\x1f\x7f]{1,40}", "must be 1-40 printable characters"))]


class ConsoleSettings(_Table):
    """[console] — the call-taker's console in the browser (optional table)."""

    # A session unused this long is gone: an unattended, signed-in browser does not stay signed in.
    session_idle_min: int = Field(default=30, ge=1, le=720)
    # The reasons a call-taker picks from when pausing in the console (supervisors see them).
    pause_reasons: Annotated[list[Annotated[PauseReason, AfterValidator(_non_blank)]], Field(min_length=1),
                             AfterValidator(_listed_once("pause reasons"))] = Field(
        default_factory=lambda: ["break", "meal", "training", "meeting"])
    # A caller's location fix this recent (before arrival or during the call) is shown with the call.
    location_window_s: int = Field(default=3600, ge=10, le=86_400)

    # "Extend once" adds this to a desk's wrap-up; default: [queueing] wrap_up_s (at least 10 s).
    wrap_up_extend_s: int | None = Field(default=None, ge=5, le=600)


def _absolute_dir(value: str) -> str:
    if not value.startswith("/") or "\x00" in value or any(part == ".." for part in value.split("/")):
        raise ValueError(f"must be an absolute folder path without '..', got {value!r}")
    return value.rstrip("/") or "/"


class RecordingSettings(_Table):
    """[recording] — every answered call recorded by Asterisk (MixMonitor), checked, kept a while (optional table)."""

    # The folder as Asterisk sees it (MixMonitor writes there; files are named by call id only).
    # Processes on another host or outside Asterisk's chroot find it under HOTLINE_ASTERISK_ROOT.
    dir: Annotated[str, AfterValidator(_absolute_dir)] = "/var/spool/asterisk/monitor/hotline"
    retention_days: int = Field(default=90, ge=1, le=3650)  # recordings older than this are deleted
    # A direction whose RMS amplitude (0-1 of full scale, sox stat) is below this counts as silent.
    min_rms: float = Field(default=0.001, gt=0, lt=1)


#: NENA-STA-020 (9-1-1 call processing): 90 % of calls answered within 15 s, 95 % within 20 s.
NENA_SERVICE_LEVELS: tuple[tuple[int, float], ...] = ((15, 90.0), (20, 95.0))
_SHIFT_START = r"([01][0-9]|2[0-3]):[0-5][0-9]"


class ServiceLevelTarget(_Table):
    """One service-level target: ``percent`` of the answered calls answered within ``within_s``."""

    within_s: int = Field(ge=1, le=600)
    percent: float = Field(gt=0, le=100)


class AlertAbove(_Table):
    """An alert's two thresholds on a figure that is worse when higher (seconds, counts): the
    alert is on at ``warning``, critical at ``critical``. Either may be left out (that level is off)."""

    warning: int | None = Field(default=None, ge=1, le=86_400)
    critical: int | None = Field(default=None, ge=1, le=86_400)

    @model_validator(mode="after")
    def _critical_stricter(self) -> AlertAbove:
        if self.warning is None and self.critical is None:
            raise _CrossCheckFailed([(("warning",), "set warning, critical or both (leave the key out for the default)")])
        if self.warning is not None and self.critical is not None and self.critical <= self.warning:
            raise _CrossCheckFailed([(("critical",), f"must be higher than warning ({self.warning}), got {self.critical}")])
        return self


class AlertBelow(_Table):
    """An alert's two thresholds on a percentage that is worse when lower (service level)."""

    warning: float | None = Field(default=None, gt=0, le=100)
    critical: float | None = Field(default=None, gt=0, le=100)

    @model_validator(mode="after")
    def _critical_stricter(self) -> AlertBelow:
        if self.warning is None and self.critical is None:
            raise _CrossCheckFailed([(("warning",), "set warning, critical or both (leave the key out for the default)")])
        if self.warning is not None and self.critical is not None and self.critical >= self.warning:
            raise _CrossCheckFailed([(("critical",), f"must be lower than warning ({self.warning}), got {self.critical}")])
        return self


class AlertSettings(_Table):
    """[supervision.alerts] — when the supervisors' page raises an alert (queueing/alerts.py), at two levels."""

    # A queue's longest-waiting caller, seconds since arrival (NENA-STA-020: 95 % answered within 20 s).
    longest_wait_s: AlertAbove = Field(default_factory=lambda: AlertAbove(warning=20, critical=60))
    # A queue's % of calls answered within [supervision]'s first target, over the last 15 min ...
    service_level_percent: AlertBelow = Field(default_factory=lambda: AlertBelow(warning=90, critical=80))
    # ... once it had at least this many calls then: one slow call in a quiet hour is no trend.
    service_level_min_calls: int = Field(default=5, ge=1, le=1000)
    # An agency with no desk logged in: its callers wait for nobody (queueing.states.AlertLevel, or off).
    no_desk_level: Literal["warning", "critical", "off"] = "critical"
    # Callers who hung up before a desk answered, every queue and stage, in the last 15 min.
    abandons_15min: AlertAbove = Field(default_factory=lambda: AlertAbove(warning=5, critical=10))
    # Callers held by Asterisk's fallback queue now: any one means the bridge or Redis failed them.
    fallback_callers: AlertAbove = Field(default_factory=lambda: AlertAbove(critical=1))
    # Recordings checked broken or missing in the last broken_recording_window_h hours.
    broken_recordings: AlertAbove = Field(default_factory=lambda: AlertAbove(warning=1, critical=3))
    broken_recording_window_h: int = Field(default=24, ge=1, le=168)
    # A desk paused this long, seconds (a meal is longer than a break: set it for the longest usual pause).
    desk_paused_s: AlertAbove = Field(default_factory=lambda: AlertAbove(warning=900, critical=1800))
    # Callers refused or desks left unrung because Asterisk ran out of RTP ports, channels or open
    # files, per resource, in the last resource_shortage_window_min: any one is a call lost to the line.
    resource_shortages: AlertAbove = Field(default_factory=lambda: AlertAbove(critical=1))
    resource_shortage_window_min: int = Field(default=15, ge=1, le=1440)
    # An unacknowledged critical alert sounds again this often, seconds.
    repeat_critical_s: int = Field(default=30, ge=5, le=600)


class SupervisionSettings(_Table):
    """[supervision] — the supervisors' wallboard and reports (optional table)."""

    # Default NENA-STA-020; None = the city file sets none (reports say so).
    service_levels: Annotated[list[ServiceLevelTarget], Field(min_length=1, max_length=4)] | None = None
    # An abandon shorter than this (arrival to hang-up) is a short abandon: shown apart, still counted.
    short_abandon_s: int = Field(default=5, ge=0, le=60)
    # Local times ("HH:MM") shifts start at; the current shift began at the latest one passed.
    shift_starts: Annotated[list[Annotated[str, AfterValidator(_matches(_SHIFT_START, "must be a local time like \"07:00\""))]],
                            Field(min_length=1, max_length=24), AfterValidator(_listed_once("shift starts"))] = Field(
        default_factory=lambda: ["07:00", "19:00"])
    # When the page raises alerts, at which levels ([supervision.alerts]).
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    # A supervisor listening to (whispering to, barging in on) a desk's call: the call-taker's console says so.
    tell_call_taker_of_spy: bool = False

    @field_validator("service_levels")
    @classmethod
    def _unique_targets(cls, targets: list[ServiceLevelTarget] | None) -> list[ServiceLevelTarget] | None:
        seconds = [t.within_s for t in targets or []]
        if len(set(seconds)) != len(seconds):
            raise ValueError("service levels must each have their own within_s")
        return targets

    @property
    def targets(self) -> tuple[tuple[int, float], ...]:
        """(within_s, percent) of each target: the city's, else NENA-STA-020's."""
        if self.service_levels is None:
            return NENA_SERVICE_LEVELS
        return tuple((t.within_s, t.percent) for t in self.service_levels)


class Desk(_Table):
    """[[desks]]"""

    id: DeskId
    agency: str
    cross_trained: list[str] = Field(default_factory=list)  # other agencies this desk can serve on overflow


class CitySettings(_Table):
    """The whole data file, validated and cross-checked."""

    hotline: LineSettings
    ivr: IvrSettings
    queueing: QueueingSettings
    tts: TtsSettings = Field(default_factory=TtsSettings)
    callbacks: CallbackSettings = Field(default_factory=CallbackSettings)
    numbers: NumberSettings = Field(default_factory=NumberSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    recording: RecordingSettings = Field(default_factory=RecordingSettings)
    supervision: SupervisionSettings = Field(default_factory=SupervisionSettings)
    agencies: Annotated[list[Agency], Field(min_length=1)]
    prompts: dict[str, Prompts]
    desks: Annotated[list[Desk], Field(min_length=1)]

    @model_validator(mode="after")
    def _cross_check(self) -> CitySettings:
        issues = _cross_check(self)
        if issues:
            raise _CrossCheckFailed(issues)
        return self

    @property
    def languages(self) -> list[str]:
        return self.hotline.languages

    @property
    def queues(self) -> list[str]:
        """Every queue name: the general queue, then one per agency."""
        return [GENERAL_QUEUE, *(a.id for a in self.agencies)]

    def agency(self, agency_id: str) -> Agency:
        for agency in self.agencies:
            if agency.id == agency_id:
                return agency
        raise KeyError(agency_id)

    def desks_of(self, agency_id: str) -> list[Desk]:
        return [d for d in self.desks if d.agency == agency_id]

    @property
    def wrap_up_extend_s(self) -> int:
        """What "extend once" adds to a wrap-up: ``[console] wrap_up_extend_s``, else the wrap-up's length."""
        return self.console.wrap_up_extend_s or max(self.queueing.wrap_up_s, 10)

    def prompt_texts(self, language: str) -> dict[str, str]:
        """Every prompt file of a language: the fixed prompts, and one per place in line
        (position_<n>) and per minute of expected wait (wait_<m>) where templates are set."""
        prompts = self.prompts[language]
        texts = {key: getattr(prompts, key) for key in PROMPT_KEYS}
        if prompts.position:
            texts |= {f"position_{n}": prompts.position.replace("{n}", str(n))
                      for n in range(1, MAX_ANNOUNCED_POSITION + 1)}
        if prompts.expected_wait:
            texts |= {f"wait_{m}": prompts.expected_wait.replace("{minutes}", str(m))
                      for m in range(1, MAX_ANNOUNCED_WAIT_MIN + 1)}
        return texts

    def prompt(self, language: str, key: str) -> str:
        text: str = getattr(self.prompts[language], key)
        return text


def _cross_check(city: CitySettings) -> list[Issue]:
    """What a single field can't know: uniqueness, references, and every language covered."""
    issues: list[Issue] = []
    languages = city.hotline.languages

    seen_ids: dict[str, int] = {}
    seen_digits: dict[str, int] = {}
    for i, agency in enumerate(city.agencies):
        if agency.id == GENERAL_QUEUE:
            issues.append((("agencies", i, "id"), f"'{GENERAL_QUEUE}' is reserved for the queue every desk serves"))
        elif agency.id in seen_ids:
            issues.append((("agencies", i, "id"), f"'{agency.id}' is already the id of agencies[{seen_ids[agency.id]}]"))
        seen_ids.setdefault(agency.id, i)
        if agency.digit in seen_digits:
            first = seen_digits[agency.digit]
            issues.append(
                (("agencies", i, "digit"),
                 f"digit '{agency.digit}' is already used by agency '{city.agencies[first].id}' (agencies[{first}])")
            )
        seen_digits.setdefault(agency.digit, i)
        for lang in languages:
            if lang not in agency.name:
                issues.append((("agencies", i, "name", lang), "missing: every language in hotline.languages needs a name"))
        for lang in agency.name:
            if lang not in languages:
                issues.append((("agencies", i, "name", lang), f"'{lang}' is not in hotline.languages"))
        if agency.cad_webhook_url and not agency.cad_webhook_secret_env:
            issues.append((("agencies", i, "cad_webhook_secret_env"), "missing: cad_webhook_url is set, so name the "
                           "environment variable that holds its HMAC secret (e.g. HOTLINE_CAD_SECRET_POLICE)"))
        if agency.cad_webhook_secret_env and not agency.cad_webhook_url:
            issues.append((("agencies", i, "cad_webhook_url"), "missing: cad_webhook_secret_env is set without the URL it signs for"))
        seen_natures: dict[str, int] = {}
        for j, nature in enumerate(agency.natures):
            where = ("agencies", i, "natures", j)
            if nature.id == OTHER_NATURE:
                issues.append(((*where, "id"), f"'{OTHER_NATURE}' is reserved for the form's free text"))
            elif nature.id in seen_natures:
                issues.append(((*where, "id"), f"'{nature.id}' is already natures[{seen_natures[nature.id]}]"))
            seen_natures.setdefault(nature.id, j)
            for lang in languages:
                if lang not in nature.name:
                    issues.append(((*where, "name", lang), "missing: every language in hotline.languages needs a name"))
            for lang in nature.name:
                if lang not in languages:
                    issues.append(((*where, "name", lang), f"'{lang}' is not in hotline.languages"))

    for lang in languages:
        if lang not in city.prompts:
            issues.append((("prompts", lang), f"missing: every language in hotline.languages needs [prompts.{lang}]"))
    for lang, prompts in city.prompts.items():
        if lang not in languages:
            issues.append((("prompts", lang), f"'{lang}' is not in hotline.languages"))
            continue
        # A digit the menu never mentions is an option no caller can find.
        for agency in city.agencies:
            if not re.search(rf"(?<!\d){agency.digit}(?!\d)", prompts.menu):
                issues.append(
                    (("prompts", lang, "menu"), f"does not mention digit {agency.digit} (agency '{agency.id}') as a number on its own")
                )

    for lang in city.tts.voices:
        if lang not in languages:
            issues.append((("tts", "voices", lang), f"'{lang}' is not in hotline.languages"))

    seen_desks: dict[str, int] = {}
    for i, desk in enumerate(city.desks):
        if desk.id in seen_desks:
            issues.append((("desks", i, "id"), f"'{desk.id}' is already the id of desks[{seen_desks[desk.id]}]"))
        seen_desks.setdefault(desk.id, i)
        if desk.agency not in seen_ids:
            known = ", ".join(a.id for a in city.agencies)
            issues.append((("desks", i, "agency"), f"no agency has id '{desk.agency}' (agencies: {known})"))
        for j, other in enumerate(desk.cross_trained):
            if other not in seen_ids:
                issues.append((("desks", i, "cross_trained", j), f"no agency has id '{other}'"))
            elif other == desk.agency:
                issues.append((("desks", i, "cross_trained", j), f"'{other}' is the desk's own agency"))
    # An agency nobody staffs would hold its callers forever.
    staffed = {d.agency for d in city.desks}
    for i, agency in enumerate(city.agencies):
        if agency.id not in staffed and agency.id != GENERAL_QUEUE:
            issues.append((("agencies", i, "id"),
                           f"no desk serves agency '{agency.id}': add a [[desks]] entry with agency = \"{agency.id}\""))
    return issues


# --- loading ----------------------------------------------------------------------------


def parse_settings(data: Mapping[str, Any], source: str = "hotline.toml") -> CitySettings:
    """Validate already-parsed TOML data; errors name `source` and the key path."""
    try:
        return CitySettings.model_validate(dict(data))
    except ValidationError as error:
        issues = validation_issues(error)
        raise SettingsError("\n".join(f"{source}: {line}" for line in issues), issues) from None


def load_settings(path: str | Path = DEFAULT_CITY_FILE) -> CitySettings:
    """Read and validate the city's data file, or raise SettingsError saying what is wrong where."""
    path = Path(path)
    source = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SettingsError(f"{source}: no such file (the city's data file; set HOTLINE_CITY_FILE to use another)") from None
    except IsADirectoryError:
        raise SettingsError(f"{source}: is a directory, expected the city's TOML data file") from None
    except OSError as error:
        raise SettingsError(f"{source}: cannot read: {error.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise SettingsError(f"{source}: not UTF-8 text (byte {error.start}): save the file as UTF-8") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{source}: not valid TOML: {error}") from None
    return parse_settings(data, source)


# --- runtime settings -------------------------------------------------------------------


class RuntimeSettings(BaseSettings):
    """Where this process finds its peers, from HOTLINE_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="HOTLINE_", extra="forbid", frozen=True)

    city_file: Path = DEFAULT_CITY_FILE
    redis_url: str = "redis://127.0.0.1:6379/0"
    ami_host: str = "127.0.0.1"
    ami_port: int = Field(default=5038, ge=1, le=65535)
    ami_user: str = "hotline"
    # No default: a guessable AMI secret would hand the phone system to anyone on the network.
    ami_secret: SecretStr | None = None
    agi_host: str = "127.0.0.1"
    agi_port: int = Field(default=4573, ge=1, le=65535)
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    # The API's bearer tokens (hashes only; `hotline api-token add` writes it). No default: without
    # it the API refuses to start, unless api_auth is "off" (a lab on a closed machine, never a real line).
    api_tokens_file: Path | None = None
    api_auth: Literal["on", "off"] = "on"
    # The console's session cookie is sent over HTTPS only (Secure): on wherever the API is behind
    # HTTPS; off for the lab's plain http://127.0.0.1.
    api_secure_cookies: bool = False
    # GET /metrics without a token from 127.0.0.1 / ::1 (a Prometheus on the API's own host). Off: a
    # metrics or supervisor token is needed. Behind a reverse proxy on the same host every request
    # comes from 127.0.0.1: keep it off there.
    metrics_loopback: bool = False
    # Where Asterisk's file system is seen from this process: "/" on Asterisk's own host; the lab's
    # chroot; a shared mount's folder elsewhere. [recording] dir is read under it.
    asterisk_root: Path = Path("/")
    # Asterisk's warnings log as Asterisk names it (read under asterisk_root): logger.conf's
    # "warnings.log => warning,error" in Asterisk's log folder. The bridge reads there when a
    # caller or a desk was refused for lack of RTP ports, channels or open files.
    asterisk_warnings_log: Path = Path("/var/log/asterisk/warnings.log")

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, url: str) -> str:
        # redis://, rediss://, unix:// or redis+sentinel://hosts/<master-name>[/<db>]
        return check_redis_url(url)

    @classmethod
    def from_env(cls, **overrides: Any) -> RuntimeSettings:
        """Read the environment; errors name the variable (HOTLINE_AMI_PORT), not the field."""
        try:
            return cls(**overrides)
        except ValidationError as error:
            lines = []
            for line in validation_issues(error):
                field, _, msg = line.partition(": ")
                lines.append(f"{cls.env_name(field)}: {msg}")
            raise SettingsError("\n".join(lines), lines) from None

    @classmethod
    def env_name(cls, field: str) -> str:
        return f"{cls.model_config['env_prefix']}{field.upper()}"

    def require_ami_secret(self) -> str:
        """The AMI secret, for the processes that log in to AMI; missing is an error."""
        secret = self.ami_secret.get_secret_value() if self.ami_secret is not None else ""
        if not secret:
            raise SettingsError(
                f"{self.env_name('ami_secret')} is not set: the bridge logs in to Asterisk's AMI as "
                f"'{self.ami_user}' and needs that user's secret from manager.conf"
            )
        return secret

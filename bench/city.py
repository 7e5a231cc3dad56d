"""The bench city: hotline.toml's shape with many desks per agency and no rest between
calls, so the desks are never what limits a run and hotline compares with app_queue
(wrapuptime 0) on equal terms."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Same agencies and digits as the shipped city.
AGENCIES = (("police", "1", "POLICE"), ("fire", "2", "FIRE RESCUE"),
            ("medical", "3", "AMBULANCE"), ("disaster", "4", "DISASTER"))

# The bench's own prompts: short, for the phases whose callers always press a key during
# the first prompt (what they hear does not change what they measure).
SHORT_SPOKEN = """[tts]
speed_wpm = 200

[prompts.vi]
menu = "Công an bấm 1. Cứu hỏa bấm 2. Cấp cứu bấm 3. Việc khác bấm 4."
invalid = "Sai phím."
no_input = "Chưa bấm."
stay_on_line = "Xin giữ máy."
connecting_general = "Đang chuyển."

[prompts.en]
menu = "Police 1. Fire 2. Ambulance 3. Other 4."
invalid = "Wrong key."
no_input = "No key."
stay_on_line = "Please hold."
connecting_general = "Connecting."

"""


# What a caller hears and how long the menu waits: the tables taken from a city file when
# the bench measures answer time with a real city's prompts and timers.
SPOKEN_TABLES = ("ivr", "tts")


def _toml_value(value: Any) -> str:
    """A TOML value of the plain kinds a city file's spoken tables hold."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {type(value).__name__}: {value!r}")


def toml_table(name: str, table: dict[str, Any]) -> str:
    return f"[{name}]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in table.items())


@dataclass(frozen=True)
class BenchCity:
    desks_per_agency: int
    ring_timeout_s: int = 10
    no_input_timeout_s: float = 3.0
    # A real city file (hotline.toml): its languages, [ivr], [tts] and prompts replace the
    # bench's short ones, so a caller hears what that city's callers hear.
    spoken_from: Path | None = None
    mode: str | None = None  # [ivr] mode; None: the city file's (or the default)

    def _spoken(self) -> dict[str, Any] | None:
        if self.spoken_from is None:
            return None
        with open(self.spoken_from, "rb") as f:
            return tomllib.load(f)

    def ivr(self) -> dict[str, Any]:
        """The [ivr] table the city file gets."""
        spoken = self._spoken()
        table = dict(spoken["ivr"]) if spoken else {
            "no_input_timeout_s": self.no_input_timeout_s, "attempts": 2, "general_priority": 0}
        if self.mode is not None:
            table["mode"] = self.mode
        return table

    @property
    def languages(self) -> list[str]:
        spoken = self._spoken()
        return list(spoken["hotline"]["languages"]) if spoken else ["vi", "en"]

    @property
    def agencies(self) -> list[str]:
        return [a for a, _, _ in AGENCIES]

    @property
    def digits(self) -> dict[str, str]:
        return {agency: digit for agency, digit, _ in AGENCIES}

    def desk_ids(self, agency: str) -> list[str]:
        n = AGENCIES.index(next(a for a in AGENCIES if a[0] == agency)) + 1
        return [f"desk-{n}{i:03d}" for i in range(1, self.desks_per_agency + 1)]

    def all_desks(self) -> list[tuple[str, str]]:
        return [(desk, agency) for agency in self.agencies for desk in self.desk_ids(agency)]

    def _spoken_tables(self) -> str:
        """[ivr], [tts] and the prompts: the city file's, or the bench's short ones."""
        spoken = self._spoken()
        if spoken is None:
            return toml_table("ivr", self.ivr()) + "\n" + SHORT_SPOKEN
        tables = [toml_table("ivr", self.ivr())]
        tables += [toml_table(name, spoken[name]) for name in SPOKEN_TABLES[1:] if name in spoken]
        tables += [toml_table(f"prompts.{lang}", text) for lang, text in spoken["prompts"].items()]
        return "\n".join(tables)

    def toml(self) -> str:
        agencies = "\n".join(f"""[[agencies]]
id = "{agency}"
digit = "{digit}"
priority = 1
label = "{label}"
name = {_toml_value({lang: label.title() for lang in self.languages})}
""" for agency, digit, label in AGENCIES)
        desks = "\n".join(f'[[desks]]\nid = "{desk}"\nagency = "{agency}"\n' for desk, agency in self.all_desks())
        return f"""# Written by the benchmark (bench/city.py); not a real city.
[hotline]
number = "112"
languages = {_toml_value(self.languages)}

[queueing]
ring_timeout_s = {self.ring_timeout_s}
wrap_up_s = 0
missed_calls_before_pause = 3
bridge_heartbeat_stale_s = 5
announce_interval_s = 20

{agencies}
{self._spoken_tables()}
{desks}"""

    def write(self, path: Path) -> Path:
        path.write_text(self.toml())
        return path


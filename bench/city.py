"""The bench city: hotline.toml's shape with many desks per agency and no rest between
calls, so the desks are never what limits a run and hotline compares with app_queue
(wrapuptime 0) on equal terms."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Same agencies and digits as the shipped city; short prompts keep a silent caller's path
# short, but bench callers always press a key during the first prompt.
AGENCIES = (("police", "1", "POLICE"), ("fire", "2", "FIRE RESCUE"),
            ("medical", "3", "AMBULANCE"), ("disaster", "4", "DISASTER"))


@dataclass(frozen=True)
class BenchCity:
    desks_per_agency: int
    ring_timeout_s: int = 10
    no_input_timeout_s: float = 3.0

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

    def toml(self) -> str:
        agencies = "\n".join(f"""[[agencies]]
id = "{agency}"
digit = "{digit}"
priority = 1
label = "{label}"
name = {{ vi = "{label.title()}", en = "{label.title()}" }}
""" for agency, digit, label in AGENCIES)
        desks = "\n".join(f'[[desks]]\nid = "{desk}"\nagency = "{agency}"\n' for desk, agency in self.all_desks())
        return f"""# Written by the benchmark (bench/city.py); not a real city.
[hotline]
number = "112"
languages = ["vi", "en"]

[ivr]
no_input_timeout_s = {self.no_input_timeout_s}
attempts = 2
general_priority = 0

[queueing]
ring_timeout_s = {self.ring_timeout_s}
wrap_up_s = 0
missed_calls_before_pause = 3
bridge_heartbeat_stale_s = 5
announce_interval_s = 20

[tts]
speed_wpm = 200

{agencies}
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

{desks}"""

    def write(self, path: Path) -> Path:
        path.write_text(self.toml())
        return path

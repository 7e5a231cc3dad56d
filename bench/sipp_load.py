"""SIPp processes of the benchmark: a rate-driven crowd of citizens, and one bank of desk
phones that registers every desk of the bench city and answers all of their calls."""

from __future__ import annotations

import csv
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.scenarios import citizen_scenario, desk_bank_incoming_scenario, desk_bank_register_scenario
from hotline.lab.ports import free_port, free_port_pair
from hotline.lab.sipp import sipp_binary


@dataclass
class SippProcess:
    """One SIPp process with its log (our <log> lines), errors and periodic statistics."""

    name: str
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None
    _log_offset: int = 0

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def stat_path(self) -> Path:
        return self.workdir / f"{self.name}.stat.csv"

    @property
    def error_path(self) -> Path:
        return self.workdir / f"{self.name}.errors"

    def start(self, args: list[str]) -> SippProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        # A file left by an earlier run would be read before SIPp truncates it.
        for stale in (self.log_path, self.stat_path, self.error_path):
            stale.unlink(missing_ok=True)
        self._log_offset = 0
        out = open(self.workdir / f"{self.name}.out", "wb")
        self.proc = subprocess.Popen(
            [sipp_binary(), *args, "-nostdin", "-aa",  # -aa: 200 OK to INFO/NOTIFY/OPTIONS/UPDATE
             "-trace_logs", "-log_file", str(self.log_path),
             "-trace_err", "-error_file", str(self.error_path),
             "-trace_stat", "-stf", str(self.stat_path), "-fd", "1"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=self.workdir,
        )
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout: float) -> bool:
        if self.proc is None:
            raise RuntimeError(f"SIPp {self.name!r} was never started")
        try:
            self.proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def stop(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:  # running()
            proc.terminate()
            if not self.wait(5):
                proc.kill()
                proc.wait(5)

    def new_log_lines(self) -> list[str]:
        """Log lines written since the last call (whole lines only)."""
        if not self.log_path.exists():
            return []
        with open(self.log_path, "rb") as f:
            f.seek(self._log_offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self._log_offset += end
        return [ln for ln in data[:end].decode(errors="replace").splitlines() if ln.strip()]

    def statistics(self) -> dict[str, str]:
        """The last row of SIPp's statistics file (cumulative counters end in ``(C)``)."""
        if not self.stat_path.exists():
            return {}
        rows = list(csv.reader(self.stat_path.read_text(errors="replace").splitlines(), delimiter=";"))
        if len(rows) < 2:
            return {}
        # SIPp may be writing the last row: it can be shorter than the header.
        return dict(zip(rows[0], rows[-1], strict=False))

    def failed_calls(self) -> int:
        value = self.statistics().get("FailedCall(C)", "0")
        return int(value) if value.isdigit() else 0

    def error_tail(self, lines: int = 5) -> str:
        if not self.error_path.exists():
            return ""
        return "\n".join(self.error_path.read_text(errors="replace").splitlines()[-lines:])


def start_citizens(target: str, number: str, workdir: Path, name: str, caller_prefix: str,
                   rate: float, calls: int, max_concurrent: int, press: str = "field",
                   first_key_after_ms: int = 500, line_up_ms: int = 8000,
                   digits: str = "1234", answer_within_ms: int = 8000, voice: Path | None = None,
                   arrival_spread_ms: int = 0) -> SippProcess:
    """``calls`` citizens at ``rate`` calls/s (``press``, ``voice``, ``arrival_spread_ms``: see
    ``citizen_scenario``); the digits pressed cycle through ``digits``."""
    run = SippProcess(name, workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    scenario = workdir / f"{name}.xml"
    scenario.write_text(citizen_scenario(caller_prefix, press, first_key_after_ms, line_up_ms,
                                         answer_within_ms=answer_within_ms, voice=voice,
                                         arrival_spread_ms=arrival_spread_ms))
    inject = workdir / f"{name}.csv"
    inject.write_text("SEQUENTIAL\n" + "".join(f"{d};\n" for d in digits))
    # -rp 1000 with a fractional rate: SIPp takes calls per second as a float.
    return run.start([target, "-sf", str(scenario), "-inf", str(inject), "-s", number,
                      "-r", f"{rate:g}", "-rp", "1000", "-m", str(calls), "-l", str(max_concurrent),
                      "-i", "127.0.0.1", "-p", str(free_port()), "-mp", str(free_port_pair())])


@dataclass
class DeskBank:
    """Every desk of the bench city in one SIPp process: one registration per desk (the
    main scenario), every INVITE answered by the out-of-call scenario."""

    target: str
    passwords: dict[str, str]
    workdir: Path
    answer_min_ms: int = 0
    answer_max_ms: int = 200
    talk_ms: int = 2000
    sipp: SippProcess = field(init=False)

    def start(self, timeout: float = 30) -> DeskBank:
        self.workdir.mkdir(parents=True, exist_ok=True)
        main = self.workdir / "desks-register.xml"
        incoming = self.workdir / "desks-incoming.xml"
        inject = self.workdir / "desks.csv"
        main.write_text(desk_bank_register_scenario())
        incoming.write_text(desk_bank_incoming_scenario(self.answer_min_ms, self.answer_max_ms, self.talk_ms))
        inject.write_text("SEQUENTIAL\n" + "".join(
            f"{desk};[authentication username={desk} password={pw}];\n" for desk, pw in self.passwords.items()))
        inject.chmod(0o600)  # desk passwords
        n = len(self.passwords)
        self.sipp = SippProcess("desks", self.workdir).start(
            [self.target, "-sf", str(main), "-oocsf", str(incoming), "-inf", str(inject),
             "-m", str(n), "-l", str(n), "-r", "200", "-rp", "1000",
             "-i", "127.0.0.1", "-p", str(free_port()), "-mp", str(free_port_pair())])
        registered: set[str] = set()
        deadline = time.monotonic() + timeout
        while len(registered) < n:
            for line in self.sipp.new_log_lines():
                if line.startswith("REGISTERED "):
                    registered.add(line.split()[1])
            if not self.sipp.running():
                raise RuntimeError(f"desk bank exited: {self.sipp.error_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{n - len(registered)} of {n} desks did not register within {timeout:.0f} s:"
                                   f" {self.sipp.error_tail()}")
            time.sleep(0.2)
        return self

    def stop(self) -> None:
        self.sipp.stop()

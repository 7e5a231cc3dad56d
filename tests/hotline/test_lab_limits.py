"""The tester's lab is sized for the bench's held level, and its Asterisk and processes get the
open files that takes (issue 12: `./lab up` had RTP ports for about 50 calls)."""

from __future__ import annotations

import resource
import subprocess
import sys

from bench.__main__ import FULL
from config.settings import load_settings
from hotline.lab.lab import OPEN_FILES, TESTER_RTP_PORTS
from telephony.asterisk_config import AsteriskSite, render
from tests.replay import E2E_CITY

BENCH_DESKS = 400  # 100 per agency: ./bench/run's default


def test_the_testers_lab_has_media_for_the_benchs_highest_held_level_and_every_desk_on_a_call():
    first, last = TESTER_RTP_PORTS
    channels = (last - first + 1) // 2  # a pair of ports (RTP, RTCP) per channel with media
    assert channels >= max(FULL.held_levels) + 2 * BENCH_DESKS


def test_asterisk_is_told_its_limits_and_to_log_warnings_for_the_bridge():
    files = render(load_settings(E2E_CITY), AsteriskSite(ami_secret="s", desk_passwords={
        d.id: "p" for d in load_settings(E2E_CITY).desks}, rtp_start=10000, rtp_end=19999))
    assert "maxfiles = 65536" in files["asterisk.conf"]
    assert "maxcalls = 0" in files["asterisk.conf"]
    assert "rtpstart = 10000" in files["rtp.conf"] and "rtpend = 19999" in files["rtp.conf"]
    assert "\nwarnings.log => warning,error\n" in files["logger.conf"]


def test_the_lab_raises_its_open_file_limit_for_the_processes_it_starts():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = min(256, hard)

    def lowered() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))

    script = ("import resource; from hotline.lab.lab import raise_open_files_limit as r; r(); "
              "print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         preexec_fn=lowered).stdout
    expected = OPEN_FILES if hard == resource.RLIM_INFINITY else min(hard, OPEN_FILES)
    assert int(out) == expected > low

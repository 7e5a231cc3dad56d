"""`pip install .` into a fresh venv, away from the checkout, gives a hotline that renders
Asterisk's configuration, loads its Lua scripts and carries the example city file (menu,
prompts' texts) — nothing reached through the source tree."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=900,
                         env={**os.environ, **(env or {})})
    assert out.returncode == 0, f"{argv}: {out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    # A copy of the sources, so the build's own folders never land in the checkout.
    source = root / "source"
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "var", "build", "*.egg-info", "__pycache__", "results", "tests"))
    wheels = root / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)], cwd=root)
    [built] = wheels.glob("hotline-*.whl")
    return built


def _venv(where: Path) -> Path:
    venv.EnvBuilder(with_pip=True).create(where)
    return where / "bin"


@pytest.fixture(scope="module")
def installed(wheel: Path) -> Path:
    """bin/ of a new venv with hotline's wheel installed (dependencies from the registry)."""
    bin_dir = _venv(wheel.parent.parent / "venv")
    _run([str(bin_dir / "pip"), "install", "-q", str(wheel)], cwd=wheel.parent)
    return bin_dir


def test_the_ground_floor_and_the_menu_import_in_a_venv_without_redis(wheel: Path) -> None:
    bin_dir = _venv(wheel.parent.parent / "venv-no-redis")
    _run([str(bin_dir / "pip"), "install", "-q", "--no-deps", str(wheel)], cwd=wheel.parent)
    _run([str(bin_dir / "pip"), "install", "-q", "pydantic>=2.6", "pydantic-settings>=2.2"], cwd=wheel.parent)
    probe = ("import importlib.util, config, ivr.menu\n"
             "assert importlib.util.find_spec('redis') is None, 'redis is installed here'\n"
             "print(ivr.menu.start())")
    _run([str(bin_dir / "python"), "-c", probe], cwd=wheel.parent, env={"PYTHONPATH": ""})


def test_the_installed_package_renders_asterisk_conf_away_from_the_checkout(installed: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "site"
    elsewhere.mkdir()
    env = {"PYTHONPATH": "", "HOTLINE_CITY_FILE": str(elsewhere / "city.toml"), "HOTLINE_AMI_SECRET": "s3cret-for-the-test"}
    _run([str(installed / "hotline"), "city-example", "--out", "city.toml"], cwd=elsewhere, env=env)
    city_text = (elsewhere / "city.toml").read_text(encoding="utf-8")
    assert "[[agencies]]" in city_text and "[prompts" in city_text

    desks = [line.split('"')[1] for line in city_text.splitlines() if line.strip().startswith("id = \"desk")]
    assert desks, "the example city has desks"
    (elsewhere / "desks.json").write_text(json.dumps({d: f"pw-{d}" for d in desks}))
    printed = _run([str(installed / "hotline"), "asterisk-conf", "--out", "conf", "--desk-passwords", "desks.json"],
                   cwd=elsewhere, env=env)
    assert "extensions.conf" in printed
    dialplan = (elsewhere / "conf" / "extensions.conf").read_text()
    assert "[hotline-fallback]" in dialplan and "{{" not in dialplan
    assert "pw-" + desks[0] in (elsewhere / "conf" / "pjsip.conf").read_text()

    # The modules come from the venv, and the Lua scripts with them.
    probe = ("import queueing, telephony.asterisk_config as a\n"
             "from queueing.scripts import script_sources\n"
             "print(queueing.__file__); print(len(script_sources())); print(a.TEMPLATES)")
    where, count, templates = _run([str(installed / "python"), "-c", probe], cwd=elsewhere, env=env).split()
    assert where.startswith(str(installed.parent)) and templates.startswith(str(installed.parent))
    assert int(count) >= 15


def test_the_installed_package_serves_the_console_with_its_assets(installed: Path, tmp_path: Path) -> None:
    env = {"PYTHONPATH": ""}
    _run([str(installed / "hotline"), "city-example", "--out", "city.toml"], cwd=tmp_path, env=env)
    probe = ("import api.routers.console as c\n"
             "from config.settings import load_settings\n"
             "page = c.console_page(load_settings('city.toml'))\n"
             "assert '{{' not in page and '/console/assets/console.js' in page, page[:400]\n"
             "for name in ('console.html', 'console.js', 'strings.js', 'console.css'):\n"
             "    assert (c.STATIC / name).stat().st_size > 500, name\n"
             "print(c.STATIC)")
    where = _run([str(installed / "python"), "-c", probe], cwd=tmp_path, env=env).strip()
    assert where.startswith(str(installed.parent)), where

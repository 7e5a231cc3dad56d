"""The house rules, checked on every run: the floors (import-linter), lint (ruff), types
(mypy, strict on the pure modules), no declared dependency left unused, and the ground
floor loading without redis."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CODE_FOLDERS = ("config", "asterisk_conf", "queueing", "ivr", "telephony", "api", "hotline", "bench")


def _run(argv: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=600, **kwargs)


def test_no_import_runs_back_up_a_floor() -> None:
    out = _run([str(BIN / "lint-imports"), "--no-cache"], env={"PYTHONPATH": str(REPO), "PATH": str(BIN)})
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_ruff_finds_nothing() -> None:
    out = _run([str(BIN / "ruff"), "check", "--no-cache", "."])
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]


def test_mypy_finds_nothing() -> None:
    out = _run([str(BIN / "mypy"), "--no-incremental", "--cache-dir", "/dev/null"])
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]


def _imported_top_names() -> set[str]:
    names: set[str] = set()
    for folder in CODE_FOLDERS:
        for path in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names.update(a.name.split(".")[0] for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return names


# The import name of each distribution, where it differs from the distribution's name.
IMPORT_NAME = {"pyst2": "asterisk", "pydantic-settings": "pydantic_settings", "prometheus-client": "prometheus_client",
               "argon2-cffi": "argon2"}
# Run as programs or plugins rather than imported by our code.
NOT_IMPORTED_BY_DESIGN = {"uvicorn": "served through `hotline api`, which imports it"}


def test_every_declared_dependency_is_imported() -> None:
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    imported = _imported_top_names()
    unused = []
    for requirement in declared:
        dist = requirement.split(";")[0].split("[")[0]
        for sep in "<>=!~ ":
            dist = dist.split(sep)[0]
        name = IMPORT_NAME.get(dist, dist.replace("-", "_"))
        if name not in imported:
            unused.append(dist)
    assert not unused, f"declared in pyproject.toml but never imported: {unused}"


@pytest.mark.parametrize("blocked", [("redis", "panoramisk", "asterisk", "rq")])
def test_the_ground_floor_and_the_menu_load_without_redis(blocked: tuple[str, ...]) -> None:
    # A meta-path finder that refuses the libraries, as a venv without them would.
    code = (
        "import sys\n"
        f"BLOCKED = {blocked!r}\n"
        "class Refuse:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in BLOCKED:\n"
        "            raise ImportError(f'{name} is not installed here')\n"
        "sys.meta_path.insert(0, Refuse())\n"
        "import config, config.settings, config.redis_url, ivr.menu, ivr.prompts\n"
        "from config.settings import load_settings\n"
        "from ivr.menu import start\n"
        "city = load_settings('hotline.toml')\n"
        "print(type(start()).__name__, len(city.agencies))\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in BLOCKED], 'a blocked library was loaded'\n"
    )
    out = _run([sys.executable, "-c", code], env={"PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr[-3000:]

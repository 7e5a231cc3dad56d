#!/usr/bin/env python3
"""Writes tests/api/eido_schema_extract.json from a checkout of NENA911/EIDO-JSON (docs/eido.md says why).

    git clone https://github.com/NENA911/EIDO-JSON /tmp/EIDO-JSON
    .venv/bin/python scripts/eido_schema_extract.py /tmp/EIDO-JSON > tests/api/eido_schema_extract.json

NENA publishes the schema without a licence to copy it, so the project carries only what a
validator needs: the components the EIDO document reaches, with their names, types, required
lists, enums and formats. NENA's prose (description, title, example) stays out; so do the NIEM
types (Schema/NIEMComponents/*.yaml), which hotline's documents never hold: a reference to one is
kept as "any object".
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = "EmergencyIncidentDataObjectType"
PROSE = {"description", "title", "example"}
LOCAL = "#/components/schemas/"


def strip(node: Any, refs: set[str]) -> Any:
    """The node without prose; local references collected, NIEM ones made "any object"."""
    if isinstance(node, list):
        return [strip(item, refs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node and isinstance(node["$ref"], str) and set(node) - PROSE == {"$ref"}:
        ref = node["$ref"]
        if ref.startswith(LOCAL):
            refs.add(ref[len(LOCAL):])
            return {"$ref": ref}
        return {"type": "object", "x-not-carried": ref}
    out = {}
    for key, value in node.items():
        if key in PROSE:
            continue
        if key == "properties":  # property names are data, never prose: keep every one
            out[key] = {name: strip(prop, refs) for name, prop in value.items()}
        elif key == "minItems" and isinstance(value, str):
            out[key] = int(value.rstrip(","))  # upstream has `minItems: 1,` (AgentType); a validator needs the number
        else:
            out[key] = strip(value, refs)
    return out


def extract(checkout: Path) -> dict[str, Any]:
    path = checkout / "Schema" / "openapi.yaml"
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    schemas = spec["components"]["schemas"]
    kept: dict[str, Any] = {}
    todo = [ROOT]
    while todo:
        name = todo.pop()
        if name in kept:
            continue
        refs: set[str] = set()
        kept[name] = strip(schemas[name], refs)
        todo.extend(sorted(refs - set(kept)))

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(checkout), *args], capture_output=True, text=True, check=True).stdout.strip()

    return {
        "x-source": {
            "repository": "https://github.com/NENA911/EIDO-JSON",
            "path": "Schema/openapi.yaml",
            "commit": git("rev-parse", "HEAD"),
            "blob": git("rev-parse", "HEAD:Schema/openapi.yaml"),
            "openapi": spec["openapi"],
            "info_version": spec["info"]["version"],
            "notice": "An extract of NENA's EIDO schema (NENA-STA-021, (c) National Emergency Number Association): "
                      "structure only, without NENA's descriptions; made by scripts/eido_schema_extract.py; see docs/eido.md.",
        },
        "root": ROOT,
        "components": {"schemas": dict(sorted(kept.items()))},
    }


if __name__ == "__main__":
    json.dump(extract(Path(sys.argv[1])), sys.stdout, indent=1, ensure_ascii=False, sort_keys=False)
    sys.stdout.write("\n")

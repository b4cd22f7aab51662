"""The wheel's package list in pyproject.toml names every package in the tree, and the built-in schemas ship."""

from __future__ import annotations

import tomllib
from pathlib import Path

from aspects.schema_registry import BUILTIN_IDS, builtin_schema_folder

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_directory_is_listed_for_the_wheel() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("fabric", "tus_server", "aspects")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found | {"aspects.builtin_schemas"} == listed


def test_builtin_schemas_are_found() -> None:
    folder = builtin_schema_folder()
    assert sorted(f"{name}.json" for name in BUILTIN_IDS) == sorted(
        entry.name for entry in folder.iterdir() if entry.name.endswith(".json")
    )

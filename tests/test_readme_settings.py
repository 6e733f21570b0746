"""The README's settings table lists every variable ``mmdemo/settings.py`` reads, with the default ``Settings`` has
wherever the table states a plain number, and every other ``MMDEMO_*`` variable the app reads is named somewhere in
the README: the table cannot drift from the declarations (it had: nine budgets were missing)."""

from __future__ import annotations

import re
from pathlib import Path

from mmdemo.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SETTINGS = (ROOT / "mmdemo" / "settings.py").read_text(encoding="utf-8")
VARIABLE = re.compile(r'"(MMDEMO_[A-Z0-9_]*[A-Z0-9])"')


def _table() -> dict[str, str]:
    """Variable → its default cell, for every row of the settings table (a row may name several variables)."""
    rows = {}
    for line in README.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `MMDEMO_") and len(cells) >= 4:
            for name in re.findall(r"`(MMDEMO_[A-Z0-9_]+)`", cells[0]):
                rows[name] = cells[2]
    return rows


def test_the_settings_table_lists_every_variable_the_settings_read() -> None:
    read = set(VARIABLE.findall(SETTINGS))
    assert read, "no variable found: the pattern no longer matches mmdemo/settings.py"
    assert sorted(read - set(_table())) == []


def test_a_plain_default_in_the_table_is_the_settings_default() -> None:
    pairs = re.findall(r'_env_\w+\(\s*env,\s*"(MMDEMO_\w+)",\s*defaults\.(\w+)\s*\)', SETTINGS)
    assert len(pairs) >= 15, pairs
    checked = 0
    for name, attribute in pairs:
        stated = re.match(r"`(\d+(?:\.\d+)?)`", _table()[name])
        if stated:
            assert float(stated.group(1)) == float(getattr(Settings(), attribute)), (name, stated.group(1))
            checked += 1
    assert checked >= 12, checked


def test_every_other_variable_the_app_reads_is_in_the_readme() -> None:
    sources = [p for p in (ROOT / "mmdemo").rglob("*.py") if "testing" not in p.parts]
    read = {name for path in sources for name in VARIABLE.findall(path.read_text(encoding="utf-8"))}
    assert sorted(name for name in read if f"`{name}`" not in README) == []

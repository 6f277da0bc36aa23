"""docs/roles.md is generated from the permission table: the committed page must be what the generator writes
now, so that adding or changing an action without regenerating the page fails here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.auth import PERMISSIONS, roles_doc

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_roles_page_is_what_the_generator_produces():
    committed = (REPO_ROOT / "docs" / "roles.md").read_text(encoding="utf-8")

    assert committed == roles_doc.render(), "docs/roles.md is out of date: run `python main.py docs roles`"


def test_every_action_appears_with_its_lowest_role_and_a_description():
    page = roles_doc.render()

    for action, role in PERMISSIONS.items():
        assert f"| `{action}` | {role.name} | {roles_doc.DESCRIPTIONS[action]} |" in page


def test_an_action_without_a_description_is_refused(monkeypatch):
    monkeypatch.setitem(PERMISSIONS, "widget.frobnicate", PERMISSIONS["page.create"])

    try:
        roles_doc.render()
    except KeyError as exc:
        assert "widget.frobnicate" in str(exc)
    else:
        raise AssertionError("an undescribed action was documented")


def test_the_command_writes_the_generated_page(tmp_path):
    target = tmp_path / "roles.md"

    result = subprocess.run([sys.executable, "main.py", "docs", "roles", "--output", str(target)], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=60, check=False)

    assert result.returncode == 0, result.stderr
    assert str(target) in result.stdout
    assert target.read_text(encoding="utf-8") == roles_doc.render()

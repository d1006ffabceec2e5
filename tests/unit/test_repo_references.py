"""The repository stands on its own: every relative link in its docs resolves inside it, and
nothing points at design files it does not contain."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from dojo.settings import REPO_ROOT

SKIP = {".venv", ".git", ".dojo", "node_modules", ".pytest_cache", ".ruff_cache"}
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)\s]*)?\)")
OUTSIDE = re.compile(r"\.\./shared|\bDESIGN\.md\b|\bSTYLE\.md\b|\bseeds/")


def repo_files(*suffixes: str) -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(REPO_ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP and not d.endswith(".egg-info")]
        found += [Path(folder) / name for name in files if Path(name).suffix in suffixes]
    return sorted(found)


DOCS = repo_files(".md")


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(REPO_ROOT)) for d in DOCS])
def test_relative_links_resolve_inside_the_repository(doc: Path) -> None:
    broken = []
    for target, _anchor in LINK.findall(doc.read_text()):
        if re.match(r"[a-z]+:", target) or target.startswith("<"):
            continue  # a URL, or a placeholder the reader fills in
        resolved = (doc.parent / target).resolve()
        if not resolved.exists() or REPO_ROOT.resolve() not in resolved.parents:
            broken.append(target)
    assert broken == []


def test_nothing_refers_to_design_files_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{number}"
        for path in repo_files(".md", ".py", ".yaml", ".yml", ".toml", ".sh", ".cfg")
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line) and path.name != "test_repo_references.py"
    ]
    assert offenders == []


def test_the_architecture_page_exists_and_the_readme_links_it() -> None:
    assert (REPO_ROOT / "docs" / "architecture.md").is_file()
    assert "](docs/architecture.md)" in (REPO_ROOT / "README.md").read_text()

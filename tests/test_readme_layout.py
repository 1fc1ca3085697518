"""The README's Layout section names every module and package of the tree, and nothing that is not there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("factory", "index_server")
NAMED = re.compile(r"`((?:factory|index_server)/[\w/]*?(?:\.py|/))`")


def layout_section(readme: str) -> str:
    start = readme.index("\n## Layout\n")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end != -1 else None]


def named_in(section: str) -> set[str]:
    return set(NAMED.findall(section))


def in_tree(root: Path) -> set[str]:
    """Every module (less `__init__.py`) and every package folder under the two packages, as README paths."""
    found: set[str] = set()
    for pkg in PACKAGES:
        for path in (root / pkg).rglob("*.py"):
            rel = path.relative_to(root)
            if "data" in rel.parts or "__pycache__" in rel.parts:
                continue
            if path.name == "__init__.py":
                if rel.parent.as_posix() not in PACKAGES:
                    found.add(rel.parent.as_posix() + "/")
            else:
                found.add(rel.as_posix())
    return found


def layout_problems(root: Path) -> list[str]:
    named = named_in(layout_section((root / "README.md").read_text()))
    tree = in_tree(root)
    missing = sorted(tree - named)
    stale = sorted(n for n in named - tree if not (root / n).exists())
    return [f"not named in README's Layout: {m}" for m in missing] + [
        f"named in README's Layout but absent: {s}" for s in stale
    ]


def test_readme_layout_names_exactly_the_tree() -> None:
    assert layout_problems(ROOT) == []


def test_a_module_without_a_readme_line_is_caught(tmp_path: Path) -> None:
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            if "__pycache__" in path.parts:
                continue
            dest = tmp_path / path.relative_to(ROOT)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(path.read_bytes())
    (tmp_path / "README.md").write_text((ROOT / "README.md").read_text())
    assert layout_problems(tmp_path) == []
    (tmp_path / "factory" / "stages" / "new_stage.py").write_text('"""A stage nobody documented."""\n')
    (tmp_path / "index_server" / "widgets").mkdir()
    (tmp_path / "index_server" / "widgets" / "__init__.py").write_text("")
    (tmp_path / "factory" / "run" / "progress.py").unlink()
    assert layout_problems(tmp_path) == [
        "not named in README's Layout: factory/stages/new_stage.py",
        "not named in README's Layout: index_server/widgets/",
        "named in README's Layout but absent: factory/run/progress.py",
    ]

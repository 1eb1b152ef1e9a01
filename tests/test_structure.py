"""The developers' guide's size rule (issue 12): no function in ``hwprune/`` over 100 lines."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "hwprune"
MAX_FUNCTION_LINES = 100


def long_functions(root: Path, limit: int) -> list[str]:
    """``"path:line name (n lines)"`` of every function or method below ``root`` longer than
    ``limit`` lines (``def`` to its last line; decorators not counted)."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > limit:
                    found.append(f"{path.relative_to(root.parent)}:{node.lineno} {node.name} ({n})")
    return found


def test_long_functions_finds_a_long_one(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(101))
    (tmp_path / "m.py").write_text(f"def short():\n    return 1\n\n\ndef long():\n{body}\n")
    assert long_functions(tmp_path, MAX_FUNCTION_LINES) == [f"{tmp_path.name}/m.py:5 long (102)"]


def test_no_function_in_the_package_is_over_100_lines() -> None:
    assert long_functions(PACKAGE, MAX_FUNCTION_LINES) == []


MAX_MODULE_LINES = 800


def test_no_module_in_the_package_is_over_800_lines() -> None:
    """The guide's module rule: ``hwprune/`` modules stay at most 800 lines."""
    long = [
        f"{p.relative_to(PACKAGE.parent)} ({n})"
        for p in sorted(PACKAGE.rglob("*.py"))
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert long == []

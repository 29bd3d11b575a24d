"""Layers point down, and nothing imports the bare folder names.

``pyproject.toml`` ``[tool.importlinter]`` states the layers (runner/CLI > audit and reports
> swarm > chaos > pipeline); ``lint-imports`` checks them here as in CI, and a seeded tree
with one upward import proves the contract as written catches it. The folders are installed
as ``exodus2045.<folder>``, so a bare ``import chaos`` (or ``-m scenarios.cli``) would load a
second copy of a module under another name, or nothing at all from an install: an AST scan of
every Python file in the repository refuses them.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from exodus2045.locustfiles.pipeline_view import REPORT_CSP
from exodus2045.reports.formats.html import CSP

ROOT = Path(__file__).resolve().parents[1]
BARE = ("app_under_test", "chaos", "locustfiles", "scenarios", "reports")
SKIP_DIRS = {".git", ".venv", "build", "dist", "runs", "test-output", "__pycache__", "node_modules"}
LINT_IMPORTS = ("import sys; from importlinter.cli import lint_imports_command; "
                "sys.exit(lint_imports_command())")
_DASH_M = re.compile(rf"(?:^|\s)-m\s+(?:{'|'.join(BARE)})(?:\.|\s|$)")


def lint_imports(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None,
                 ) -> subprocess.CompletedProcess:
    """``lint-imports`` run by this interpreter, so it analyses the code the tests import."""
    return subprocess.run([sys.executable, "-c", LINT_IMPORTS, "--no-cache", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=120)


def test_lint_imports_passes() -> None:
    done = lint_imports()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_the_layers_contract_catches_an_upward_import(tmp_path: Path) -> None:
    """The contract as written in pyproject.toml, on a copy of the layout with one import
    from the pipeline up into chaos: lint-imports fails and names it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    assert [name.removeprefix("exodus2045.") for name in layers] == [
        "scenarios", "reports", "locustfiles", "chaos", "app_under_test"]
    for layer in layers:
        package = tmp_path / "seeded" / layer.replace("exodus2045.", "").replace(".", "/")
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
    (tmp_path / "seeded" / "chaos" / "down.py").write_text("import seeded.app_under_test\n")
    (tmp_path / "seeded" / "app_under_test" / "up.py").write_text("import seeded.chaos\n")
    seeded = [name.replace("exodus2045.", "seeded.") for name in layers]
    roots = ", ".join(f'"{name}"' for name in seeded)
    (tmp_path / "seeded.toml").write_text(
        f"[tool.importlinter]\nroot_packages = [{roots}]\n\n"
        f"[[tool.importlinter.contracts]]\nname = \"layers\"\ntype = \"layers\"\n"
        f"layers = [{roots}]\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = lint_imports("--config", str(tmp_path / "seeded.toml"), cwd=tmp_path, env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "seeded.app_under_test.up -> seeded.chaos" in done.stdout
    assert "seeded.chaos.down" not in done.stdout, "importing downwards is allowed"


def bare_imports(source: str, filename: str = "<string>", strings: bool = True) -> list[str]:
    """Every import of a bare folder name in ``source``: import statements, and (with
    ``strings``) ``-m NAME.`` in a string or argv list and ``-c`` code strings importing one."""
    found: list[str] = []
    tree = ast.parse(source, filename)
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found += [f"{filename}:{node.lineno}: import {n}" for n in names
                  if n.split(".")[0] in BARE]
        if not strings:
            continue
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
            for flag, module in zip(items, items[1:], strict=False):
                if flag == "-m" and isinstance(module, str) and module.split(".")[0] in BARE:
                    found.append(f"{filename}:{node.lineno}: -m {module}")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if _DASH_M.search(text):
                found.append(f"{filename}:{node.lineno}: {text.strip()[:80]!r}")
            elif "import" in text:
                try:
                    inner = bare_imports(text)
                except (SyntaxError, ValueError):
                    continue  # prose, not code
                found += [f"{filename}:{node.lineno}: code string {f.split(': ', 1)[1]}"
                          for f in inner]
    return found


def python_files() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py")
                  if not SKIP_DIRS & set(p.relative_to(ROOT).parts[:-1])
                  and not any(part.endswith(".egg-info") for part in p.parts))


@pytest.mark.parametrize("source", [
    "import chaos\n",
    "import reports.render as r\n",
    "from scenarios.cli import main\n",
    "from app_under_test import wish\n",
    "argv = [sys.executable, '-m', 'scenarios.cli', 'run']\n",
    "cmd = 'python -m locustfiles.exodus --help'\n",
    "code = 'import sys; from scenarios.benchmarks.swarm import serve; serve(1)'\n",
])
def test_the_scan_finds_a_seeded_bare_import(source: str) -> None:
    assert bare_imports(source), source


@pytest.mark.parametrize("source", [
    "from exodus2045.chaos import faults\n",
    "from . import chaos\n",
    "argv = [sys.executable, '-m', 'exodus2045.scenarios.cli']\n",
    '"""We never import chaos here, and reports are rendered later."""\n',
    "x = {'chaos': 1, 'reports': 2}\n",
])
def test_the_scan_leaves_namespaced_imports_and_prose_alone(source: str) -> None:
    assert bare_imports(source) == []


def test_nothing_imports_the_bare_folder_names() -> None:
    files = python_files()
    assert len(files) > 100 and ROOT / "tests" / "test_layers.py" in files
    found = [hit for path in files  # this file's seeded strings are its own test cases
             for hit in bare_imports(path.read_text(encoding="utf-8"),
                                     str(path.relative_to(ROOT)),
                                     strings=path.name != "test_layers.py")]
    assert found == [], "\n".join(found)


def test_the_console_serves_reports_under_the_reports_own_policy_and_a_sandbox() -> None:
    """The swarm's console states the header itself (it sits below reports); it must not
    drift from the policy the report carries."""
    assert f"{CSP}; sandbox" == REPORT_CSP

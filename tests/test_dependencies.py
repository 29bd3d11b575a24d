"""Dependencies say what is used, and the optional ones fail politely.

- deptry passes, run exactly as ``.ci/run`` runs it (so CI and this test cannot drift);
- each dependency whose internals a shim leans on has an upper bound, and the bound admits
  the version the shim's test ran against;
- ``exodus run --browser`` without the ``browser`` extra is refused up front in one line.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from exodus2045.app_under_test.frontend import uvicorn_compat
from exodus2045.locustfiles import locust_compat

REPO = Path(__file__).resolve().parents[1]


def deptry_commands() -> list[list[str]]:
    lines = (REPO / ".ci" / "run").read_text().splitlines()
    return [shlex.split(line) for line in lines if line.startswith("deptry ")]


def test_ci_runs_deptry_over_the_package_and_the_tests() -> None:
    commands = deptry_commands()
    assert ["deptry", "."] in commands, "the package pass, configured by [tool.deptry]"
    assert any("--exclude" in c for c in commands), "a pass that scans tests/ as well"


@pytest.mark.parametrize("command", deptry_commands(), ids=lambda c: " ".join(c[1:]))
def test_deptry_finds_no_dependency_issue(command: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "deptry", "--no-ansi", *command[1:]],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "No dependency issues found" in done.stdout + done.stderr


def declared() -> dict[str, Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(r) for r in project["dependencies"]]
    return {r.name: r for r in requirements}


@pytest.mark.parametrize("tested", [locust_compat.TESTED_WITH, uvicorn_compat.TESTED_WITH],
                         ids=["locust_compat", "uvicorn_compat"])
def test_shimmed_dependencies_are_bounded_to_what_their_shims_were_tested_with(
        tested: dict[str, str]) -> None:
    requirements = declared()
    for name, tested_version in tested.items():
        spec = requirements[name].specifier
        assert any(s.operator == "<" for s in spec), f"{name} needs an upper bound ({spec})"
        assert spec.contains(tested_version), f"{name}{spec} excludes the tested {tested_version}"
        assert spec.contains(version(name)), f"installed {name} {version(name)} is outside {spec}"


def test_playwright_is_the_browser_extra_and_dev_pulls_it_in() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert [Requirement(r).name for r in extras["browser"]] == ["playwright"]
    assert "exodus2045[browser]" in extras["dev"]
    assert "playwright" not in declared(), "the core install runs without a browser"


def test_the_trace_api_is_core_and_the_sdk_is_the_tracing_extra() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert sorted(Requirement(r).name for r in extras["tracing"]) == [
        "opentelemetry-exporter-otlp-proto-http", "opentelemetry-sdk"]
    assert "exodus2045[tracing]" in extras["dev"]
    core = {Requirement(r).name for r in project["dependencies"]}
    assert "opentelemetry-api" in core and "opentelemetry-sdk" not in core


def test_a_browser_run_without_playwright_is_refused_in_one_line(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "playwright.py").write_text("raise ImportError(\"No module named 'playwright'\")\n")
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "exodus2045.scenarios.cli", "run", "smoke", "--browser",
         "--out", str(out)],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(shadow)}, capture_output=True, text=True,
        timeout=60, check=False)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "playwright is not installed" in line and "exodus2045[browser]" in line
    assert not out.exists(), "refused before anything ran"


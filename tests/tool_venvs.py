"""Tools the tests run from venvs of their own: the local AWS (ministack) and checkov.

Both pin dependencies (ministack pins botocore exactly; checkov pins dozens) that must not
bend the project's own ranges, so each lives in its own venv, created from its requirements
file in tests/ -- the one place its pin lives -- by ``.ci/run`` (``python -m
tests.tool_venvs``) or by hand. Each venv is found at ``$EXODUS_<NAME>_VENV`` or
``~/.cache/exodus2045/<name>-venv`` and carries a stamp of the pins it was built from, so
a changed pin rebuilds it and an unchanged one costs nothing.

The rule for a missing tool is the browser tests' (tests/browser_fixtures.py): skip on a
laptop, fail under ``CI=true`` -- CI creates the venvs, so a missing one there is a broken
build, not a reason to go green without the check ever having run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@dataclass(frozen=True)
class ToolVenv:
    name: str  # "ministack" -> tests/ministack-requirements.txt, $EXODUS_MINISTACK_VENV
    binary: str  # the console script that proves the install

    @property
    def requirements(self) -> Path:
        return HERE / f"{self.name}-requirements.txt"

    @property
    def env_name(self) -> str:
        return f"EXODUS_{self.name.upper()}_VENV"

    def path(self) -> Path:
        raw = os.environ.get(self.env_name, "")
        return Path(raw) if raw else Path.home() / ".cache" / "exodus2045" / f"{self.name}-venv"

    def bin(self, name: str | None = None) -> Path:
        return self.path() / "bin" / (name or self.binary)

    def pinned(self) -> str:
        """The requirement lines, e.g. ``ministack==X boto3==Y``."""
        lines = [ln.strip() for ln in self.requirements.read_text().splitlines()]
        return " ".join(ln for ln in lines if ln and not ln.startswith("#"))

    def problem(self) -> str | None:
        """Why the tool cannot run, or None when its venv holds the pinned versions."""
        venv = self.path()
        stamp = venv / "exodus-pin.txt"
        if not self.bin().exists():
            return f"no {self.binary} in {venv} (run .ci/run, or: python -m tests.tool_venvs)"
        if not stamp.exists() or stamp.read_text().strip() != self.pinned():
            return f"{venv} does not hold {self.pinned()} (run: python -m tests.tool_venvs)"
        return None

    def ensure(self) -> Path:
        """Create (or bring up to the pins) the venv; cheap when it already matches."""
        venv = self.path()
        if self.problem() is None:
            return venv
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                        "--disable-pip-version-check", "-r", str(self.requirements)], check=True)
        (venv / "exodus-pin.txt").write_text(self.pinned() + "\n")
        return venv

    def require(self) -> Path:
        """The venv; skip the test without one, fail it instead under ``CI=true``."""
        reason = self.problem()
        if reason is None:
            return self.path()
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {self.name} cannot run: {reason}")
        pytest.skip(reason)


MINISTACK = ToolVenv("ministack", "ministack")
CHECKOV = ToolVenv("checkov", "checkov")
ALL = (MINISTACK, CHECKOV)


if __name__ == "__main__":  # python -m tests.tool_venvs: create every tool venv
    for tool in ALL:
        print(f"{tool.name}: {tool.ensure()}")

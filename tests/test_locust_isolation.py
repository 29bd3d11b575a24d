"""An audited run is the same wherever it starts: the user's Locust config does not leak in.

A hostile setup puts Locust configuration in every place Locust 2.47 reads it -- a
``locust.conf`` and a ``pyproject.toml`` ``[tool.locust]`` in the working directory, a
``~/.locust.conf`` and ``LOCUST_*`` variables -- each one writing a telltale file or
filtering every task away. A control run of plain Locust proves each of them really is
read; ``exodus run`` from the same place is unaffected and names all four.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

from exodus2045.scenarios.locust_isolation import LOCUST_CONFIG_FILES, isolate, user_config

TRIVIAL_LOCUSTFILE = """
from locust import User, constant, task


class Somebody(User):
    wait_time = constant(0.1)

    @task
    def idle(self):
        pass
"""


def hostile(tmp_path: Path) -> tuple[Path, dict[str, str], dict[str, Path]]:
    """A working directory and an environment (with HOME) full of Locust configuration."""
    cwd, home = tmp_path / "project", tmp_path / "home"
    cwd.mkdir()
    home.mkdir()
    leaks = {"home": tmp_path / "leak-home.log", "conf": tmp_path / "leak-conf.html",
             "pyproject": tmp_path / "leak-pyproject"}
    (home / ".locust.conf").write_text(f"logfile = {leaks['home']}\n")
    (cwd / "locust.conf").write_text(f"html = {leaks['conf']}\n")
    (cwd / "pyproject.toml").write_text(
        f'[project]\nname = "someone-else"\n\n[tool.locust]\njson-file = "{leaks["pyproject"]}"\n')
    env = {**os.environ, "HOME": str(home), "PYTHONUSERBASE": site.getuserbase(),
           "LOCUST_USERS": "1", "LOCUST_TAGS": "no-task-has-this-tag"}
    return cwd, env, leaks


def leaked(leaks: dict[str, Path]) -> list[str]:
    return sorted(name for name, path in leaks.items()
                  if path.exists() or path.with_suffix(".json").exists())


def test_our_list_of_config_files_is_locusts_own() -> None:
    """Read from the installed Locust's source (importing Locust would patch this process)."""
    [package] = importlib.util.find_spec("locust").submodule_search_locations  # not imported
    source = (Path(package) / "argument_parser.py").read_text()
    [value] = [node.value for node in ast.walk(ast.parse(source))
               if isinstance(node, ast.Assign)
               and any(getattr(t, "id", None) == "DEFAULT_CONFIG_FILES" for t in node.targets)]
    assert ast.literal_eval(value) == LOCUST_CONFIG_FILES, \
        "Locust reads other config files now: update scenarios/locust_isolation.py"


def test_isolate_names_every_source_and_leaves_none_of_them_in_reach(tmp_path: Path) -> None:
    cwd, env, _ = hostile(tmp_path)
    clean = tmp_path / "clean"
    clean.mkdir()
    isolation = isolate(clean, env, cwd)
    assert list(isolation.ignored) == [
        str(tmp_path / "home" / ".locust.conf"), str(cwd / "locust.conf"),
        f"[tool.locust] in {cwd / 'pyproject.toml'}", "environment LOCUST_TAGS, LOCUST_USERS"]
    assert isolation.cwd == clean and isolation.env["HOME"] == str(clean)
    assert not [k for k in isolation.env if k.startswith("LOCUST_")]
    assert user_config(isolation.env, isolation.cwd) == [], "nothing left for Locust to read"
    assert isolation.env["PYTHONUSERBASE"] == site.getuserbase(), "--user installs still import"
    (cwd / "pyproject.toml").write_text("[tool.black]\nline-length = 100\n")
    assert isolate(clean, env, cwd).ignored[2] == "environment LOCUST_TAGS, LOCUST_USERS", \
        "a pyproject.toml without [tool.locust] is nobody's Locust config"


def test_the_hostile_setup_really_is_read_by_locust(tmp_path: Path) -> None:
    """The control: plain Locust started there obeys every one of the four sources."""
    cwd, env, leaks = hostile(tmp_path)
    locustfile = tmp_path / "trivial.py"
    locustfile.write_text(TRIVIAL_LOCUSTFILE)
    done = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-r", "1",
         "-t", "1s", "--only-summary"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert leaked(leaks) == ["conf", "home", "pyproject"], done.stderr[-2000:]
    assert "no tasks left after filtering" in leaks["home"].read_text(), "LOCUST_TAGS is read"


@pytest.mark.slow
def test_exodus_run_from_there_is_unaffected_and_says_what_it_ignored(tmp_path: Path) -> None:
    cwd, env, leaks = hostile(tmp_path)
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "exodus2045.scenarios.cli", "run", "smoke", "--evacuees", "120",
         "--arrival-rate", "120", "--out", str(out)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert leaked(leaks) == [], "no config file reached the swarm"
    ledger = [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines()]
    assert len({line["wish_id"] for line in ledger}) == 120, "every evacuee left: no tag filter"
    assert json.loads((out / "verdict.json").read_text())["sound"] is True
    expected = [str(tmp_path / "home" / ".locust.conf"), str(cwd / "locust.conf"),
                f"[tool.locust] in {cwd / 'pyproject.toml'}",
                "environment LOCUST_TAGS, LOCUST_USERS"]
    assert json.loads((out / "run.json").read_text())["locust_config_ignored"] == expected
    [said] = [line for line in done.stderr.splitlines() if "isolated from user config" in line]
    first_log_line = (out / "locust.log").read_text().splitlines()[0]
    for source in expected:
        assert source in said and source in first_log_line, source

"""``exodus chaos`` through the real process: listing, and one precise line + exit 2 on error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_chaos_plan import KNOWN

ROOT = Path(__file__).resolve().parents[1]


def exodus(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "exodus2045.scenarios.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "200"})


def test_list_shows_every_fault_with_targets_and_keys() -> None:
    done = exodus("chaos", "list")
    assert done.returncode == 0, done.stderr
    for name in KNOWN.split(", "):
        assert name in done.stdout
    assert "pod-worker/store.put" in done.stdout and "ms=number" in done.stdout
    listed = json.loads(exodus("chaos", "list", "--json").stdout)
    assert [f["name"] for f in listed] == KNOWN.split(", ")


@pytest.mark.parametrize(("args", "message"), [
    (["kil", "--target", "parser"], f"unknown fault 'kil'; known faults: {KNOWN}"),
    (["kill", "--target", "parsers"], "target 'parsers': unknown component 'parsers'; known: "
                                      "frontend, parser, pod-worker"),
    (["throttle", "--target", "pod-worker"], "fault 'throttle' needs an operation in its target, "
     "e.g. 'pod-worker/store.put'; the pod-worker does queue.receive, queue.send, queue.delete, "
     "store.put"),
    (["latency", "--target", "parser/queue.send", "--param", "ms=soon"],
     "fault 'latency': ms must be a number, got 'soon'"),
    (["latency", "--target", "parser/queue.send", "--param", "delay=5"],
     "fault 'latency' has no key 'delay'; its keys: ms"),
    (["pause", "--target", "parser"],
     "fault 'pause' needs a duration: a paused process without one would stay stopped forever"),
    (["pause", "--target", "parser", "--for", "soon"],
     "--for: expected a duration like 500ms, 20s, 2m, 1h or 1h30m, got 'soon'"),
    (["pause", "--target", "parser", "--for", "20"],
     "--for: expected a duration like 500ms, 20s, 2m, 1h or 1h30m, got the bare number '20': "
     "say the unit, e.g. '20s'"),
    (["kill", "--target", "parser", "--probability", "2"],
     "probability must be greater than 0 and at most 1, got 2"),
    (["kill", "--target", "parser", "--probability", "often"],
     "--probability must be a number between 0 and 1, got 'often'"),
])
def test_invalid_apply_is_one_precise_line_and_exit_2(
        args: list[str], message: str, tmp_path: Path) -> None:
    done = exodus("chaos", "apply", *args, "--state-dir", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr == f"exodus chaos: {message}\n"
    assert not (tmp_path / "faults.json").exists(), "nothing was touched"


def test_apply_needs_a_running_stack(tmp_path: Path) -> None:
    done = exodus("chaos", "apply", "throttle", "--target", "parser/queue.send",
                  "--state-dir", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr == (f"exodus chaos: {tmp_path}: no stack here (no stack.json); start one "
                           f"with `exodus up --state-dir {tmp_path}`\n")
    missing = exodus("chaos", "clear", "--state-dir", str(tmp_path / "nope"))
    assert missing.returncode == 2
    assert missing.stderr == f"exodus chaos: {tmp_path / 'nope'}: no such state dir\n"

"""``exodus reset`` empties a stopped stack and refuses a running one."""

from __future__ import annotations

import subprocess
import sys

from exodus2045.app_under_test.backends.local import open_local
from exodus2045.app_under_test.ports import OutgoingMessage
from exodus2045.app_under_test.statedir import StateDir
from tests.stack_fixtures import running_stack


def exodus(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "exodus2045.scenarios.cli", *args], capture_output=True,
                          text=True, timeout=60)


def test_reset_refuses_a_running_stack_then_empties_it(tmp_path):
    state = StateDir(tmp_path / "state")
    with running_stack(state.root):
        busy = exodus("reset", "--state-dir", str(state.root))
        assert busy.returncode == 2 and "in use by a running `exodus up`" in busy.stderr
    backend = open_local(state)
    backend.wishes.send_batch([OutgoingMessage("left over")])
    backend.close()
    done = exodus("reset", "--state-dir", str(state.root))
    assert done.returncode == 0, done.stderr
    assert "queue-wishes.db" in done.stdout
    backend = open_local(state)
    assert backend.wishes.depth().visible == 0 and backend.store.count() == 0
    backend.close()


def test_reset_of_a_missing_dir_is_one_line(tmp_path):
    result = exodus("reset", "--state-dir", str(tmp_path / "nope"))
    assert result.returncode == 2 and "no such state dir" in result.stderr

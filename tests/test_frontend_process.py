"""``python -m exodus2045.app_under_test.frontend``: a real process, as the supervisor runs it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from exodus2045.app_under_test import settings as s
from exodus2045.app_under_test.backends.local import open_local
from exodus2045.app_under_test.statedir import StateDir
from tests.frontend_fixtures import drain_bodies, wait_for, wish

EXIT_TIMEOUT_S = 15


def child_env(state_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in s.ALL_ENV}
    env[s.ENV_STATE_DIR] = str(state_dir)
    env.update(extra)
    return env


@contextmanager
def frontend_process(state_dir: Path, **extra: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """The frontend on an inherited listening socket, like ``exodus up`` starts it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.set_inheritable(True)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    process = subprocess.Popen(
        [sys.executable, "-m", "exodus2045.app_under_test.frontend", "--fd", str(sock.fileno()),
         "--index", "1"],
        env=child_env(state_dir, **extra), pass_fds=(sock.fileno(),),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    sock.close()  # the child holds its own copy: the port lives as long as it does
    try:
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(EXIT_TIMEOUT_S)
        if process.stdout:
            process.stdout.close()


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def test_serves_on_an_inherited_socket_and_stops_on_sigterm(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    sent = wish(1)
    with frontend_process(state_dir) as (url, process):
        wait_for(lambda: healthy(url) or process.poll() is not None, 20, "the frontend")
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        response = httpx.post(f"{url}/api/wishes", json=sent, timeout=10)
        assert response.status_code == 202
        process.send_signal(signal.SIGTERM)
        code = process.wait(EXIT_TIMEOUT_S)
        assert code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after a clean stop
        output = process.stdout.read().decode() if process.stdout else ""
        assert "Traceback" not in output, output
    backend = open_local(StateDir(state_dir))
    try:
        assert [b["wish_id"] for b in drain_bodies(backend)] == [sent["wish_id"]]
    finally:
        backend.close()


def test_a_bad_setting_exits_2_with_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "exodus2045.app_under_test.frontend", "--port", "0"],
        env=child_env(tmp_path, **{s.ENV_FLAWS: "no-such-flaw"}),
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert "unknown flaw 'no-such-flaw'" in done.stderr
    assert "Traceback" not in done.stderr


def test_every_log_line_carries_its_time_so_a_report_can_place_it(tmp_path: Path) -> None:
    from exodus2045.chaos.board import ActiveFault, FaultBoard
    from exodus2045.reports.around import read_logs

    state = StateDir(tmp_path / "state").ensure()
    FaultBoard(state).add(ActiveFault.new("error", "frontend/queue.send", 1.0, {}, 1, "test"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.set_inheritable(True)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    started = time.time()
    process = subprocess.Popen(  # chaos's entry: the board's fault fails the enqueue
        [sys.executable, "-m", "exodus2045.chaos.entry", "frontend", "--fd", str(sock.fileno())],
        env=child_env(state.root), pass_fds=(sock.fileno(),), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    sock.close()
    try:
        wait_for(lambda: healthy(url) or process.poll() is not None, 20, "the frontend")
        assert httpx.post(f"{url}/api/wishes", json=wish(1), timeout=10).status_code == 503
        process.send_signal(signal.SIGTERM)
        process.wait(EXIT_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(EXIT_TIMEOUT_S)
    output = process.stdout.read().decode()
    process.stdout.close()
    (tmp_path / "run" / "logs").mkdir(parents=True)
    (tmp_path / "run" / "logs" / "frontend-0.log").write_text(output)
    placed = read_logs(tmp_path / "run", started)["frontend-0"]
    written = [line for line in output.splitlines() if line.strip()]
    assert [p.text for p in placed] == written  # every line, none before a timestamp
    assert all(-1 < p.t < 60 for p in placed), placed
    assert any("tracing" in p.text for p in placed)  # the frontend's own INFO line
    assert any("queue unavailable" in p.text and "WARNING" in p.text for p in placed), output

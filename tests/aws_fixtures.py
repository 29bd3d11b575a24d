"""A local AWS for tests: ministack on 127.0.0.1, a free port, its own dirs, then stopped.

ministack pins botocore exactly, so it runs from a venv of its own (tests/tool_venvs.py;
pins in ``tests/ministack-requirements.txt``): skipped on a laptop without it, failed under
``CI=true``.

A test module takes the emulator by importing ``ministack_session`` (the fixture is named
``ministack``) and asking for ``ministack``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.group_reaper import reap_with_this_process, stop_reaper
from tests.tool_venvs import MINISTACK

REGION = "us-east-1"
#: ministack accepts any credentials; these keep boto3 from looking for real ones.
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
START_TIMEOUT_S = 60.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Ministack:
    """A running emulator: its endpoint, and how to build clients that talk to it."""

    endpoint: str
    process: subprocess.Popen
    workdir: Path
    reaper: subprocess.Popen | None = None  # ends the group if pytest dies (group_reaper)
    region: str = REGION

    def client(self, service: str):
        import boto3

        return boto3.session.Session(region_name=self.region, **CREDENTIALS).client(
            service, endpoint_url=self.endpoint
        )

    @property
    def log(self) -> Path:
        return self.workdir / "ministack.log"

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the emulator, then anything left in its process group (its Lambda workers;
        the group is the emulator's own, made by ``start_new_session``)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.reaper is not None:
            stop_reaper(self.reaper)


def _emulator_env(workdir: Path, port: int, venv: Path) -> dict[str, str]:
    # Nothing of the caller's AWS settings: the emulator must not point anywhere but itself.
    # Its venv first on PATH: a function runs on that interpreter (with boto3 only, as on
    # AWS), never on one where the project happens to be installed.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "VIRTUAL_ENV", "PYTHON"))}
    env.update({
        "PATH": os.pathsep.join([str(venv / "bin"), env.get("PATH", "")]),
        "GATEWAY_PORT": str(port),
        "BIND_HOST": "127.0.0.1",
        "IOT_MTLS_ENABLED": "0",
        "SFTP_ENABLED": "0",
        "TMPDIR": str(workdir / "tmp"),
        "STATE_DIR": str(workdir / "state"),
        "S3_DATA_DIR": str(workdir / "s3"),
        "MINISTACK_REGION": REGION,
        "MINISTACK_HOST": "127.0.0.1",  # queue URLs name the loopback address, not "localhost"
        "LOG_LEVEL": "WARNING",
    })
    return env


def start_ministack(workdir: Path, venv: Path | None = None) -> Ministack:
    """Start ministack in ``workdir``; return once a real SQS ListQueues call answers."""
    venv = venv or MINISTACK.path()
    (workdir / "tmp").mkdir(parents=True, exist_ok=True)
    port = _free_port()
    with open(workdir / "ministack.log", "wb") as log:
        proc = subprocess.Popen(
            [str(venv / "bin" / "ministack")], cwd=workdir, env=_emulator_env(workdir, port, venv),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    stack = Ministack(f"http://127.0.0.1:{port}", proc, workdir,
                      reaper=reap_with_this_process(proc.pid))
    _wait_ready(stack)
    return stack


def _wait_ready(stack: Ministack) -> None:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    sqs = boto3.session.Session(region_name=stack.region, **CREDENTIALS).client(
        "sqs", endpoint_url=stack.endpoint,
        config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=5),
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if stack.process.poll() is not None:
            raise RuntimeError(f"ministack exited with {stack.process.returncode}:\n"
                               f"{stack.log_tail()}")
        try:
            sqs.list_queues()
            return
        except (BotoCoreError, ClientError):
            if time.monotonic() > deadline:
                stack.stop()
                raise RuntimeError(f"ministack not ready after {START_TIMEOUT_S}s:\n"
                                   f"{stack.log_tail()}") from None
            time.sleep(0.1)


@pytest.fixture(scope="session", name="ministack")
def ministack_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ministack]:
    """One emulator for the whole session (it starts in about a second; tests make their own
    uniquely named queues and tables, so they never see each other's)."""
    venv = MINISTACK.require()
    workdir = tmp_path_factory.mktemp("ministack")
    stack = start_ministack(workdir, venv)
    try:
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(workdir / "tmp", ignore_errors=True)


"""A deployed stack (``--stack NAME``): its outputs, and a local frontend run against it.

``exodus up --backend aws --stack NAME`` and ``exodus run SCENARIO --stack NAME`` both need
the stack's resources (read from its CloudFormation outputs, never guessed) and, unless a
``--target`` names a frontend hosted elsewhere, a frontend of their own: the same frontend
process the embedded stack runs (``python -m exodus2045.app_under_test.frontend``), told by
its environment to claim in the stack's table and send to its wishes queue. It listens on a
socket bound here and inherited, so its URL is known before it starts.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from exodus2045.app_under_test.errors import ExodusError
from exodus2045.app_under_test.settings import (
    ENV_AWS_ENDPOINT,
    ENV_AWS_REGION,
    ENV_BACKEND,
    ENV_FLAWS,
    ENV_STATE_DIR,
    AwsConfig,
    AwsResources,
)

READY_TIMEOUT_S = 30.0


class StackNotFound(ExodusError):
    """``--stack NAME`` names no deployed stack (or one without the outputs Exodus needs)."""


@dataclass(frozen=True)
class DeployedStack:
    name: str
    config: AwsConfig
    outputs: dict[str, str]

    @property
    def resources(self) -> AwsResources:
        from exodus2045.app_under_test.backends.aws.stack import resources_from_outputs

        return resources_from_outputs(self.outputs)


def find_stack(name: str, config: AwsConfig) -> DeployedStack:
    """The stack's outputs, read from CloudFormation; a clear error if there is none."""
    from botocore.exceptions import BotoCoreError, ClientError

    from exodus2045.app_under_test.backends.aws.stack import StackClients, describe, outputs

    try:
        found = describe(StackClients.build(config), name)
    except (BotoCoreError, ClientError) as exc:
        raise StackNotFound(f"stack {name}: {exc}") from exc
    if found is None:
        raise StackNotFound(f"no stack {name} (deploy it first: exodus deploy --stack {name})")
    values = outputs(found)
    missing = [k for k in ("WishesQueueUrl", "WishesDlqUrl", "ParsedQueueUrl", "ParsedDlqUrl",
                           "TableName") if k not in values]
    if missing:
        raise StackNotFound(f"stack {name} ({found['StackStatus']}) lacks outputs "
                            f"{', '.join(missing)}")
    return DeployedStack(name, config, values)


def function_arns(stack: DeployedStack) -> dict[str, str]:
    """The stack's two functions by kind, as ARNs (``parser``, ``pod-worker``)."""
    from exodus2045.app_under_test.backends.aws.stack import StackClients

    clients = StackClients.build(stack.config)
    account = clients.sts.get_caller_identity()["Account"]
    region = stack.outputs.get("Region") or clients.region
    names = {"parser": stack.outputs.get("ParserFunctionName"),
             "pod-worker": stack.outputs.get("PodWorkerFunctionName")}
    return {kind: f"arn:aws:lambda:{region}:{account}:function:{name}"
            for kind, name in names.items() if name}


def frontend_env(stack: DeployedStack, state_dir: Path,
                 flaws: frozenset[str] = frozenset()) -> dict[str, str]:
    """The environment of a frontend process that serves ``stack``."""
    env = {k: v for k, v in os.environ.items() if k != ENV_FLAWS}
    env.update(stack.resources.as_env())
    env[ENV_BACKEND] = "aws"
    env[ENV_STATE_DIR] = str(state_dir)  # unused by the aws backend; nothing lands there
    if flaws:
        env[ENV_FLAWS] = ",".join(sorted(flaws))
    if stack.config.endpoint_url:
        env[ENV_AWS_ENDPOINT] = stack.config.endpoint_url
    if stack.config.region:
        env[ENV_AWS_REGION] = stack.config.region
    return env


class AwsFrontend:
    """One frontend process serving a deployed stack, on ``host:port`` (0: any free port)."""

    def __init__(self, stack: DeployedStack, host: str = "127.0.0.1", port: int = 0,
                 log: Path | None = None, flaws: frozenset[str] = frozenset()) -> None:
        self.stack = stack
        self.host = host
        self.port = port
        self.log_path = log
        self.flaws = flaws
        self.url = ""
        self.process: subprocess.Popen | None = None
        self._sock: socket.socket | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._log: IO[bytes] | None = None

    def __enter__(self) -> AwsFrontend:
        self.start()
        return self

    @property
    def state_dir(self) -> Path | None:
        """The frontend's own state dir (its run keys live there), while it runs."""
        return Path(self._tmp.name) if self._tmp is not None else None

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> str:
        self._tmp = tempfile.TemporaryDirectory(prefix="exodus-aws-frontend-")
        self._sock = socket.create_server((self.host, self.port), backlog=2048)
        self._sock.set_inheritable(True)
        host, port = self._sock.getsockname()[:2]
        self.url = f"http://{host}:{port}"
        self._log = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115
        fd = self._sock.fileno()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "exodus2045.app_under_test.frontend", "--fd", str(fd)],
            env=frontend_env(self.stack, Path(self._tmp.name), self.flaws), pass_fds=(fd,),
            stdin=subprocess.DEVNULL, stdout=self._log or subprocess.DEVNULL,
            stderr=self._log or subprocess.DEVNULL, start_new_session=True)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self.url

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ExodusError(f"the frontend for stack {self.stack.name} exited with "
                                  f"{self.process.returncode}"
                                  + (f"; see {self.log_path}" if self.log_path else ""))
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise ExodusError(f"the frontend for stack {self.stack.name} was not ready after "
                          f"{READY_TIMEOUT_S:.0f}s")

    def wait(self) -> int:
        assert self.process is not None
        return self.process.wait()

    def stop(self, timeout_s: float = 15.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # uvicorn finishes in-flight requests first
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout_s)
        for closing in (self._sock, self._log):
            if closing is not None:
                closing.close()
        self._sock = self._log = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

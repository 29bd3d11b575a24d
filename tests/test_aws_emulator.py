"""The local AWS the aws-backend tests use: starts, answers, listens on loopback only."""

from __future__ import annotations

import psutil
import pytest

from tests.aws_fixtures import Ministack, ministack_session  # noqa: F401 - the fixture
from tests.tool_venvs import MINISTACK, ToolVenv


def test_pins_live_in_one_file_and_the_venv_holds_them(ministack: Ministack):
    assert MINISTACK.pinned().startswith("ministack==") and "boto3==" in MINISTACK.pinned()
    assert MINISTACK.problem() is None


def test_emulator_answers_sqs_and_dynamodb(ministack: Ministack):
    sqs = ministack.client("sqs")
    url = sqs.create_queue(QueueName="emulator-probe")["QueueUrl"]
    assert url in sqs.list_queues(QueueNamePrefix="emulator-probe")["QueueUrls"]
    sqs.delete_queue(QueueUrl=url)
    assert isinstance(ministack.client("dynamodb").list_tables()["TableNames"], list)


def test_emulator_listens_on_loopback_only(ministack: Ministack):
    """GIVEN the fixture's settings (BIND_HOST, no MQTT-TLS, no SFTP), THEN no socket of the
    emulator listens on anything but 127.0.0.1."""
    proc = psutil.Process(ministack.process.pid)
    listening = [
        c.laddr for p in [proc, *proc.children(recursive=True)]
        for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN
    ]
    assert listening, "the emulator listens nowhere?"
    assert {addr.ip for addr in listening} == {"127.0.0.1"}
    assert any(ministack.endpoint.endswith(f":{a.port}") for a in listening)


def test_missing_tool_skips_on_a_laptop_and_fails_under_ci(tmp_path, monkeypatch):
    tool = ToolVenv("ministack", "ministack")
    monkeypatch.setenv(tool.env_name, str(tmp_path / "nowhere"))
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="no ministack"):
        tool.require()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        tool.require()

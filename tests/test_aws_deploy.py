"""``exodus deploy`` / ``exodus destroy`` against the local AWS: the template's Lambdas run the
handlers from the packaged zip, wishes flow queue -> parser -> queue -> pod worker -> table,
and destroy leaves nothing of the stack behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
import zipfile
from io import BytesIO

import pytest

from exodus2045.app_under_test.backends.aws import open_aws
from exodus2045.app_under_test.backends.aws.clients import AwsClients
from exodus2045.app_under_test.backends.aws.package import _tag_fits, build_zip
from exodus2045.app_under_test.backends.aws.stack import resources_from_outputs
from exodus2045.app_under_test.ports import OutgoingMessage
from tests.aws_fixtures import CREDENTIALS, REGION, Ministack, ministack_session  # noqa: F401
from tests.conftest import frontend_body, wait_for


def exodus(*args: str, endpoint: str | None = None, timeout: float = 300):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
                "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
                "AWS_REGION": REGION})
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    return subprocess.run([sys.executable, "-m", "exodus2045.scenarios.cli", *args],
                          capture_output=True, text=True, env=env, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def test_zip_carries_the_handlers_and_nh3_and_is_deterministic():
    first, again = build_zip("python3.13"), build_zip("python3.13")
    assert first.sha256 == again.sha256 and first.key == again.key
    names = zipfile.ZipFile(BytesIO(first.data)).namelist()
    for needed in ("exodus2045/app_under_test/parser.py",
                   "exodus2045/app_under_test/pod_worker.py",
                   "exodus2045/app_under_test/backends/aws/lambda_entry.py",
                   "nh3/__init__.py"):
        assert needed in names
    assert any(n.startswith("nh3/") and n.endswith(".so") for n in names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_the_zip_alone_imports_the_handlers_and_the_trace_api(tmp_path):
    """Without site-packages (-S), as on Lambda minus boto3: tracing's API is in the zip."""
    zipfile.ZipFile(BytesIO(build_zip("python3.13").data)).extractall(tmp_path)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "from exodus2045.app_under_test import parser, pod_worker, tracing; "
            "print(tracing.trace_id_of('00-' + 'a' * 32 + '-' + 'b' * 16 + '-01'))")
    done = subprocess.run([sys.executable, "-S", "-I", "-c", code, str(tmp_path)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "a" * 32, done.stderr[-1500:]


def test_wheel_tags_fit_only_their_runtime():
    assert _tag_fits("cp39-abi3-manylinux2014_x86_64", (3, 13))
    assert _tag_fits("py3-none-any", (3, 12))
    assert not _tag_fits("cp312-cp312-manylinux2014_x86_64", (3, 13))
    assert not _tag_fits("cp39-abi3-manylinux2014_aarch64", (3, 13))
    assert not _tag_fits("cp39-abi3-macosx_11_0_arm64", (3, 13))


def test_real_account_needs_yes_without_a_terminal():
    done = exodus("deploy", "--stack", "exodus-test")
    assert done.returncode == 2
    assert "--yes" in done.stderr


def test_bad_stack_name_is_refused_with_the_rule():
    done = exodus("deploy", "--stack", "1-not-a-name", "--aws-endpoint", "http://127.0.0.1:9")
    assert done.returncode == 2
    assert "stack name" in done.stderr


def _leftovers(ministack: Ministack, stack: str) -> dict[str, list]:
    lam = ministack.client("lambda")
    found = {
        "queues": ministack.client("sqs").list_queues(QueueNamePrefix=stack).get("QueueUrls", []),
        "tables": [t for t in ministack.client("dynamodb").list_tables()["TableNames"]
                   if t.startswith(stack)],
        "functions": [f["FunctionName"] for f in lam.list_functions()["Functions"]
                      if f["FunctionName"].startswith(stack)],
        "log groups": [g["logGroupName"] for g in ministack.client("logs").describe_log_groups(
            logGroupNamePrefix=f"/aws/lambda/{stack}")["logGroups"]],
        "buckets": [b["Name"] for b in ministack.client("s3").list_buckets()["Buckets"]
                    if any(t["Key"] == "exodus:stack" and t["Value"] == stack for t in
                           ministack.client("s3").get_bucket_tagging(Bucket=b["Name"])["TagSet"])],
    }
    return {k: v for k, v in found.items() if v}


@pytest.mark.slow
def test_deploy_carries_wishes_end_to_end_and_destroy_leaves_nothing(ministack: Ministack):
    stack = f"exo-{uuid.uuid4().hex[:8]}"
    deployed = exodus("deploy", "--stack", stack, "--aws-endpoint", ministack.endpoint,
                      "--json", "--batch-size", "5")
    assert deployed.returncode == 0, deployed.stderr[-3000:]
    assert "CREATE_COMPLETE" in deployed.stderr
    outputs = json.loads(deployed.stdout.strip().splitlines()[-1])
    resources = resources_from_outputs(outputs)
    backend = open_aws(AwsClients(ministack.client("sqs"), ministack.client("dynamodb")),
                       resources)

    bodies = [frontend_body(n) for n in range(30)]
    bodies[3]["message"] = "<script>alert(1)</script> stays literal"
    poison = ["{not json", json.dumps({**frontend_body(99), "destination": "venus"})]
    backend.wishes.send_batch([OutgoingMessage(json.dumps(b)) for b in bodies] +
                              [OutgoingMessage(p) for p in poison])

    wait_for(lambda: backend.store.count() == 30 and backend.wishes.depth().dead_letters == 2,
             timeout=120, what="30 wishes stored by the Lambdas and 2 poison dead-lettered")
    tally = backend.store.tally()
    assert sum(tally.values()) == 30 == backend.store.count()
    assert tally == backend.store.counts_by_destination()
    stored = {w["wish_id"]: w for w in backend.store.iterate()}
    assert set(stored) == {b["wish_id"] for b in bodies}
    assert stored[bodies[3]["wish_id"]]["message"] == bodies[3]["message"]
    assert stored[bodies[3]["wish_id"]]["markup"] is True
    reasons = sorted(d["reason"] for d in backend.wishes.dead_letters())
    assert reasons[0].startswith("invalid wish: destination") and \
        reasons[1].startswith("malformed JSON")
    wait_for(lambda: backend.parsed.depth().in_flight == 0 == backend.wishes.depth().in_flight,
             timeout=60, what="queues drained")

    again = exodus("deploy", "--stack", stack, "--aws-endpoint", ministack.endpoint,
                   "--batch-size", "5")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "up to date" in again.stdout
    updated = exodus("deploy", "--stack", stack, "--aws-endpoint", ministack.endpoint,
                     "--batch-size", "7")
    assert updated.returncode == 0, updated.stderr[-2000:]
    assert "UPDATE_COMPLETE" in updated.stdout
    mapping = ministack.client("lambda").get_event_source_mapping(
        UUID=outputs["ParserMappingId"])
    assert mapping["BatchSize"] == 7
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]

    destroyed = exodus("destroy", "--stack", stack, "--aws-endpoint", ministack.endpoint)
    assert destroyed.returncode == 0, destroyed.stderr[-2000:]
    assert "DELETE_COMPLETE" in destroyed.stdout
    assert _leftovers(ministack, stack) == {}


def test_unreachable_aws_is_one_line_and_exit_2():
    done = exodus("destroy", "--stack", "exo-nowhere", "--aws-endpoint", "http://127.0.0.1:9",
                  timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("exodus destroy: destroy exo-nowhere: Could not connect")


def test_bad_endpoint_is_refused_naming_the_flag():
    done = exodus("deploy", "--stack", "exo-x", "--aws-endpoint", "ftp://nowhere")
    assert done.returncode == 2
    assert "--aws-endpoint" in done.stderr and "Traceback" not in done.stderr

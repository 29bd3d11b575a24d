"""The CloudFormation template: cfn-lint clean, and the properties the issue asks of it."""

from __future__ import annotations

from pathlib import Path

import pytest

import exodus2045.app_under_test.backends.aws as aws_pkg
from exodus2045.app_under_test.backends.aws import lambda_entry
from exodus2045.app_under_test.backends.aws.provision import table_definition

TEMPLATE = Path(aws_pkg.__file__).with_name("template.yaml")


@pytest.fixture(scope="module")
def template() -> dict:
    from cfnlint.decode import decode

    decoded, problems = decode(str(TEMPLATE))
    assert not problems, problems
    return decoded


def resources(template: dict, kind: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_cfn_lint_is_clean():
    from cfnlint.api import lint_file

    matches = lint_file(TEMPLATE)
    assert [str(m) for m in matches] == []


def test_every_resource_is_tagged_as_this_stacks(template):
    for name, res in template["Resources"].items():
        raw = res["Properties"].get("Tags", [])
        # AWS::SSM::Parameter takes its tags as a map (CloudFormation's schema), the rest a list
        tags = raw if isinstance(raw, dict) else {t["Key"]: t["Value"] for t in raw}
        assert tags.get("exodus:stack") == {"Ref": "AWS::StackName"}, name
        assert tags.get("app") == "exodus2045", name


def test_queues_are_encrypted_and_redrive_to_their_dlq(template):
    queues = resources(template, "AWS::SQS::Queue")
    assert set(queues) == {"WishesQueue", "WishesDLQ", "ParsedQueue", "ParsedDLQ"}
    for name, q in queues.items():
        assert q["Properties"]["KmsMasterKeyId"] == {"Ref": "Key"}, name
    for name in ("WishesQueue", "ParsedQueue"):
        policy = queues[name]["Properties"]["RedrivePolicy"]
        assert policy["deadLetterTargetArn"] == {"Fn::GetAtt": [name.replace("Queue", "DLQ"),
                                                                "Arn"]}
        assert policy["maxReceiveCount"] == {"Ref": "MaxReceiveCount"}


def test_table_matches_the_store_key_design(template):
    table = template["Resources"]["Table"]["Properties"]
    expected = table_definition("x")
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["KeySchema"] == expected["KeySchema"]
    assert sorted(map(dict, table["AttributeDefinitions"]), key=str) == \
        sorted(expected["AttributeDefinitions"], key=str)
    [gsi] = table["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == expected["GlobalSecondaryIndexes"][0]["IndexName"]
    assert gsi["KeySchema"] == expected["GlobalSecondaryIndexes"][0]["KeySchema"]


def test_functions_run_the_lambda_entry_handlers(template):
    functions = resources(template, "AWS::Lambda::Function")
    handlers = {f["Properties"]["Handler"]["Fn::Sub"] for f in functions.values()}
    assert handlers == {"${HandlerModule}.parser_handler", "${HandlerModule}.pod_worker_handler"}
    # the module's default is the pipeline's own entry; exodus deploy names chaos's
    assert template["Parameters"]["HandlerModule"]["Default"] == lambda_entry.__name__
    from exodus2045.chaos import lambda_entry as chaos_entry

    for entry in (lambda_entry, chaos_entry):
        assert callable(entry.parser_handler) and callable(entry.pod_worker_handler)
    for f in functions.values():
        assert f["Properties"]["Runtime"] == {"Ref": "Runtime"}
        assert set(f["Properties"]["Environment"]["Variables"]) >= {
            "EXODUS_WISHES_QUEUE_URL", "EXODUS_PARSED_QUEUE_URL", "EXODUS_TABLE"}


def test_mappings_report_batch_item_failures_with_parameters(template):
    mappings = resources(template, "AWS::Lambda::EventSourceMapping")
    assert len(mappings) == 2
    for m in mappings.values():
        props = m["Properties"]
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert props["BatchSize"] == {"Ref": "BatchSize"}
        assert props["MaximumBatchingWindowInSeconds"] == {"Ref": "BatchWindow"}


def test_roles_are_least_privilege(template):
    """No wildcard action or resource; each statement names this stack's own resources."""
    for name, role in resources(template, "AWS::IAM::Role").items():
        for policy in role["Properties"]["Policies"]:
            for st in policy["PolicyDocument"]["Statement"]:
                actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                assert all("*" not in a for a in actions), (name, st["Sid"])
                assert st["Resource"] != "*", (name, st["Sid"])
    pod = template["Resources"]["PodWorkerRole"]["Properties"]["Policies"][0]
    table_actions = [a for st in pod["PolicyDocument"]["Statement"]
                     for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
                     if a.startswith("dynamodb:")]
    assert sorted(table_actions) == ["dynamodb:PutItem", "dynamodb:UpdateItem"]
    parser = template["Resources"]["ParserRole"]["Properties"]["Policies"][0]
    assert not any("dynamodb" in str(st) for st in parser["PolicyDocument"]["Statement"])


def test_alarms_watch_both_dlqs_and_both_functions(template):
    watched = {
        (a["Properties"]["MetricName"], str(a["Properties"]["Dimensions"][0]["Value"]))
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
    }
    assert ("Errors", str({"Ref": "ParserFunction"})) in watched
    assert ("Errors", str({"Ref": "PodWorkerFunction"})) in watched
    dlqs = [v for m, v in watched if m == "ApproximateNumberOfMessagesVisible"]
    assert len(dlqs) == 2


def test_log_groups_have_retention_and_a_key(template):
    groups = resources(template, "AWS::Logs::LogGroup")
    assert len(groups) == 2
    for g in groups.values():
        assert g["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        assert "KmsKeyId" in g["Properties"]


def test_outputs_name_everything_the_backend_needs(template):
    assert set(template["Outputs"]) >= {
        "WishesQueueUrl", "WishesDlqUrl", "ParsedQueueUrl", "ParsedDlqUrl", "TableName",
        "ParserFunctionName", "PodWorkerFunctionName", "ParserMappingId", "PodWorkerMappingId"}


def test_checkov_finds_no_failed_check_and_every_skip_is_justified(tmp_path):
    """checkov's severities need a vendor key, so the bar is its failed checks: zero. Each
    skip lives in the template's Metadata with the reason the check does not apply."""
    import json
    import subprocess

    from tests.tool_venvs import CHECKOV

    CHECKOV.require()
    done = subprocess.run(
        [str(CHECKOV.bin()), "-f", str(TEMPLATE), "--framework", "cloudformation", "-o", "json",
         "--skip-download"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "BC_SKIP_MAPPING": "TRUE"},
    )
    report = json.loads(done.stdout)
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == []
    assert report["summary"]["passed"] >= 30 and report["summary"]["parsing_errors"] == 0
    for skipped in report["results"]["skipped_checks"]:
        assert len(skipped["check_result"].get("suppress_comment", "")) > 40, skipped["check_id"]

"""Deploy and destroy the template as one CloudFormation stack (``exodus deploy/destroy``).

The functions' zip goes to an S3 bucket of the stack's own (``exodus-code-<hash>``, named
from account, region and stack, tagged as the stack's, encrypted, public access blocked):
the zip must exist before the template's functions do, so the bucket cannot be in the
template. ``destroy`` deletes the stack, waits, then empties and deletes that bucket, so
nothing is left behind. Progress is every new stack event, printed as it happens.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exodus2045.app_under_test.errors import ExodusError
from exodus2045.app_under_test.settings import AwsConfig, AwsResources

TEMPLATE = Path(__file__).with_name("template.yaml")
DONE = {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
FAILED = {"CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED",
          "UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED", "UPDATE_FAILED"}
GONE = "DELETE_COMPLETE"


class DeployError(ExodusError):
    """The stack did not reach the state asked for; the message says which event failed."""


@dataclass
class StackClients:
    cloudformation: Any
    s3: Any
    sts: Any
    region: str

    @classmethod
    def build(cls, config: AwsConfig, session: Any = None) -> StackClients:
        from botocore.config import Config

        from exodus2045.app_under_test.backends.aws.clients import botocore_config, make_session

        session = session or make_session(config)
        base = botocore_config(config)
        ep = config.endpoint_url
        s3_cfg = base.merge(Config(s3={"addressing_style": "path"})) if ep else base
        return cls(
            cloudformation=session.client("cloudformation", endpoint_url=ep, config=base),
            s3=session.client("s3", endpoint_url=ep, config=s3_cfg),
            sts=session.client("sts", endpoint_url=ep, config=base),
            region=session.region_name or "us-east-1",
        )


@dataclass(frozen=True)
class DeployOptions:
    stack: str
    runtime: str = "python3.13"
    batch_size: int = 10
    batch_window_s: int = 0
    max_receive_count: int = 5
    flaws: frozenset[str] = frozenset()
    parameters: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 900.0
    poll_s: float = 2.0
    #: what goes in the zip beside the pipeline, and which module's handlers the functions
    #: run (``exodus deploy`` adds chaos, whose entry reads the fault board)
    packages: tuple[str, ...] = ("app_under_test",)
    handler_module: str = "exodus2045.app_under_test.backends.aws.lambda_entry"
    #: the zip carries the OTLP span exporter (the template's OtlpEndpoint names where to)
    tracing: bool = False


def code_bucket(account: str, region: str, stack: str) -> str:
    digest = hashlib.sha256(f"{account}/{region}/{stack}".encode()).hexdigest()[:24]
    return f"exodus-code-{digest}"


def _tags(stack: str) -> list[dict[str, str]]:
    return [{"Key": "exodus:stack", "Value": stack}, {"Key": "app", "Value": "exodus2045"}]


def _error_code(exc: BaseException) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def describe(clients: StackClients, stack: str) -> dict[str, Any] | None:
    """The stack's description, or None if there is none (or only a deleted one)."""
    try:
        stacks = clients.cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except Exception as exc:
        if _error_code(exc) == "ValidationError" and "does not exist" in str(exc):
            return None
        raise
    live = [s for s in stacks if s["StackStatus"] != GONE]
    return live[0] if live else None


def outputs(description: Mapping[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}


def resources_from_outputs(values: Mapping[str, str]) -> AwsResources:
    """The aws backend's resources, as the template's outputs name them."""
    return AwsResources(
        wishes_queue_url=values["WishesQueueUrl"], wishes_dlq_url=values["WishesDlqUrl"],
        parsed_queue_url=values["ParsedQueueUrl"], parsed_dlq_url=values["ParsedDlqUrl"],
        table=values["TableName"],
    )


def _ensure_bucket(clients: StackClients, bucket: str, stack: str) -> None:
    try:
        clients.s3.head_bucket(Bucket=bucket)
        return
    except Exception as exc:
        if _error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if clients.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": clients.region}
    clients.s3.create_bucket(**kwargs)
    clients.s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True})
    clients.s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    clients.s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": _tags(stack)})


def _events_since(clients: StackClients, stack: str, seen: set[str]) -> list[dict[str, Any]]:
    try:
        events = clients.cloudformation.describe_stack_events(StackName=stack)["StackEvents"]
    except Exception:
        return []
    fresh = [e for e in events if e["EventId"] not in seen]
    seen.update(e["EventId"] for e in fresh)
    return list(reversed(fresh))  # oldest first


def wait(clients: StackClients, stack: str, *, want: str, options: DeployOptions,
         say: Callable[[str], None], seen: set[str]) -> dict[str, Any] | None:
    """Poll until the stack reaches ``want`` (a DONE status, or GONE); print each event."""
    deadline = time.monotonic() + options.timeout_s
    start = time.monotonic()
    while True:
        for e in _events_since(clients, stack, seen):
            reason = f" ({e['ResourceStatusReason']})" if e.get("ResourceStatusReason") else ""
            say(f"  {time.monotonic() - start:6.1f}s  {e['LogicalResourceId']:<22} "
                f"{e['ResourceStatus']}{reason}")
        current = describe(clients, stack)
        status = current["StackStatus"] if current else GONE
        if (want == GONE and status == GONE) or (want != GONE and status in DONE):
            return current
        if status in FAILED or (want != GONE and status == GONE):
            raise DeployError(f"stack {stack} ended {status}"
                              f"{': ' + current.get('StackStatusReason', '') if current else ''}")
        if time.monotonic() > deadline:
            raise DeployError(f"stack {stack} still {status} after {options.timeout_s:.0f}s")
        time.sleep(options.poll_s)


def deploy(clients: StackClients, options: DeployOptions,
           say: Callable[[str], None] = print) -> dict[str, str]:
    """Package, upload, create or update the stack, wait; returns the stack's outputs."""
    from exodus2045.app_under_test.backends.aws.package import build_zip

    account = clients.sts.get_caller_identity()["Account"]
    bucket = code_bucket(account, clients.region, options.stack)
    fzip = build_zip(options.runtime, options.packages, tracing=options.tracing)
    say(f"packaged {len(fzip.files)} files ({len(fzip.data) // 1024} KiB) for {options.runtime}")
    _ensure_bucket(clients, bucket, options.stack)
    clients.s3.put_object(Bucket=bucket, Key=fzip.key, Body=fzip.data)
    say(f"uploaded s3://{bucket}/{fzip.key}")
    params = {
        "CodeBucket": bucket, "CodeKey": fzip.key, "Runtime": options.runtime,
        "BatchSize": str(options.batch_size), "BatchWindow": str(options.batch_window_s),
        "MaxReceiveCount": str(options.max_receive_count), "Flaws": ",".join(sorted(options.flaws)),
        "HandlerModule": options.handler_module,
        **options.parameters,
    }
    request = {
        "StackName": options.stack, "TemplateBody": TEMPLATE.read_text(),
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        "Capabilities": ["CAPABILITY_IAM"], "Tags": _tags(options.stack),
    }
    seen: set[str] = set()
    current = describe(clients, options.stack)
    if current and current["StackStatus"] == "ROLLBACK_COMPLETE":
        say(f"stack {options.stack} is ROLLBACK_COMPLETE from a failed create: deleting it first")
        clients.cloudformation.delete_stack(StackName=options.stack)
        wait(clients, options.stack, want=GONE, options=options, say=say, seen=seen)
        current = None
    if current is None:
        say(f"creating stack {options.stack}")
        clients.cloudformation.create_stack(**request)
    else:
        seen.update(e["EventId"] for e in _events_since(clients, options.stack, set()))
        try:
            clients.cloudformation.update_stack(**request)
            say(f"updating stack {options.stack}")
        except Exception as exc:
            if _error_code(exc) == "ValidationError" and "No updates" in str(exc):
                say(f"stack {options.stack} is up to date")
                return outputs(current)
            raise
    done = wait(clients, options.stack, want="DONE", options=options, say=say, seen=seen)
    return outputs(done or {})


def destroy(clients: StackClients, stack: str, options: DeployOptions | None = None,
            say: Callable[[str], None] = print) -> None:
    """Delete the stack and its code bucket; waits until both are gone."""
    options = options or DeployOptions(stack=stack)
    account = clients.sts.get_caller_identity()["Account"]
    bucket = code_bucket(account, clients.region, stack)
    if describe(clients, stack) is not None:
        say(f"deleting stack {stack}")
        seen: set[str] = set()
        seen.update(e["EventId"] for e in _events_since(clients, stack, set()))
        clients.cloudformation.delete_stack(StackName=stack)
        wait(clients, stack, want=GONE, options=options, say=say, seen=seen)
    else:
        say(f"no stack {stack}")
    try:
        clients.s3.head_bucket(Bucket=bucket)
    except Exception as exc:
        if _error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
            return
        raise
    for page in clients.s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                  for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        if doomed:
            clients.s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed})
    for page in clients.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        doomed = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if doomed:
            clients.s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed})
    clients.s3.delete_bucket(Bucket=bucket)
    say(f"deleted s3://{bucket}")

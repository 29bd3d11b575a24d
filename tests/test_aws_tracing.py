"""On AWS: the functions export their spans over OTLP when an endpoint is set, and record the
X-Ray header Lambda gives them.

The functions' zip built with span export (``exodus deploy --otlp-endpoint``), unpacked and
imported without site-packages, as Lambda runs it (plus urllib3, which Lambda's runtime has
with boto3); the handlers run on SQS events shaped as Lambda delivers them, with the
``AWSTraceHeader`` system attribute and ``_X_AMZN_TRACE_ID`` set; a real OTLP/HTTP receiver
on 127.0.0.1 takes the spans. (Why not through ministack's Lambda: see the README
"Tracing".)
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import uuid
import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from exodus2045.app_under_test import tracing
from exodus2045.app_under_test.backends.aws.package import build_zip
from tests.conftest import wait_for

pytest.importorskip("opentelemetry.sdk", reason="the `tracing` extra is not installed")
from tests.aws_fixtures import ministack_session  # noqa: E402, F401
from tests.otlp_receiver import otlp_receiver  # noqa: E402

MESSAGE_XRAY = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
INVOCATION_XRAY = "Root=1-6759e988-cd862e3fe1be46a994272794;Parent=63995c3f42cd8ad9;Sampled=1"

HANDLERS = r"""
import json, sys, time
sys.path[:0] = sys.argv[1:3]
from exodus2045.app_under_test import parser, pod_worker, tracing
from exodus2045.app_under_test.tracing_sdk import configure, flush_spans
import os
print(configure("parser", None, os.environ), flush=True)

class Queue:
    name = "q"
    def __init__(self): self.sent = []
    def send_batch(self, messages): self.sent.extend(messages); return ["m"] * len(messages)
    def send_dead_letter(self, body, reason): return "d"

class Store:
    def put_wishes(self, wishes): return [True] * len(wishes)

def record(mid, body, traceparent, sent_at):
    return {"messageId": mid, "receiptHandle": "r", "body": body,
            "attributes": {"ApproximateReceiveCount": "1", "AWSTraceHeader": sys.argv[4],
                           "SentTimestamp": str(int(sent_at * 1000))},
            "messageAttributes": {"traceparent": {"stringValue": traceparent,
                                                  "dataType": "String"}},
            "eventSource": "aws:sqs"}

wish = json.loads(sys.argv[3])
parsed = Queue()
now = time.time()
answer = parser.make_handler(parsed, Queue(), frozenset())(
    {"Records": [record("m1", json.dumps(wish), tracing.swarm_traceparent(
        tracing.trace_id_for(wish["wish_id"])), now - 0.2)]})
assert answer == {"batchItemFailures": []}, answer
out = parsed.sent[0]
answer = pod_worker.make_handler(Store(), Queue(), frozenset())(
    {"Records": [record("m2", out.body, out.attributes["traceparent"], now)]})
assert answer == {"batchItemFailures": []}, answer
flush_spans()  # as lambda_entry.Entry does after every invocation
print("done", flush=True)
"""


def test_the_zipped_handlers_export_spans_with_the_xray_header(tmp_path: Path) -> None:
    code, runtime = tmp_path / "task", tmp_path / "runtime"
    zipfile.ZipFile(BytesIO(build_zip("python3.13", tracing=True).data)).extractall(code)
    # Lambda's runtime has urllib3 (boto3's); located, not imported: it is not ours to use
    urllib3 = importlib.util.find_spec("urllib3")
    assert urllib3 is not None and urllib3.origin is not None
    shutil.copytree(Path(urllib3.origin).parent, runtime / "urllib3")
    wish_id = str(uuid.uuid4())
    wish = {"wish_id": wish_id, "run_id": "r-aws", "source": "swarm", "evacuee": "Ada",
            "destination": "mars", "message": "Water the plants.", "accepted_at": 1.0}
    with otlp_receiver() as (endpoint, received):
        # EXODUS_TRACE_SAMPLE as the template sets it (TraceSample, default every span)
        env = {"PATH": "/usr/bin:/bin", "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
               "EXODUS_TRACE_SAMPLE": "1", "_X_AMZN_TRACE_ID": INVOCATION_XRAY}
        done = subprocess.run(
            [sys.executable, "-S", "-I", "-c", HANDLERS, str(code), str(runtime),
             json.dumps(wish), MESSAGE_XRAY],
            env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0 and "done" in done.stdout, done.stderr[-2000:]
        assert done.stdout.startswith("on: OTLP"), done.stdout
        trace_id = tracing.trace_id_for(wish_id)
        hops = ["queue wait 1", "parse", "queue wait 2", "store"]
        wait_for(lambda: sorted(s["name"] for s in received if s["trace_id"] == trace_id)
                 == sorted(hops), 30, "the four function hops at the receiver")
    for span in received:
        assert span["attributes"][tracing.XRAY_MESSAGE] == MESSAGE_XRAY
        assert span["attributes"][tracing.XRAY_INVOCATION] == INVOCATION_XRAY
        assert span["links"] == [("5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8"),
                                 ("6759e988cd862e3fe1be46a994272794", "63995c3f42cd8ad9")]


def test_xray_headers_parse_to_w3c_ids_and_junk_does_not() -> None:
    assert tracing.xray_context(MESSAGE_XRAY) == ("5759e988bd862e3fe1be46a994272793",
                                                  "53995c3f42cd8ad8")
    assert tracing.xray_context("Root=1-5759e988-bd862e3fe1be46a994272793") is None  # no parent
    assert tracing.xray_context("Root=2-zz;Parent=53995c3f42cd8ad8") is None
    record = {"attributes": {"AWSTraceHeader": MESSAGE_XRAY}}
    assert tracing.xray_attributes(record, {}) == {tracing.XRAY_MESSAGE: MESSAGE_XRAY}
    assert tracing.xray_attributes({}, {}) == {}  # off AWS: nothing


@pytest.mark.slow
def test_deployed_functions_on_ministack_export_to_a_receiver_on_loopback(ministack) -> None:
    from exodus2045.app_under_test.backends.aws import open_aws
    from exodus2045.app_under_test.backends.aws.clients import AwsClients
    from exodus2045.app_under_test.backends.aws.stack import resources_from_outputs
    from exodus2045.app_under_test.ports import OutgoingMessage
    from tests.conftest import frontend_body
    from tests.test_aws_run import destroy, exodus

    stack = f"exo-{uuid.uuid4().hex[:8]}"
    with otlp_receiver() as (endpoint, received):
        done = exodus("deploy", "--stack", stack, "--aws-endpoint", ministack.endpoint,
                      "--json", "--otlp-endpoint", endpoint)
        assert done.returncode == 0, done.stderr[-3000:]
        try:
            outputs = json.loads(done.stdout.strip().splitlines()[-1])
            backend = open_aws(AwsClients(ministack.client("sqs"),
                                          ministack.client("dynamodb")),
                               resources_from_outputs(outputs))
            bodies = [frontend_body(n) for n in range(5)]
            backend.wishes.send_batch([OutgoingMessage(json.dumps(b), {
                tracing.TRACEPARENT: tracing.swarm_traceparent(
                    tracing.trace_id_for(b["wish_id"]))}) for b in bodies])
            wait_for(lambda: backend.store.count() == len(bodies), 120, "wishes stored")
            traces = {tracing.trace_id_for(b["wish_id"]) for b in bodies}
            wait_for(lambda: traces <= {s["trace_id"] for s in received
                                        if s["name"] == "store"},
                     60, "every wish's store span at the receiver")
        finally:
            destroy(ministack, stack)
    services = {s["service"] for s in received if s["trace_id"] in traces}
    assert services == {"parser", "pod-worker"}

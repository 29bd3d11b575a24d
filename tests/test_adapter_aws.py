"""An adapter's ``[evidence.aws]`` on the local AWS: the bundled stack, deployed, audited as
if it were a team's pipeline -- ``--target`` and an adapter file naming its table and
queues, nothing else. The aws source reads the table by the adapter's attribute names and
the queues and DLQs by their URLs, so every core check is judged; a deployed flaw that
drops wishes fails exactly-once through it.

Short form (about 150 evacuees at 20 a second): the emulator's queues stay shallow.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.aws_fixtures import Ministack, ministack_session  # noqa: F401
from tests.test_aws_run import deploy, destroy, exodus, served

pytestmark = pytest.mark.slow
# smoke with generous SLOs: these tests judge soundness on a loaded machine, not speed
AWS_SMOKE = str(Path(__file__).parent / "scenarios" / "aws-smoke.toml")
SHORT = ("--evacuees", "150", "--arrival-rate", "20")
CORE = ("exactly-once", "no-phantoms", "tally", "content", "bad-input", "no-false-rejects",
        "no-executable-markup", "drained", "dlq-explained")

ADAPTER = """\
# The bundled pipeline, described as a team would describe its own.
[submit]
path = "/api/wishes"
accepted = [202]
id_field = "wish_id"
[submit.fields]
evacuee = "evacuee"
destination = "destination"
message = "message"
[lookup]
path = "/api/wishes/{{id}}"
[lookup.fields]
evacuee = "/evacuee"
destination = "/destination"
message = "/message"
[tally]
path = "/api/tally"
pointer = "/tally"
[pages]
paths = ["/wall?limit=200", "/api/wall?limit=200"]

[evidence.aws]
table = "{TableName}"
id = "wish_id"
[evidence.aws.attributes]
evacuee = "evacuee"
destination = "destination"
message = "message"
[[evidence.aws.queues]]
name = "wishes"
url = "{WishesQueueUrl}"
dead_letter_url = "{WishesDlqUrl}"
[[evidence.aws.queues]]
name = "parsed"
url = "{ParsedQueueUrl}"
dead_letter_url = "{ParsedDlqUrl}"
"""


def audit(ministack: Ministack, tmp_path, flaws: str = "", checked: list | None = None
          ) -> tuple[subprocess.CompletedProcess, dict]:
    """Deploy, serve, audit through the adapter (``checked``: first `exodus adapter check`)."""
    stack, outputs = deploy(ministack, flaws)
    try:
        team = tmp_path / "team.toml"
        team.write_text(ADAPTER.format(**outputs))
        with served(ministack, stack) as url:
            if checked is not None:
                checked.append(exodus("adapter", "check", str(team), "--target", url,
                                      "--aws-endpoint", ministack.endpoint))
            done = exodus("run", AWS_SMOKE, "--target", url, "--adapter", str(team),
                          "--aws-endpoint", ministack.endpoint, *SHORT,
                          "--out", str(tmp_path / "run"))
    finally:
        destroy(ministack, stack)
    assert (tmp_path / "run" / "verdict.json").exists(), (done.stdout + done.stderr)[-4000:]
    return done, json.loads((tmp_path / "run" / "verdict.json").read_text())


def test_deployed_stack_through_an_adapter_is_sound_by_its_table_and_queues(ministack,
                                                                             tmp_path):
    checked: list[subprocess.CompletedProcess] = []
    done, verdict = audit(ministack, tmp_path, checked=checked)
    [check] = checked
    assert check.returncode == 0, (check.stdout + check.stderr)[-3000:]
    for line in ("exactly-once          yes, from the table ",
                 "drained               yes, from SQS (wishes, parsed)",
                 "dlq-explained         yes, from the DLQs (read with visibility 0)"):
        assert line in check.stdout, check.stdout
    print(check.stdout)
    statuses = {c["id"]: c["status"] for c in verdict["checks"] if c["id"] in CORE}
    assert set(statuses.values()) == {"passed"}, (statuses, verdict.get("outcome"),
                                                  (done.stdout + done.stderr)[-3000:])
    assert verdict["outcome"] == "sound" and done.returncode == 0, done.stdout[-3000:]
    index = json.loads((tmp_path / "run" / "evidence.json").read_text())
    for question in ("stored-wishes", "stored-counts", "queue-depths", "dead-letters"):
        assert index["questions"][question]["source"] == "aws", question
    for question in ("tally", "pages"):
        assert index["questions"][question]["source"] == "http", question
    aws = next(s for s in index["sources"] if s["name"] == "aws")
    assert aws["queues"] == ["wishes", "parsed"] and aws["table"]
    # the warm-up's rows share the table: only the rows whose id this run sent are its own
    stored = (tmp_path / "run" / "store-snapshot.jsonl").read_text().splitlines()
    assert len(stored) == verdict["figures"]["counts"]["acknowledged"]


def test_a_deployed_flaw_that_drops_wishes_fails_exactly_once_through_the_adapter(ministack,
                                                                                   tmp_path):
    done, verdict = audit(ministack, tmp_path, "lossy-worker")
    statuses = {c["id"]: c["status"] for c in verdict["checks"]}
    assert statuses["exactly-once"] == "failed", statuses
    assert done.returncode == 1 and verdict["outcome"] == "unsound"

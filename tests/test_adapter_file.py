"""The adapter file: validated before anything is sent, errors as ``file:line: key: problem``;
``exodus adapter check`` against the foreign pipeline."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from exodus2045.scenarios.adapter import AdapterError, load_adapter
from exodus2045.scenarios.adapter.spec import parse_adapter, pointer_get
from tests.foreign_pipeline import ADAPTER, foreign_pipeline


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "exodus2045.scenarios.cli", *args],
                          capture_output=True, text=True, timeout=120, env=env)


def test_the_foreign_adapter_parses(tmp_path):
    path = tmp_path / "team.toml"
    path.write_text(ADAPTER)
    adapter = load_adapter(path)
    assert (adapter.submit_path, adapter.accepted, adapter.id_pointer) == \
        ("/v1/notes", (201,), "/note/id")
    assert adapter.their_destination("jupiter") == "EUROPA"
    assert adapter.our_destination("EUROPA") == "jupiter"
    assert adapter.listing and adapter.listing.cursor_param == "after"
    assert pointer_get({"a": [{"b": 1}]}, "/a/0/b") == 1 and pointer_get({}, "/x") is None


def test_every_problem_names_file_line_and_key(tmp_path):
    text = ADAPTER.replace('accepted = [201]', 'accepted = [404]') \
        .replace('path = "/v1/notes/{id}"', 'path = "/v1/notes"') \
        .replace('pointer = "/per_planet"', 'pointer = "per_planet"') \
        .replace('[pages]', '[pages]\ncolour = "red"')
    path = tmp_path / "team.toml"
    path.write_text(text)
    with pytest.raises(AdapterError) as info:
        load_adapter(path)
    lines = text.splitlines()
    message = str(info.value).splitlines()
    assert len(message) == 4, message

    def line_of(fragment: str) -> int:
        return next(i for i, x in enumerate(lines, 1) if x.startswith(fragment))

    expected = {
        "submit.accepted": line_of("accepted ="),
        "lookup.path": next(i for i, x in enumerate(lines, 1) if x == 'path = "/v1/notes"' and
             lines[i - 2] == "[lookup]"),
        "tally.pointer": line_of("pointer ="),
        "pages.colour": line_of("colour ="),
    }
    for key, line in expected.items():
        assert any(m.startswith(f"{path}:{line}: {key}: ") for m in message), (key, message)


def test_missing_tables_and_credentials_in_the_file_are_refused():
    with pytest.raises(AdapterError) as info:
        parse_adapter({"submit": {"path": "v1", "fields": {"evacuee": "a"},
                                  "headers": {"Authorization": "Bearer s3cret"}}}, "t.toml")
    text = str(info.value)
    for needed in ("t.toml: lookup: is required", "t.toml: tally: is required",
                   "submit.fields.destination: is required", "submit.path: must be a path",
                   "submit.headers.Authorization: credentials come from the environment"):
        assert needed in text, text


def test_a_credential_missing_from_the_environment_is_named():
    adapter = parse_adapter(_with_header('X-Api-Key = "env:TEAM_KEY_FOR_TEST"'))
    with pytest.raises(AdapterError, match="TEAM_KEY_FOR_TEST"):
        adapter.resolved_headers({})
    secret = "s3cret-value-never-recorded"
    assert adapter.resolved_headers({"TEAM_KEY_FOR_TEST": secret}) == {"X-Api-Key": secret}
    assert secret not in str(adapter.describe()) and "X-Api-Key" in str(adapter.describe())


def _with_header(line: str) -> dict:
    import tomllib

    return tomllib.loads(ADAPTER.replace("[lookup]\n", f"[submit.headers]\n{line}\n\n[lookup]\n"))


def test_run_with_an_invalid_adapter_sends_nothing(tmp_path):
    (tmp_path / "team.toml").write_text(ADAPTER.replace('accepted = [201]',
                                                          'accepted = "201"'))
    result = cli("run", "smoke", "--target", "http://127.0.0.1:1", "--adapter",
                 str(tmp_path / "team.toml"), "--runs-dir", str(tmp_path / "runs"))
    assert result.returncode == 2
    assert f"{tmp_path / 'team.toml'}:4: submit.accepted: must be a list of 2xx" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "runs").exists()


def test_adapter_check_against_the_foreign_pipeline(tmp_path):
    (tmp_path / "team.toml").write_text(ADAPTER)
    with foreign_pipeline() as url:
        good = cli("adapter", "check", str(tmp_path / "team.toml"), "--target", url)
        (tmp_path / "wrong.toml").write_text(ADAPTER.replace('path = "/v1/notes"\naccepted',
                                                             'path = "/v2/notes"\naccepted'))
        wrong = cli("adapter", "check", str(tmp_path / "wrong.toml"), "--target", url)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "their id n-000001 (at /note/id)" in good.stdout
    assert "lists the wish" in good.stdout and "adapter check: OK" in good.stdout
    assert "exactly-once          yes, from the listing" in good.stdout
    assert "drained               yes, from /admin/queues (1 queue(s))" in good.stdout
    assert "dlq-explained         yes, from /admin/dead" in good.stdout
    assert "queues                GET /admin/queues -> inbox: 0 waiting" in good.stdout
    assert wrong.returncode == 1 and "FAILED: POST /v2/notes -> 404" in wrong.stdout
    down = cli("adapter", "check", str(tmp_path / "team.toml"), "--target",
               "http://127.0.0.1:1")
    assert down.returncode == 2 and down.stderr.count("\n") == 1
    assert "http://127.0.0.1:1 could not be reached" in down.stderr


def test_adapter_check_without_an_evidence_part_says_what_cannot_be_judged(tmp_path):
    (tmp_path / "team.toml").write_text(ADAPTER.split("[evidence.queues]")[0])
    with foreign_pipeline() as url:
        done = cli("adapter", "check", str(tmp_path / "team.toml"), "--target", url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "drained               no: the target's HTTP API does not show its queues " \
           "(name them in the adapter's [evidence.queues] or [evidence.aws])" in done.stdout
    assert "dlq-explained         no: the target's HTTP API does not show its dead letters" \
        in done.stdout


def test_evidence_part_problems_name_file_line_and_key(tmp_path):
    text = ADAPTER.replace('in_flight = "/inbox/working"', 'in_fligt = "/inbox/working"') \
        .replace('reason = "/why"', 'reason = "why"\nsecret_access_key = "x"') + """
[evidence.aws]
table = "notes"
id = "ref"
ids = "mine"
[evidence.aws.attributes]
evacuee = "author"
[[evidence.aws.queues]]
name = "intake"
url = "sqs://intake"
"""
    path = tmp_path / "team.toml"
    path.write_text(text)
    with pytest.raises(AdapterError) as info:
        load_adapter(path)
    lines = text.splitlines()

    def line_of(fragment: str) -> int:
        return next(i for i, x in enumerate(lines, 1) if x.startswith(fragment))

    message = str(info.value)
    for key, line, problem in (
            ("evidence.queues.depth.inbox.in_fligt", line_of("in_fligt"), "unknown key"),
            ("evidence.queues.depth.inbox.in_flight", line_of("[evidence.queues.depth.inbox]"),
             "is required"),
            ("evidence.dead_letters.reason", line_of('reason = "why"'), "JSON pointer"),
            ("evidence.dead_letters.secret_access_key", line_of("secret_access_key"),
             "credentials come from the environment only"),
            ("evidence.aws.ids", line_of("ids ="), '"ours"'),
            ("evidence.aws.attributes.message", line_of("[evidence.aws.attributes]"),
             "is required"),
            ("evidence.aws.queues.url", line_of('url = "sqs'), "http(s) URL")):
        assert f"{path}:{line}: {key}: " in message and problem in message, (key, message)


def test_scenario_target_table_names_its_url_and_adapter(tmp_path):
    from exodus2045.scenarios.scenario import ScenarioError, load_scenario

    (tmp_path / "team.toml").write_text(ADAPTER)
    good = tmp_path / "good.toml"
    good.write_text('name = "t"\n[target]\nurl = "http://127.0.0.1:9"\nadapter = "team.toml"\n')
    scenario = load_scenario(str(good))
    assert scenario.target_url == "http://127.0.0.1:9"
    assert scenario.target_adapter == str(tmp_path / "team.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "t"\n[target]\nurl = "ftp://x"\nadapter = "nope.toml"\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(bad))
    assert f"{bad}:3: target.url: must be an http:// or https:// URL" in str(info.value)
    assert f"{bad}:4: target.adapter: no adapter file at" in str(info.value)


def test_translator_shows_the_team_queue_and_dead_letters_in_exodus_shapes(tmp_path):
    """Through the adapter's pointers, presenter-only; a pointer that finds nothing is an
    error naming it, never an empty queue."""
    import httpx

    from exodus2045.scenarios.adapter.translator import Translator
    from tests.foreign_pipeline import foreign_pipeline as pipeline

    wrong = ADAPTER.replace('in_flight = "/inbox/working"', 'in_flight = "/inbox/busy"')
    for text, good in ((ADAPTER, True), (wrong, False)):
        (tmp_path / "team.toml").write_text(text)
        adapter = load_adapter(tmp_path / "team.toml")
        with pipeline(frozenset({"silent-dlq"})) as url, \
                Translator(adapter, url, None, token="t0ken") as t:
            auth = {"authorization": "Bearer t0ken"}
            assert httpx.get(f"{t.url}/api/admin/queues").status_code == 401
            queues = httpx.get(f"{t.url}/api/admin/queues", headers=auth)
            if not good:
                assert queues.status_code == 502 and "/inbox/busy" in queues.text
                continue
            assert queues.json() == {"queues": {"inbox": {"visible": 0, "in_flight": 0,
                                                          "dlq": 0}}}
            import uuid

            sent = []
            for n in range(30):  # the defect dead-letters the 30th note, without a reason
                sent.append(str(uuid.uuid4()))
                httpx.post(f"{t.url}/api/wishes", json={
                    "wish_id": sent[-1], "evacuee": "Ada", "destination": "mars",
                    "message": f"note {n}"})
            from tests.conftest import wait_for

            def letters(url: str = t.url, headers: dict = auth) -> list:
                return httpx.get(f"{url}/api/admin/dead-letters",
                                 headers=headers).json()["dead_letters"]

            [letter] = wait_for(letters, what="a dead letter")
            assert letter["wish_id"] == sent[29] and not letter["reason"]  # theirs -> ours
            assert json.loads(letter["body"])["note"] == t.ids[sent[29]]

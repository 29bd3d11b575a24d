"""What an adapter says about a team's semantics: content modes, input limits, credentials.

Fast parts: the comparison each content mode makes, the expected answer under declared
limits, the adapter keys with their file:line errors, and SigV4 signing checked by the
foreign pipeline recomputing the signature. The runs are in tests/test_foreign_semantics.py.
"""

from __future__ import annotations

import html

import httpx
import pytest

from exodus2045.app_under_test import wish
from exodus2045.locustfiles.generate import SwarmPlan, build_pools, plan_wish
from exodus2045.reports.content_modes import differs, normalized, unescape_once
from exodus2045.reports.input_limits import EXODUS, InputLimits, expect_under
from exodus2045.scenarios.adapter import AdapterError, load_adapter
from exodus2045.scenarios.adapter.auth import MissingCredentials, SigV4Signer
from tests.foreign_pipeline import ADAPTER, foreign_pipeline

SENT = 'Tell my sister:\n<b>kept</b> & "quoted" &lt;already&gt; é  done '
KEY = ("AKIDEXODUSTEST", "exodus-test-secret-0123456789", "eu-west-1")
NO_AWS = {"AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
          "AWS_CONFIG_FILE": "/nonexistent/config", "AWS_EC2_METADATA_DISABLED": "true"}


def test_exact_is_the_markup_policy_character_for_character():
    assert differs("exact", SENT, SENT) is None
    assert differs("exact", SENT, SENT.strip()) == "differs"


def test_normalized_allows_composition_and_whitespace_only():
    import unicodedata

    team = " ".join(unicodedata.normalize("NFD", SENT).split())  # NFD, collapsed, trimmed
    assert differs("normalized", SENT, team) is None
    assert differs("normalized", SENT, team + "\x07") is None  # a control character dropped
    assert normalized("a \t\n b ") == "a b"
    for changed in (team[:-1], team.upper(), team.replace("<b>", ""), team.replace("&", ""),
                    html.escape(team)):
        assert differs("normalized", SENT, changed) == "differs after normalization", changed


def test_escaped_unescapes_exactly_once_and_nothing_else():
    once = html.escape(SENT)
    assert differs("escaped", SENT, once) is None
    assert differs("escaped", SENT, html.escape(SENT, quote=False)) is None  # quotes optional
    assert differs("escaped", SENT, html.escape(once)) == "differs after un-escaping once"
    assert "bare '&'" in differs("escaped", SENT + "<", html.escape(SENT + "<")[:-1])
    assert "raw '<'" in differs("escaped", SENT, SENT)  # not escaped at all
    assert differs("escaped", SENT, html.escape(SENT[:-3])) == "differs after un-escaping once"
    assert unescape_once("&#233;&#xe9;&eacute;&amp;") == ("ééé&", None)
    assert unescape_once("&#xD800;")[0] is None  # a surrogate is not a character


def test_exodus_limits_are_the_pipelines_and_give_the_plans_answers():
    assert (EXODUS.evacuee_max, EXODUS.message_max, EXODUS.body_max) == \
        (wish.EVACUEE_MAX, wish.MESSAGE_MAX, wish.BODY_MAX_BYTES)
    plan = SwarmPlan(seed=7, run_id="limits", evacuees=600, infiltrator_share=0.5)
    pools = build_pools(7)
    planned = [plan_wish(plan, n, pools) for n in range(600)]
    assert all(expect_under(EXODUS, p)[0] == p.expect for p in planned)
    small = InputLimits(message_max=200, destinations=("mars",), empty_message="accept")
    hit = set()
    for p in planned:
        answer, why = expect_under(small, p)
        body = p.body if isinstance(p.body, dict) else {}
        if p.family == "empty-message":  # accepted, where the destination exists
            assert answer == ("accept" if p.destination == "mars" else "reject"), why
            hit.add("empty")
        elif p.expect == "accept" and len(body["message"]) > 200:
            assert answer == "reject" and "at most 200" in why
            hit.add("long")
        elif p.expect == "accept" and p.destination == "jupiter":
            assert answer == "reject" and "not one of ['mars']" in why
            hit.add("jupiter")
        elif p.family and p.expect == "reject":
            assert answer == "reject"  # broken JSON, a wrong type...: refused whatever limits
            hit.add("invalid")
    assert hit == {"empty", "long", "jupiter", "invalid"}


def _adapter_file(tmp_path, head: str = "", tail: str = "", replace: tuple = ()):
    text = head + ADAPTER + tail
    for old, new in replace:
        text = text.replace(old, new)
    path = tmp_path / "team.toml"
    path.write_text(text)
    return path, text.splitlines()


def _line(lines: list[str], start: str) -> int:
    return next(i for i, x in enumerate(lines, 1) if x.startswith(start))


def test_content_limits_and_auth_parse_and_are_recorded_without_credentials(tmp_path):
    path, _ = _adapter_file(tmp_path, head='content = "escaped"\n', tail=(
        '\n[limits]\nmessage_max = 500\ndestinations = ["mars"]\nempty_message = "accept"\n'
        '\n[auth]\nsigv4 = { service = "execute-api", region = "eu-west-1" }\n'))
    adapter = load_adapter(path)
    assert adapter.content == "escaped"
    assert adapter.limits == InputLimits(message_max=500, destinations=("mars",),
                                         empty_message="accept")
    assert adapter.auth and (adapter.auth.service, adapter.auth.region) == \
        ("execute-api", "eu-west-1")
    described = adapter.describe()
    assert described["content"] == "escaped" and described["limits"]["message_max"] == 500
    assert described["auth"] == {"sigv4": "execute-api in eu-west-1 (credentials from the "
                                           "environment)"}
    assert load_adapter(_adapter_file(tmp_path)[0]).content == "exact"  # the default


def test_bad_content_limits_and_secrets_name_file_line_and_key(tmp_path):
    path, lines = _adapter_file(
        tmp_path, head='content = "lenient"\n',
        tail=('\n[limits]\nmessage_max = 0\ndestinations = "mars"\nempty_message = "drop"\n'
              '\n[auth]\nsigv4 = { service = "execute-api", region = "eu-west-1", '
              'secret_access_key = "wJalrXUtnFEMI" }\napi_token = "abc"\n'),
        replace=(("[lookup]\n", '[submit.headers]\nX-Api-Key = "literal-key"\n'
                                'X-Request-Source = "exodus"\n\n[lookup]\n'),))
    with pytest.raises(AdapterError) as info:
        load_adapter(path)
    message = str(info.value).splitlines()
    expected = {
        "content": (_line(lines, "content ="), "must be one of 'exact', 'normalized', "
                                                "'escaped'"),
        "limits.message_max": (_line(lines, "message_max"), "at least 1"),
        "limits.destinations": (_line(lines, "destinations ="), "non-empty list"),
        "limits.empty_message": (_line(lines, "empty_message"), '"reject" or "accept"'),
        "auth.sigv4.secret_access_key": (_line(lines, "sigv4 ="), "environment only"),
        "auth.api_token": (_line(lines, "api_token"), "environment only"),
        "submit.headers.X-Api-Key": (_line(lines, "X-Api-Key"), "environment only"),
    }
    for key, (line, problem) in expected.items():
        assert any(m.startswith(f"{path}:{line}: {key}: ") and problem in m
                   for m in message), (key, message)
    assert len(message) == len(expected), message  # X-Request-Source is not a credential
    assert "wJalrXUtnFEMI" not in str(info.value) and "literal-key" not in str(info.value)


def test_sigv4_without_credentials_in_the_environment_is_named(tmp_path, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in NO_AWS.items():
        monkeypatch.setenv(name, value)
    path, _ = _adapter_file(tmp_path, tail='\n[auth.sigv4]\nservice = "execute-api"\n'
                                           'region = "eu-west-1"\n')
    with pytest.raises(MissingCredentials, match="needs AWS credentials"):
        load_adapter(path).resolved_auth()


def test_the_foreign_pipeline_recomputes_the_signature(monkeypatch):
    from botocore.credentials import Credentials

    class Static:
        def __init__(self, key_id: str, secret: str) -> None:
            self.frozen = Credentials(key_id, secret)

        def get_frozen_credentials(self):
            return self.frozen

    good = SigV4Signer(Static(*KEY[:2]), "execute-api", KEY[2])
    wrong = SigV4Signer(Static(KEY[0], "not-the-secret"), "execute-api", KEY[2])
    with foreign_pipeline(sigv4=KEY) as url, httpx.Client(base_url=url) as client:
        assert client.get("/v1/stats", auth=good).status_code == 200
        assert client.get("/v1/notes", params={"after": 0}, auth=good).status_code == 200
        note = {"author": "A", "planet": "MARS", "body": "signed é"}
        assert client.post("/v1/notes", json=note, auth=good).status_code == 201
        assert client.get("/v1/stats").status_code == 403
        assert client.get("/v1/stats", auth=wrong).status_code == 403
        request = client.build_request("POST", "/v1/notes", json=note)
        signed = next(good.auth_flow(request))
        tampered = httpx.Request("POST", signed.url, headers=signed.headers,
                                 content=signed.content.replace(b"signed", b"forged"))
        assert client.send(tampered).status_code == 403


def _planned_run(limits: dict | None, evacuees: int = 3000):
    """A run's audit view (meta and ledger numbers) of a plan, without running it."""
    from types import SimpleNamespace

    load = {"evacuees": evacuees, "mars_share": 0.6, "infiltrator_share": 1.0}
    plan = SwarmPlan(seed=11, run_id="hint", **load)
    pools = build_pools(11)
    planned = {p.wish_id: p for p in (plan_wish(plan, n, pools) for n in range(evacuees))}
    adapter = {"file": "team.toml", **({"limits": limits} if limits else {})}
    run = SimpleNamespace(
        meta={"adapter": adapter, "scenario": {"load": load}}, seed=11, run_id="hint",
        scenario={"load": load},
        wishes={w: SimpleNamespace(wish_id=w, n=p.n, expect=p.expect) for w, p in planned.items()})
    return run, planned


def test_without_limits_a_mismatch_is_named_with_where_the_limit_seems_to_lie():
    from exodus2045.reports.input_limits import expectations, limit_hint
    from exodus2045.reports.markup_policy import expected_text

    run, planned = _planned_run(None)
    valid = [p for p in planned.values() if p.expect == "accept"]
    long = [p.wish_id for p in valid if len(expected_text(p.body["message"])) > 200]
    short = [p.wish_id for p in valid if len(expected_text(p.body["message"])) <= 200]
    assert long and short
    hint = limit_hint(run, long, short)
    assert "every refused valid wish has a message of" in hint
    assert "limit looks smaller than Exodus's 2000" in hint and "declares no [limits]" in hint
    oversize = [p.wish_id for p in planned.values() if p.family == "oversize-message"]
    assert oversize and "(oversize-message)" in limit_hint(run, oversize)
    assert limit_hint(run, long[:3] + short[:3], short[3:]) == ""  # no limit explains it
    broken = [p.wish_id for p in planned.values() if p.family == "invalid-json"]
    assert limit_hint(run, broken) == ""  # taking broken JSON is a defect, not a limit
    declared, _ = _planned_run({"message_max": 200}, evacuees=400)
    assert limit_hint(declared, long, short) == ""
    changed = expectations(declared)
    assert changed and all(answer == "reject" and "at most 200" in why
                           for answer, why in changed.values())

"""The frontend end to end: a real uvicorn on 127.0.0.1:0, a real SQLite queue behind it."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from exodus2045.app_under_test.backends.local import LocalBackend, open_local
from exodus2045.app_under_test.parser import parse_body
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.chaos import board, entry
from tests.frontend_fixtures import (
    RunningFrontend,
    config_for,
    drain_bodies,
    problem_of,
    queued_count,
    running_frontend,
    signed_post,
    stored_wish,
    wait_for,
    wish,
    with_failing_intake,
)

RUN_ID = "r-frontend-test"


@pytest.fixture
def frontend(state: StateDir, backend: LocalBackend) -> Iterator[RunningFrontend]:
    with running_frontend(config_for(state.root), backend) as running:
        yield running


# -- accepting -------------------------------------------------------------------------------
def test_a_json_wish_is_queued_with_the_body_the_parser_reads(
    frontend: RunningFrontend, backend: LocalBackend, state: StateDir
) -> None:
    sent = wish(1, destination="Jupiter", message="Tell them <b>we</b> tried.\nTwice.")
    before = time.time()
    response = signed_post(frontend.client, state.root, RUN_ID, sent)
    assert response.status_code == 202, response.text
    assert response.json() == {"wish_id": sent["wish_id"], "status": "queued"}
    assert response.headers["location"] == f"/api/wishes/{sent['wish_id']}"

    [body] = drain_bodies(backend)
    assert set(body) == {"wish_id", "run_id", "source", "evacuee", "destination", "message",
                         "accepted_at"}
    assert body["run_id"] == "r-frontend-test" and body["source"] == "swarm"
    assert body["destination"] == "jupiter"
    assert before <= body["accepted_at"] <= time.time()
    parsed = parse_body(json.dumps(body))  # the parser consumes exactly this
    assert parsed["wish_id"] == sent["wish_id"]
    assert parsed["message"] == sent["message"] and parsed["markup"] is True
    assert parsed["run_id"] == "r-frontend-test" and parsed["source"] == "swarm"


def test_an_audience_wish_gets_a_minted_id_and_no_run(
    frontend: RunningFrontend, backend: LocalBackend
) -> None:
    sent = wish(2)
    del sent["wish_id"]
    response = frontend.client.post("/api/wishes", json=sent)
    assert response.status_code == 202
    minted = response.json()["wish_id"]
    assert str(uuid.UUID(minted)) == minted
    [body] = drain_bodies(backend)
    assert (body["wish_id"], body["run_id"], body["source"]) == (minted, None, "audience")


def test_a_run_header_without_a_valid_signature_is_an_audience_wish(
    frontend: RunningFrontend, backend: LocalBackend, state: StateDir
) -> None:
    """Anyone can send ``X-Exodus-Run``; only the run's key makes a request the swarm's."""
    root = state.root
    signed_post(frontend.client, root, RUN_ID, wish(0))  # registers the run's key
    drain_bodies(backend)
    bare = frontend.client.post("/api/wishes", json=wish(3), headers={"X-Exodus-Run": RUN_ID})
    forged = signed_post(frontend.client, root, RUN_ID, wish(4), key=b"x" * 32)
    unknown = signed_post(frontend.client, root, "r-nobody-registered", wish(5), key=b"x" * 32)
    overlong = frontend.client.post("/api/wishes", json=wish(6),
                                    headers={"X-Exodus-Run": "r" * 101, "X-Exodus-Sig": "a:b"})
    assert [r.status_code for r in (bare, forged, unknown, overlong)] == [202] * 4
    scopes = {(b["run_id"], b["source"]) for b in drain_bodies(backend)}
    assert scopes == {(None, "audience")}


def test_a_retry_is_not_a_second_wish_and_a_reused_id_is_a_conflict(
    frontend: RunningFrontend, backend: LocalBackend, state: StateDir
) -> None:
    sent = wish(4)
    first = signed_post(frontend.client, state.root, RUN_ID, sent)
    again = signed_post(frontend.client, state.root, RUN_ID, sent)
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json() == {"wish_id": sent["wish_id"], "status": "queued"}

    other = frontend.client.post("/api/wishes", json={**sent, "message": "something else"})
    assert other.status_code == 409
    problem = problem_of(other)
    assert problem["field"] == "wish_id"
    assert problem["errors"] == [{"field": "wish_id", "detail": problem["detail"]}]
    assert [b["wish_id"] for b in drain_bodies(backend)] == [sent["wish_id"]]
    assert 'exodus_frontend_wishes_total{outcome="duplicate"} 1.0' in frontend.metrics_text


def test_concurrent_wishes_are_each_queued_exactly_once(
    frontend: RunningFrontend, backend: LocalBackend
) -> None:
    wishes = [wish(n) for n in range(60)]

    async def post_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=30)
        async with httpx.AsyncClient(base_url=frontend.url, limits=limits, timeout=20) as c:
            return await asyncio.gather(*(c.post("/api/wishes", json=w) for w in wishes))

    responses = asyncio.run(post_all())
    assert [r.status_code for r in responses] == [202] * len(wishes)
    assert sorted(r.json()["wish_id"] for r in responses) == sorted(w["wish_id"] for w in wishes)
    bodies = drain_bodies(backend)
    assert sorted(b["wish_id"] for b in bodies) == sorted(w["wish_id"] for w in wishes)
    metrics = frontend.metrics_text
    assert "exodus_frontend_batch_size_sum 60.0" in metrics
    assert 'exodus_frontend_wishes_total{outcome="accepted"} 60.0' in metrics


def test_a_form_post_answers_a_page_and_queues_the_wish(
    frontend: RunningFrontend, backend: LocalBackend
) -> None:
    wish_id = str(uuid.uuid4())
    form = {"wish_id": wish_id, "evacuee": "Zoë <i>", "destination": "mars",
            "message": "See you in nine months & more"}
    response = frontend.client.post("/api/wishes", data=form,
                                    headers={"Accept": "text/html,*/*;q=0.8"})
    assert response.status_code == 202
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = HTMLParser(response.text)
    assert "queued" in page.css_first("h1").text()
    assert wish_id in page.body.text()
    assert page.css_first('a[href="/"]') is not None
    [body] = drain_bodies(backend)
    assert (body["wish_id"], body["evacuee"], body["message"]) == (
        wish_id, "Zoë <i>", "See you in nine months & more")


def test_a_bad_form_post_answers_an_error_page_naming_the_field(
    frontend: RunningFrontend, backend: LocalBackend
) -> None:
    form = {"evacuee": "Ann", "destination": "<b>venus</b>", "message": "hi"}
    response = frontend.client.post("/api/wishes", data=form, headers={"Accept": "text/html"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "destination" in HTMLParser(response.text).body.text()
    assert "<b>" not in response.text
    assert queued_count(backend) == 0


def test_a_form_client_asking_for_json_gets_json(
    frontend: RunningFrontend, backend: LocalBackend
) -> None:
    response = frontend.client.post("/api/wishes", data=wish(5),
                                    headers={"Accept": "application/json"})
    assert response.status_code == 202 and response.json()["status"] == "queued"


def test_the_queue_refusing_answers_503_with_retry_after(
    state: StateDir, backend: LocalBackend
) -> None:
    failing, intake = with_failing_intake(backend)
    with running_frontend(config_for(state.root), failing) as frontend:
        response = signed_post(frontend.client, state.root, RUN_ID, wish(6))
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert "ThrottlingException" in problem_of(response)["detail"]
        assert 'exodus_frontend_wishes_total{outcome="unavailable"} 1.0' in frontend.metrics_text
    assert intake.calls == 1
    assert queued_count(backend) == 0


# -- reading ---------------------------------------------------------------------------------
def test_a_wish_is_404_until_stored_then_served_as_stored(
    frontend: RunningFrontend, backend: LocalBackend
) -> None:
    stored = stored_wish(7)
    missing = frontend.client.get(f"/api/wishes/{stored['wish_id']}")
    assert missing.status_code == 404
    problem_of(missing)
    backend.store.put_wishes([stored])
    found = frontend.client.get(f"/api/wishes/{stored['wish_id']}")
    assert found.status_code == 200
    doc = found.json()
    assert doc["wish_id"] == stored["wish_id"] and doc["message"] == stored["message"]
    assert isinstance(doc["stored_at"], float)


def test_the_wall_escapes_a_stored_script(frontend: RunningFrontend, backend: LocalBackend) -> None:
    payload = '<script>alert("wall")</script><img src=x onerror=alert(1)>'
    backend.store.put_wishes([stored_wish(8, message=payload, evacuee="<b>Mallory</b>",
                                          markup=True)])
    response = frontend.client.get("/wall")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = HTMLParser(response.text)
    assert page.css("script") == [] and page.css("img") == [] and page.css("main b") == []
    assert payload in page.css_first("li.wish .message").text()
    assert "&lt;script&gt;" in response.text
    wall = frontend.client.get("/api/wall").json()
    assert isinstance(wall, list) and wall[0]["message"] == payload


def test_the_wall_shows_newest_first_within_the_limit(
    frontend: RunningFrontend, backend: LocalBackend
) -> None:
    backend.store.put_wishes([stored_wish(n, message=f"wish {n}") for n in range(5)])
    wall = frontend.client.get("/api/wall", params={"limit": 3}).json()
    assert [w["message"] for w in wall] == ["wish 4", "wish 3", "wish 2"]
    page = HTMLParser(frontend.client.get("/wall", params={"limit": 2}).text)
    assert [li.css_first(".message").text() for li in page.css("li.wish")] == ["wish 4", "wish 3"]


@pytest.mark.parametrize("path", ["/wall", "/api/wall"])
@pytest.mark.parametrize("limit", ["0", "201", "-1", "lots"])
def test_a_wall_limit_out_of_range_is_a_422_problem(
    frontend: RunningFrontend, path: str, limit: str
) -> None:
    response = frontend.client.get(path, params={"limit": limit})
    assert response.status_code == 422
    assert problem_of(response)["field"] == "limit"


def test_tally_counts_stored_wishes(frontend: RunningFrontend, backend: LocalBackend) -> None:
    assert frontend.client.get("/api/tally").json() == {"tally": {"mars": 0, "jupiter": 0}}
    backend.store.put_wishes([stored_wish(n) for n in range(5)])  # 0, 2, 4 -> mars
    wait_for(lambda: frontend.client.get("/api/tally").json() == {  # the public snapshot is
        "tally": {"mars": 3, "jupiter": 2}}, 5, "the tally")  # at most a second old
    page = HTMLParser(frontend.client.get("/wall").text)
    assert page.css_first(".count-mars strong").text() == "3"


def test_health_metrics_and_openapi(frontend: RunningFrontend, backend: LocalBackend) -> None:
    health = frontend.client.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert frontend.client.post("/api/wishes", json=wish(9)).status_code == 202
    assert frontend.client.post("/api/wishes", content=b"{", headers={
        "content-type": "application/json"}).status_code == 400
    metrics = frontend.client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'exodus_frontend_wishes_total{outcome="accepted"} 1.0' in text
    assert 'exodus_frontend_rejected_total{status="400"} 1.0' in text
    assert "exodus_frontend_enqueue_seconds_count 1.0" in text
    assert 'exodus_queue_depth{queue="wishes",state="visible"} 1.0' in text
    assert 'exodus_queue_depth{queue="parsed",state="visible"} 0.0' in text
    schema = frontend.client.get("/openapi.json").json()
    assert "post" in schema["paths"]["/api/wishes"]
    assert {"/api/wishes/{wish_id}", "/wall", "/api/tally", "/healthz"} <= schema["paths"].keys()


def test_the_openapi_body_states_the_wish_models_limits(frontend: RunningFrontend) -> None:
    """The documented limits are the ones the server enforces (one definition, in wish.py)."""
    from exodus2045.app_under_test import wish as model

    post = frontend.client.get("/openapi.json").json()["paths"]["/api/wishes"]["post"]
    for media in ("application/json", "application/x-www-form-urlencoded"):
        fields = post["requestBody"]["content"][media]["schema"]["properties"]
        assert fields["evacuee"]["maxLength"] == model.EVACUEE_MAX
        assert fields["message"]["maxLength"] == model.MESSAGE_MAX
        assert fields["destination"]["enum"] == list(model.DESTINATIONS)
    too_long = {**wish(10), "message": "x" * (model.MESSAGE_MAX + 1)}
    assert frontend.client.post("/api/wishes", json=too_long).status_code == 422


def test_the_join_page_is_a_form_that_needs_no_script(frontend: RunningFrontend) -> None:
    response = frontend.client.get("/")
    assert response.status_code == 200
    page = HTMLParser(response.text)
    form = page.css_first("form")
    assert form.attributes["method"] == "post" and form.attributes["action"] == "/api/wishes"
    names = {node.attributes.get("name") for node in form.css("input, textarea")}
    assert names == {"wish_id", "evacuee", "destination", "message"}
    assert {n.attributes["value"] for n in form.css('input[name="destination"]')} == {
        "mars", "jupiter"}
    assert page.css("script") == [] and "style=" not in response.text
    other = HTMLParser(frontend.client.get("/").text).css_first('input[name="wish_id"]')
    assert other.attributes["value"] != form.css_first('input[name="wish_id"]').attributes["value"]
    css = frontend.client.get("/static/exodus.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


# -- presenter -------------------------------------------------------------------------------
def test_hiding_needs_the_presenter_token(state: StateDir, backend: LocalBackend) -> None:
    stored = stored_wish(10, message="not for the projector")
    backend.store.put_wishes([stored, stored_wish(11, message="fine")])
    path = f"/api/admin/wishes/{stored['wish_id']}/hide"
    with running_frontend(config_for(state.root, presenter_token="s3cret"), backend) as fe:
        missing = fe.client.post(path)
        assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith(
            "Bearer")
        problem_of(missing)
        wrong = fe.client.post(path, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403
        problem_of(wrong)
        assert "not for the projector" in fe.client.get("/wall").text
        hidden = fe.client.post(path, headers={"Authorization": "Bearer s3cret"})
        assert hidden.status_code == 200 and hidden.json() == {
            "wish_id": stored["wish_id"], "hidden": True}
        assert "not for the projector" not in fe.client.get("/wall").text
        assert [w["message"] for w in fe.client.get("/api/wall").json()] == ["fine"]
        unknown = fe.client.post(f"/api/admin/wishes/{uuid.uuid4()}/hide",
                                 headers={"Authorization": "Bearer s3cret"})
        assert unknown.status_code == 404
        one = f"/api/wishes/{stored['wish_id']}"
        public = fe.client.get(one)
        assert public.status_code == 404, "a hidden wish is hidden everywhere public"
        problem_of(public)
        assert fe.client.get(one, headers={"Authorization": "Bearer nope"}).status_code == 404
        presenter = fe.client.get(one, headers={"Authorization": "Bearer s3cret"})
        assert presenter.status_code == 200 and presenter.json()["hidden"] is True
    assert backend.store.get(stored["wish_id"])["hidden"] is True  # stays stored


def test_public_json_never_says_which_run_sent_a_wish(
    frontend: RunningFrontend, backend: LocalBackend
) -> None:
    """The live run id once sat in /api/wall: a phone that read it could join the run."""
    sent = stored_wish(20, run_id=RUN_ID)
    backend.store.put_wishes([sent])
    one = frontend.client.get(f"/api/wishes/{sent['wish_id']}").json()
    wall = frontend.client.get("/api/wall").json()
    assert wall and one["message"] == sent["message"]
    for shown in [one, *wall]:
        assert not {"run_id", "source", "hidden"} & set(shown), shown
    assert RUN_ID not in frontend.client.get("/api/wall").text


def test_a_run_key_is_registered_only_with_the_presenter_token(
    state: StateDir, backend: LocalBackend
) -> None:
    """A frontend the runner cannot reach on disk learns a run's key through this route."""
    from exodus2045.app_under_test.runkey import KEY_DIR

    path = "/api/admin/runs/r-remote/key"
    key = "ab" * 32
    with running_frontend(config_for(state.root, presenter_token="s3cret"), backend) as fe:
        assert fe.client.put(path, json={"key": key}).status_code == 401
        assert fe.client.put(path, json={"key": key},
                             headers={"Authorization": "Bearer nope"}).status_code == 403
        bad = fe.client.put(path, json={"key": "zz"}, headers={"Authorization": "Bearer s3cret"})
        assert bad.status_code == 422 and problem_of(bad)["field"] == "key"
        ok = fe.client.put(path, json={"key": key}, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 204
        sent = wish(21)
        r = signed_post(fe.client, state.root, "r-remote", sent, key=bytes.fromhex(key))
        assert r.status_code == 202
    key_file = state.root / KEY_DIR / "r-remote.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    [body] = drain_bodies(backend)
    assert (body["run_id"], body["source"]) == ("r-remote", "swarm")


def test_without_a_token_admin_routes_refuse_everyone(
    frontend: RunningFrontend, backend: LocalBackend
) -> None:
    stored = stored_wish(12)
    backend.store.put_wishes([stored])
    response = frontend.client.post(f"/api/admin/wishes/{stored['wish_id']}/hide",
                                    headers={"Authorization": "Bearer anything"})
    assert response.status_code == 403
    problem_of(response)
    assert backend.store.get(stored["wish_id"])["hidden"] is False
    letters = frontend.client.get("/api/admin/dead-letters",
                                  headers={"Authorization": "Bearer anything"})
    assert letters.status_code == 403
    problem_of(letters)


def test_audience_wishes_are_rate_limited_per_client(state: StateDir, backend: LocalBackend) -> None:
    with running_frontend(config_for(state.root, rate_limit_per_s=0.01), backend) as fe:
        assert fe.client.post("/api/wishes", json=wish(13)).status_code == 202
        limited = fe.client.post("/api/wishes", json=wish(14))
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        problem_of(limited)
        assert signed_post(fe.client, state.root, RUN_ID, wish(15)).status_code == 202
        forged = [signed_post(fe.client, state.root, RUN_ID, wish(16 + i), key=b"f" * 32)
                  for i in range(3)]
        assert [r.status_code for r in forged] == [429] * 3, "a forged signature is limited"
    assert len(drain_bodies(backend)) == 2


def test_the_frontend_opens_its_own_backend_on_startup(tmp_path: Path) -> None:
    state_dir = tmp_path / "fresh"
    sent = wish(16)
    with running_frontend(config_for(state_dir)) as fe:
        assert fe.client.post("/api/wishes", json=sent).status_code == 202
        assert fe.client.get("/api/tally").json() == {"tally": {"mars": 0, "jupiter": 0}}
    reopened = open_local(StateDir(state_dir))
    try:
        assert [b["wish_id"] for b in drain_bodies(reopened)] == [sent["wish_id"]]
    finally:
        reopened.close()


def test_queue_send_faults_reach_a_frontend_that_opened_its_own_backend(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "chaos").ensure()
    with running_frontend(config_for(state.root), hooks=entry.frontend_hooks()) as fe:
        assert fe.client.post("/api/wishes", json=wish(17)).status_code == 202
        fault = board.FaultBoard(state).add(board.ActiveFault.new(
            "throttle", "frontend/queue.send", 1.0, {}, 7, "scenario"))
        refused = wait_for(lambda: (r := fe.client.post("/api/wishes", json=wish(18)))
                           .status_code == 503 and r, 10, "the fault to reach the frontend")
        assert refused.headers["retry-after"] == "1"
        board.FaultBoard(state).remove(fault.id)
        wait_for(lambda: fe.client.post("/api/wishes", json=wish(19)).status_code == 202, 10,
                 "the fault to end")


def test_metrics_scrapes_within_a_second_share_one_depth_read(frontend: RunningFrontend) -> None:
    """Each depth read is COUNT(*)s under the writer's lock: a scrape loop must not add up."""
    visible = 'exodus_queue_depth{queue="wishes",state="visible"}'

    def depth() -> float:
        line = next(x for x in frontend.metrics_text.splitlines() if x.startswith(visible))
        return float(line.split()[-1])

    before = depth()
    assert frontend.client.post("/api/wishes", json=wish(30)).status_code == 202
    started = time.monotonic()
    shared = depth()
    if time.monotonic() - started < 0.5:  # still inside the first read's second
        assert shared == before, "a scrape within the second reused the cached read"
    wait_for(lambda: depth() == before + 1, 5, what="the depth read again after a second")


def test_public_reads_are_limited_per_client_on_stage_but_not_for_the_run_or_presenter(
    state: StateDir, backend: LocalBackend
) -> None:
    from exodus2045.app_under_test.runkey import RunKeys, read_signature, signature

    key = b"r" * 32
    RunKeys(state.root).register(RUN_ID, key)
    signed = {"X-Exodus-Run": RUN_ID,
              "X-Exodus-Sig": read_signature(key, RUN_ID, "GET", "/api/wall")}
    config = config_for(state.root, rate_limit_per_s=1.0, presenter_token="s3cret")
    with running_frontend(config, backend) as fe:
        statuses = [fe.client.get("/api/wall").status_code for _ in range(30)]
        assert 200 in statuses and 429 in statuses, statuses
        limited = fe.client.get("/metrics")
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        problem_of(limited)
        assert fe.client.get("/api/wall", headers=signed).status_code == 200
        forged = {**signed, "X-Exodus-Sig": read_signature(b"x" * 32, RUN_ID, "GET", "/api/wall")}
        assert fe.client.get("/api/wall", headers=forged).status_code == 429
        wish_shaped = {**signed, "X-Exodus-Sig": signature(key, RUN_ID, "/api/wall", b"")}
        assert fe.client.get("/api/wall", headers=wish_shaped).status_code == 429
        presenter = {"Authorization": "Bearer s3cret"}
        assert fe.client.get("/api/wall", headers=presenter).status_code == 200
        assert fe.client.get("/healthz").status_code == 200, "liveness is never limited"
    with running_frontend(config_for(state.root), backend) as fe:  # no stage: no limit
        assert {fe.client.get("/api/wall").status_code for _ in range(30)} == {200}

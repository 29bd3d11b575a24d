"""The submit route served ahead of the middleware stack answers exactly as through it, and
the batch-at-once intake and queue insert keep every outcome and order of the per-row ones."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx
import pytest

from exodus2045.app_under_test.backends.local import LocalBackend
from exodus2045.app_under_test.backends.local.intake import (
    CLAIM_ROWS,
    CONFLICT,
    DUPLICATE,
    QUEUED,
    LocalIntake,
    Submission,
)
from exodus2045.app_under_test.backends.local.queue import INSERT_ROWS
from exodus2045.app_under_test.frontend.body import read_limited
from exodus2045.app_under_test.frontend.direct import DirectRoutesApp
from exodus2045.app_under_test.frontend.problems import Problem
from exodus2045.app_under_test.ports import OutgoingMessage
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.app_under_test.wish import clean_wish_id, normalise_text
from tests.frontend_fixtures import (
    config_for,
    drain_bodies,
    problem_of,
    running_frontend,
    wish,
)

#: Headers whose values differ from one wish to the next.
PER_WISH = {"location", "content-length", "date"}


def answer(client: httpx.Client, body: dict) -> tuple[int, dict[str, str], dict]:
    response = client.post("/api/wishes", json=body)
    headers = {k: v for k, v in response.headers.items() if k not in PER_WISH}
    if response.status_code == 202:
        assert response.headers["location"] == f"/api/wishes/{body['wish_id']}"
        assert response.json() == {"wish_id": body["wish_id"], "status": "queued"}
    return response.status_code, headers, response.json()


def test_the_direct_route_answers_as_the_stack_would(state: StateDir, backend: LocalBackend) -> None:
    with running_frontend(config_for(state.root), backend) as frontend:
        app = frontend.app
        assert isinstance(app, DirectRoutesApp) and ("POST", "/api/wishes") in app.direct
        bodies = [wish(1), wish(2, destination="venus"), wish(3, evacuee=7)]
        direct = [answer(frontend.client, b) for b in bodies]
        app.direct.clear()  # from here on, the same requests walk the whole stack
        stacked = [answer(frontend.client, wish(1))]
        stacked += [answer(frontend.client, b) for b in bodies[1:]]
    for (d_status, d_headers, d_doc), (s_status, s_headers, s_doc) in zip(direct, stacked,
                                                                          strict=True):
        assert d_status == s_status and d_headers == s_headers
        assert d_doc.keys() == s_doc.keys()
        if d_status != 202:
            assert d_doc == s_doc  # the same problem, naming the same field
    assert direct[0][0] == 202 and direct[0][1]["x-content-type-options"] == "nosniff"
    assert "content-security-policy" in direct[0][1]
    assert [d[0] for d in direct] == [202, 422, 422]
    assert [b["wish_id"] for b in drain_bodies(backend)][:1] == [bodies[0]["wish_id"]]


class CrashingIntake(LocalIntake):
    def accept(self, submissions: Sequence[Submission]) -> list[str]:
        raise RuntimeError("a bug, not a queue outage")


def test_a_crash_on_the_direct_route_is_a_500_problem_with_the_security_headers(
    state: StateDir, backend: LocalBackend,
) -> None:
    crashing = LocalBackend(backend.wishes, backend.parsed, backend.store,
                            CrashingIntake(backend.wishes))
    with running_frontend(config_for(state.root), crashing) as frontend:
        response = frontend.client.post("/api/wishes", json=wish(1))
    assert response.status_code == 500
    assert problem_of(response)["detail"].startswith("the frontend failed")
    assert response.headers["x-frame-options"] == "DENY"
    assert "content-security-policy" in response.headers


def test_one_batch_claims_a_repeated_wish_id_once(backend: LocalBackend) -> None:
    def sub(wish_id: str, digest: str) -> Submission:
        return Submission(wish_id, digest, f'{{"id": "{wish_id}"}}', {"traceparent": "t"})

    intake = backend.intake
    assert intake.accept([sub("a", "1"), sub("b", "1"), sub("a", "1"), sub("a", "2")]) == [
        QUEUED, QUEUED, DUPLICATE, CONFLICT]
    assert intake.accept([sub("a", "1"), sub("c", "1"), sub("b", "9"), sub("c", "1")]) == [
        DUPLICATE, QUEUED, CONFLICT, DUPLICATE]
    many = [sub(f"m{i}", "1") for i in range(CLAIM_ROWS + 7)]
    assert intake.accept(many + [sub("m0", "1")]) == [QUEUED] * len(many) + [DUPLICATE]
    assert backend.wishes.depth().visible == 3 + len(many)


def test_a_batch_of_messages_is_stored_in_order_with_its_attributes(
    backend: LocalBackend,
) -> None:
    messages = [OutgoingMessage(f"m{i}", {"traceparent": f"t{i}"} if i % 2 else {})
                for i in range(2 * INSERT_ROWS + 3)]
    ids = backend.wishes.send_batch(messages)
    assert len(set(ids)) == len(messages)
    rows = backend.wishes.connection.execute(
        "SELECT message_id, body, attributes FROM messages ORDER BY seq").fetchall()
    assert [r[0] for r in rows] == ids
    assert [r[1] for r in rows] == [m.body for m in messages]
    assert rows[1][2] == '{"traceparent": "t1"}' and rows[0][2] == "{}"


def test_the_normalisers_shortcuts_give_what_the_full_path_gives() -> None:
    canonical = "1b4e28ba-2fa1-41d2-883f-0000000012ab"
    assert clean_wish_id(canonical) == canonical
    assert clean_wish_id(canonical.upper()) == canonical
    assert clean_wish_id("{" + canonical + "}") == canonical
    assert normalise_text("plain ascii, printable") == "plain ascii, printable"
    assert normalise_text("tab\tnew\nline\x00bell\x07del\x7f") == "tab\tnew\nlinebelldel"
    assert normalise_text("e\u0301\u0085") == "\u00e9"
    assert normalise_text("e\u0301", nfc=False) == "e\u0301"


# -- reading the body: no timer when it is already here, the deadline when it is not ----------
def _receiver(messages: list[dict], wait_first: bool = False, log: list[str] | None = None):
    """An ASGI receive: ``messages`` in turn (then nothing, ever); the first only after a
    real wait if asked."""
    async def receive() -> dict:
        nonlocal wait_first
        if wait_first:
            wait_first = False
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:  # thrown in, as by ``yield from`` (a mere close()
                if log is not None:  # of an abandoned receive would be a GeneratorExit)
                    log.append("cancelled")
                raise
        if not messages:
            await asyncio.sleep(3600)
        return messages.pop(0)

    return receive


def _read(receive, limit: int = 100, deadline_s: float = 5.0):  # noqa: ANN001, ANN202
    async def main():  # noqa: ANN202
        try:
            return await read_limited(receive, limit, deadline_s)
        except Problem as problem:
            return problem.status, problem.field

    return asyncio.run(main())


def test_the_body_is_read_whole_split_or_late_and_refused_when_too_big_or_gone() -> None:
    whole = {"type": "http.request", "body": b"abc"}
    assert _read(_receiver([whole])) == b"abc"
    assert _read(_receiver([dict(whole)], wait_first=True)) == b"abc"
    split = [{"type": "http.request", "body": b"ab", "more_body": True},
             {"type": "http.request", "body": b"c"}]
    assert _read(_receiver(list(split))) == b"abc"
    assert _read(_receiver(list(split), wait_first=True)) == b"abc"
    assert _read(_receiver([{"type": "http.request", "body": b"x" * 101}])) == (413, "body")
    assert _read(_receiver([{"type": "http.disconnect"}])) == (400, "body")
    assert _read(_receiver([{"type": "http.disconnect"}], wait_first=True)) == (400, "body")
    late = [{"type": "http.request", "body": b"a", "more_body": True}]
    assert _read(_receiver(late), deadline_s=0.05) == (408, "body"), "the rest never came"


def test_cancelling_a_waiting_body_read_reaches_the_receive_it_waits_in() -> None:
    log: list[str] = []
    receive = _receiver([{"type": "http.request", "body": b"abc"}], wait_first=True, log=log)

    async def main() -> None:
        task = asyncio.ensure_future(read_limited(receive, 100))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert log == ["cancelled"]

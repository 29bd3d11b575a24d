"""Presenter routes: hide a wish, list a run's wishes and the dead letters, and the
presenter check they share.

A room will post things nobody wants on the projector. Only the presenter, holding the
token ``exodus stage`` printed (or ``EXODUS_PRESENTER_TOKEN``), may hide a wish; with no
token configured the routes refuse everyone, so a forgotten setting fails closed. The
presenter's chaos routes are not the pipeline's: chaos installs them (with
:func:`check_presenter`) when it starts the frontend, see ``exodus2045.chaos.presenter``.
"""

from __future__ import annotations

import hmac
from itertools import islice

import anyio.to_thread
from fastapi import Body, FastAPI, Header, Path, Query
from starlette.responses import Response

from exodus2045.app_under_test.frontend.problems import Problem
from exodus2045.app_under_test.frontend.responses import json_response
from exodus2045.app_under_test.frontend.state import FrontendState
from exodus2045.app_under_test.runkey import parse_key, valid_run_id

#: Rows per page of a run's listing; a run's audit pages through it with ``offset``.
LIST_PAGE_MAX = 1000
RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"  # as runkey.valid_run_id
KEY_PATTERN = r"^([0-9a-fA-F]{2}){16,64}$"  # as runkey.parse_key
CHALLENGE = {"www-authenticate": 'Bearer realm="exodus-presenter"'}


def check_presenter(authorization: str | None, token: str | None) -> None:
    """Pass, or raise 401 (no bearer credentials) / 403 (wrong token, or none configured)."""
    if not token:
        raise Problem(403, "forbidden", "presenter routes are off: no presenter token is set")
    scheme, _, given = (authorization or "").strip().partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        raise Problem(401, "unauthorized", "send Authorization: Bearer <presenter token>",
                      headers=CHALLENGE)
    if not hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8")):
        raise Problem(403, "forbidden", "that is not the presenter token")


def is_presenter(authorization: str | None, token: str | None) -> bool:
    """Whether a request carries the presenter token (no error: for routes open to all)."""
    try:
        check_presenter(authorization, token)
    except Problem:
        return False
    return True


def add_admin_routes(app: FastAPI, state: FrontendState) -> None:
    @app.put("/api/admin/runs/{run_id}/key", response_class=Response, status_code=204,
             summary="Register a run's key, for a frontend the runner cannot reach on disk "
                     "(presenter token required)")
    async def run_key(run_id: str = Path(pattern=RUN_ID_PATTERN),
                      key_hex: str = Body(..., embed=True, alias="key", pattern=KEY_PATTERN),
                      authorization: str | None = Header(None)) -> Response:
        check_presenter(authorization, state.config.presenter_token)
        key = parse_key(key_hex)
        if key is None:
            raise Problem(422, "invalid-key", "key must be 32-128 hex digits", field="key")
        if not valid_run_id(run_id):
            raise Problem(422, "invalid-run-id", "run id must be 1-100 letters, digits, . _ -",
                          field="run_id")
        await anyio.to_thread.run_sync(state.run_keys.register, run_id, key)
        return Response(status_code=204)

    @app.post("/api/admin/wishes/{wish_id}/hide", response_class=Response,
              summary="Hide a wish from the wall (presenter token required)")
    async def hide(wish_id: str, authorization: str | None = Header(None)) -> Response:
        check_presenter(authorization, state.config.presenter_token)
        assert state.backend is not None, "the frontend was not opened"
        if not await state.store(state.backend.store.hide, wish_id):
            raise Problem(404, "wish-not-found", "no wish is stored with this id")
        state.view.invalidate()  # off this process's wall now, not in a second
        return json_response({"wish_id": wish_id, "hidden": True})

    @app.get("/api/admin/runs/{run_id}/wishes", response_class=Response,
             summary="Every stored wish of one swarm run, duplicates included, in pages "
                     "(presenter token required)")
    async def run_wishes(run_id: str, offset: int = Query(0, ge=0),
                         limit: int = Query(LIST_PAGE_MAX, ge=1, le=LIST_PAGE_MAX),
                         authorization: str | None = Header(None)) -> Response:
        """What an audit over HTTP needs for exactly-once and no-phantoms: the rows the store
        holds for a run, not one lookup per id (which can say neither "twice" nor "never
        sent"). Presenter-only, because rows carry ``run_id`` and ``source``."""
        check_presenter(authorization, state.config.presenter_token)
        assert state.backend is not None, "the frontend was not opened"

        def page() -> list[dict]:
            return list(islice(state.backend.store.iterate(run_id), offset, offset + limit + 1))

        rows = await state.store(page)
        more = len(rows) > limit
        return json_response({"run_id": run_id, "offset": offset, "wishes": rows[:limit],
                              "next": offset + limit if more else None})

    @app.get("/api/admin/dead-letters", response_class=Response,
             summary="Every dead-lettered message of both queues, with its reason "
                     "(presenter token required)")
    async def dead_letters(authorization: str | None = Header(None)) -> Response:
        """What an audit over HTTP needs for dlq-explained: which messages died and why.
        Presenter-only, because a dead letter's body is a whole message (``run_id``,
        ``source`` and all)."""
        check_presenter(authorization, state.config.presenter_token)
        letters = await anyio.to_thread.run_sync(state.read_dead_letters)
        return json_response({"dead_letters": letters})

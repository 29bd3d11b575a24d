"""The presenter's chaos routes on the frontend: switch a fault on, list them, clear them all.

A presenter wants to break the pipeline on cue from the console. The routes go through the
same code as ``exodus chaos apply`` (:func:`exodus2045.chaos.plan.step_from_cli` and
:func:`exodus2045.chaos.switch.switch_on`), recorded in the state dir's ``timeline.jsonl``
with source ``presenter``; they need the presenter token, as the pipeline's own admin routes
do (:func:`exodus2045.app_under_test.frontend.admin.check_presenter`). A fault with a
duration is turned off by this process when it ends (or when the frontend shuts down). The
frontend never kills or pauses the frontend: the process answering would be the one hit,
and a paused process cannot wake itself up.

The pipeline does not know these routes exist: :mod:`exodus2045.chaos.entry` hands
:func:`add_chaos_routes` to the frontend it starts, as a route installer.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Header, Request
from starlette.responses import Response

from exodus2045.app_under_test.errors import ConfigError, ExodusError
from exodus2045.app_under_test.frontend.admin import check_presenter
from exodus2045.app_under_test.frontend.body import declared_length, decode_json, read_limited
from exodus2045.app_under_test.frontend.problems import Problem
from exodus2045.app_under_test.frontend.responses import json_response
from exodus2045.app_under_test.frontend.state import FrontendState
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.chaos import faults
from exodus2045.chaos.board import FaultBoard
from exodus2045.chaos.durations import DurationError, parse_duration
from exodus2045.chaos.plan import step_from_cli
from exodus2045.chaos.processes import is_component, resume
from exodus2045.chaos.step import ChaosStep
from exodus2045.chaos.switch import Activation, switch_on
from exodus2045.chaos.timeline import Timeline

CHAOS_BODY_MAX = 4096
NOT_ON_SELF = ("kill", "pause")  # process faults the frontend must not aim at frontends


def _invalid(field: str, detail: str) -> Problem:
    return Problem(422, "invalid-fault", detail, field=field)


def chaos_request(doc: Any) -> ChaosStep:
    """A validated step from the JSON body, or a 422 naming the offending field.

    Checked field by field (fault, target, duration, probability, params) before
    ``step_from_cli`` so the problem says which one is wrong, as every 4xx here does.
    """
    if not isinstance(doc, dict):
        raise _invalid("body", "send a JSON object: {fault, target, duration?, probability?, params?}")
    unknown = sorted(set(doc) - {"fault", "target", "duration", "probability", "params"})
    if unknown:
        raise _invalid(unknown[0], "unknown key; send fault, target, duration, probability, params")
    name, target = doc.get("fault"), doc.get("target")
    for field, value in (("fault", name), ("target", target)):
        if not isinstance(value, str) or not value.strip():
            raise _invalid(field, f"{field} must be a non-empty string")
    try:
        spec = faults.get(name)
    except ConfigError as exc:
        raise _invalid("fault", str(exc)) from None
    try:
        kind = spec.check_target(target).kind
    except ConfigError as exc:
        raise _invalid("target", str(exc)) from None
    duration = doc.get("duration")
    try:
        duration_s = None if duration is None else parse_duration(duration)
    except DurationError as exc:
        raise _invalid("duration", str(exc)) from None
    if kind == "frontend" and name in NOT_ON_SELF:
        raise _invalid("target", f"the frontend cannot {name} the frontend answering this "
                                 "request; use `exodus chaos apply` from a terminal")
    probability = doc.get("probability", 1.0)
    if isinstance(probability, bool) or not isinstance(probability, (int, float)):
        raise _invalid("probability", "probability must be a number, 0 < P <= 1")
    params = doc.get("params") or {}
    if not isinstance(params, dict):
        raise _invalid("params", "params must be an object of fault-specific keys")
    pairs = [f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in params.items()]
    try:
        spec.check_timing(duration_s, None)
    except ConfigError as exc:
        raise _invalid("duration", str(exc)) from None
    if not 0.0 < float(probability) <= 1.0:
        raise _invalid("probability", f"probability must be greater than 0 and at most 1, "
                                      f"got {probability!r}")
    try:
        return step_from_cli(name, target, duration_s=duration_s,
                             probability=float(probability), params=pairs)
    except ConfigError as exc:
        raise _invalid("params", str(exc)) from None


class PresenterChaos:
    """Faults the presenter switched on from this process, and the timers that end them."""

    def __init__(self, state_dir: Path) -> None:
        self.state = StateDir(Path(state_dir))
        self._timers: set[asyncio.Task[None]] = set()

    def timeline(self) -> Timeline:
        try:  # ``t`` counts from the stack's start, as the CLI's lines do
            t0 = float(self.state.read_stack().get("started_at") or time.time())
        except ExodusError:
            t0 = time.time()
        return Timeline(self.state.root / "timeline.jsonl", t0, source="presenter")

    def _switch_on(self, step: ChaosStep) -> Activation | None:
        seed = random.SystemRandom().getrandbits(32)
        return switch_on(step, self.state, self.timeline(), seed)

    async def apply(self, step: ChaosStep) -> dict[str, Any]:
        try:
            activation = await anyio.to_thread.run_sync(self._switch_on, step)
        except (ExodusError, OSError) as exc:  # no such component now, a stopped stack, ...
            raise Problem(409, "chaos-failed", str(exc), field="target") from None
        answer: dict[str, Any] = {"fault": step.fault, "target": step.target,
                                  "duration_s": step.duration_s}
        if activation is None:
            return {**answer, "status": "skipped"}
        if not activation.active:
            return {**answer, "status": "done"}
        if step.duration_s is not None:
            task = asyncio.get_running_loop().create_task(self._end_later(activation, step.duration_s))
            self._timers.add(task)
            task.add_done_callback(self._timers.discard)
        return {**answer, "status": "on", "until": activation.until}

    async def _end_later(self, activation: Activation, seconds: float) -> None:
        """Turn the fault off when its duration is over, or now if this task is cancelled
        (``DELETE``, or the frontend shutting down: asyncio cancels pending tasks)."""
        try:
            await asyncio.sleep(seconds)  # the fault's own duration, not a synchronisation
        except asyncio.CancelledError:
            activation.off()  # at once, on the loop: it may be closing
            raise
        await anyio.to_thread.run_sync(activation.off)

    async def clear(self) -> dict[str, Any]:
        """End this process's timed faults, empty the board, resume every component."""
        timers = list(self._timers)
        for task in timers:
            task.cancel()
        await asyncio.gather(*timers, return_exceptions=True)
        answer = await anyio.to_thread.run_sync(self._clear_board)
        return {**answer, "cleared": answer["cleared"] + len(timers)}

    def _clear_board(self) -> dict[str, Any]:
        removed = FaultBoard(self.state).clear()
        timeline = self.timeline()
        for entry in removed:
            timeline.write("off", entry.fault, entry.target,
                           {**entry.params, "probability": entry.probability, "cleared": True})
        try:
            stack = self.state.read_stack()
        except ExodusError:
            stack = {}
        pids = [int(c["pid"]) for c in stack.get("components", []) if c.get("pid")]
        resumed = resume([p for p in pids if is_component(p)])  # a pause left behind
        return {"cleared": len(removed), "resumed": len(resumed)}

    def on_now(self) -> list[dict[str, Any]]:
        """The board's live entries, without the dice seed (nobody outside needs it)."""
        now = time.time()
        entries = [e.to_json() for e in FaultBoard(self.state).entries() if e.live(now)]
        return [{k: v for k, v in e.items() if k != "seed"} for e in entries]


def add_chaos_routes(app: FastAPI, state: FrontendState) -> None:
    """``POST``/``GET``/``DELETE /api/admin/chaos`` (presenter token required)."""
    presenter = PresenterChaos(state.config.state_dir)

    @app.post("/api/admin/chaos", response_class=Response,
              summary="Switch a chaos fault on (presenter token required)")
    async def chaos_on(request: Request, authorization: str | None = Header(None)) -> Response:
        check_presenter(authorization, state.config.presenter_token)
        declared_length(request.headers.get("content-length"), CHAOS_BODY_MAX)
        step = chaos_request(decode_json(await read_limited(request.receive, CHAOS_BODY_MAX)))
        return json_response(await presenter.apply(step))

    @app.delete("/api/admin/chaos", response_class=Response,
                summary="Turn every fault off and resume paused components (presenter token)")
    async def chaos_clear(authorization: str | None = Header(None)) -> Response:
        check_presenter(authorization, state.config.presenter_token)
        return json_response(await presenter.clear())

    @app.get("/api/admin/chaos", response_class=Response,
             summary="The faults on now, and every fault's name (presenter token)")
    async def chaos_list(authorization: str | None = Header(None)) -> Response:
        check_presenter(authorization, state.config.presenter_token)
        on = await anyio.to_thread.run_sync(presenter.on_now)
        return json_response({"on": on, "faults": faults.known()})

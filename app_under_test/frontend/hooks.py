"""What the code that starts a frontend may add to it: an intake wrapper and more routes.

The pipeline knows nothing of the toolkit (docs/architecture.md "Layers"). Chaos reaches a
frontend only through these two hooks, which the process that runs the frontend passes in
(``python -m exodus2045.chaos.entry frontend`` does; the plain
``python -m exodus2045.app_under_test.frontend`` passes none): a wrapper put in front of the
intake, so ``frontend/queue.send`` faults hit the one commit that makes a wish accepted, and
route installers, so the presenter's chaos routes live with chaos.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI

from exodus2045.app_under_test.frontend.batcher import Intake

if TYPE_CHECKING:  # state.py imports this module
    from exodus2045.app_under_test.frontend.state import FrontendState

#: ``wrap(intake, component, state_dir) -> intake``; ``component`` is e.g. ``frontend:0``.
IntakeWrapper = Callable[[Intake, str, Path], Intake]
#: ``install(app, state)``: adds routes to the app, after the pipeline's own.
RouteInstaller = Callable[[FastAPI, "FrontendState"], None]


@dataclass(frozen=True)
class FrontendHooks:
    """Hooks for one frontend; the default adds nothing."""

    wrap_intake: IntakeWrapper | None = None
    routes: tuple[RouteInstaller, ...] = ()

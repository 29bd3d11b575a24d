"""The frontend application: ``create_app(config, backend=None, hooks=...) -> FastAPI``.

Building the app opens nothing: the backend (when not given) is opened by the lifespan, in
the process that serves, so N frontend processes forked by the supervisor each hold their
own SQLite connections, and importing this module is free of side effects. On shutdown
(SIGTERM through uvicorn) in-flight requests finish first, then the group commit drains,
then the backend closes.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from exodus2045.app_under_test.backends.local import LocalBackend
from exodus2045.app_under_test.frontend.admin import add_admin_routes
from exodus2045.app_under_test.frontend.admin_throttle import AdminThrottle
from exodus2045.app_under_test.frontend.direct import DirectRoutesApp
from exodus2045.app_under_test.frontend.hooks import FrontendHooks
from exodus2045.app_under_test.frontend.openapi_doc import document_problems
from exodus2045.app_under_test.frontend.problems import install_problem_handlers
from exodus2045.app_under_test.frontend.projector import add_projector_routes
from exodus2045.app_under_test.frontend.read_limit import PublicReadLimit
from exodus2045.app_under_test.frontend.security import SecurityHeaders
from exodus2045.app_under_test.frontend.state import FrontendState
from exodus2045.app_under_test.frontend.views import FLAWED_MESSAGE_PATH, add_view_routes
from exodus2045.app_under_test.frontend.wishes import SUBMIT_PATH, add_wish_routes
from exodus2045.app_under_test.settings import FrontendConfig
from exodus2045.app_under_test.tracing_sdk import flush_spans

TITLE = "Exodus 2045 frontend"
NO_HOOKS = FrontendHooks()


#: FastAPI >= 0.165 emits its own request spans once an SDK provider is installed: a second,
#: unlinked trace per wish on the hot path. The pipeline's spans are the hops
#: (app_under_test/tracing.py), so the framework's are switched off where it has the switch.
_NO_FRAMEWORK_TELEMETRY: dict = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters else {}
)


def create_app(
    config: FrontendConfig, backend: LocalBackend | None = None, *, component: str = "frontend:0",
    hooks: FrontendHooks = NO_HOOKS,
) -> FastAPI:
    """The ASGI app of one frontend; ``backend`` given means the caller owns (and closes) it.

    ``component`` is this process's name for fault targets (``frontend:1/queue.send``);
    ``hooks`` is what the code that starts it adds (an intake wrapper, more routes).
    """
    state = FrontendState(config, backend, component, hooks.wrap_intake)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await state.open()
        try:
            yield
        finally:
            await state.close()
            # uvicorn re-raises SIGTERM once it has shut down, so atexit never runs: the
            # last spans are flushed here or never.
            await asyncio.to_thread(flush_spans)

    app = DirectRoutesApp(
        title=TITLE,
        version="1",
        description="Evacuees leave one last wish; 202 means it is durably queued.",
        docs_url=None,  # the docs pages load script from a CDN: the CSP forbids both
        redoc_url=None,
        lifespan=lifespan,
        **_NO_FRAMEWORK_TELEMETRY,
    )
    app.state.frontend = state
    install_problem_handlers(app)
    intake = add_wish_routes(app, state)
    add_view_routes(app, state)
    add_admin_routes(app, state)
    add_projector_routes(app, state)
    for install in hooks.routes:
        install(app, state)
    document_problems(app)
    exempt = frozenset({FLAWED_MESSAGE_PATH}) if "html-api" in config.flaws else frozenset()
    app.add_middleware(PublicReadLimit, enabled=config.rate_limit_per_s > 0,
                       keys=state.run_keys, presenter_token=config.presenter_token)
    app.add_middleware(AdminThrottle)
    app.add_middleware(SecurityHeaders, csp_exempt=exempt)
    # The hot route, ahead of the stack above; the same security headers (direct.py).
    app.serve_directly("POST", SUBMIT_PATH, SecurityHeaders(intake, csp_exempt=exempt))
    return app

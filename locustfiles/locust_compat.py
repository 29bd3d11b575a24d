"""Where the swarm leans on Locust (and the Flask app inside it) beyond its documented surface.

Everything here depends on how a given Locust release happens to work, so it lives in one
module, each piece says what it relies on, ``pyproject.toml`` bounds the dependency to the
versions listed in :data:`TESTED_WITH`, and a test drives each piece against the installed
versions and fails loudly when an upgrade changes what it relies on. Raising a bound means
running those tests on the new version and updating :data:`TESTED_WITH`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import before_render_template
from flask_cors import cross_origin

F = TypeVar("F", bound=Callable[..., Any])

#: Versions the tests of this module ran against (pyproject.toml's bounds admit them).
TESTED_WITH = {"locust": "2.47.0", "flask-cors": "6.0.2"}
log = logging.getLogger(__name__)


# == Web UI: the presenter's console (locustfiles/webui.py) ==================================
# Tested by tests/test_locust_compat_webui.py.


def same_origin_only(view: F) -> F:
    """Take one web-UI route out of the allow-every-origin CORS that Locust switches on.

    Locust calls ``flask_cors.CORS(app)`` on its web UI, which would let any site read the
    console's pages (pipeline figures, wishes) from a presenter's browser. flask-cors's
    public route decorator wins over that app-wide setting; with no allowed origin it sends
    no ``Access-Control-Allow-Origin`` at all, for requests and preflights alike. Relies on:
    Locust's CORS being flask-cors's extension (a route decorator would not override
    anything else).
    """
    return cross_origin(origins=[])(view)


def hide_form_default(web_ui: Any, dest: str) -> None:
    """Keep a command-line value of the custom argument ``dest`` out of the start form.

    Locust prefills its start form with each custom argument's command-line value, secret
    ones included (masked on screen, but in the page source). Flask's public
    ``before_render_template`` signal lets us blank that default just before the page
    renders, whatever rebuilt it. Relies on: the start form rendering with a
    ``template_args`` dict whose ``extra_options[dest]`` carries ``default_value``.
    """

    def blank(_sender: Any, template: Any = None, context: Any = None, **_: Any) -> None:
        args = (context or {}).get("template_args")
        extra = args.get("extra_options") if isinstance(args, dict) else None
        if isinstance(extra, dict) and isinstance(extra.get(dest), dict):
            extra[dest] = {**extra[dest], "default_value": None}

    before_render_template.connect(blank, web_ui.app, weak=False)


#: Locust's own state-changing routes (endpoint names of its ``locust`` blueprint).
LOCUST_WRITE_ENDPOINTS = frozenset(
    {"locust.swarm", "locust.stop", "locust.reset_stats", "locust.update_user"}
)
LOCUST_WRITE_PATHS = frozenset({"/swarm", "/stop", "/stats/reset", "/user"})


def guard_locust_writes(
    app: Any, refusal: Callable[[Any], str | None], strip: frozenset[str]
) -> None:
    """Refuse cross-site calls to Locust's own write routes; drop ``strip`` from ``/swarm``.

    Locust's ``POST /swarm`` copies every form field it knows onto ``parsed_options`` (and
    ``host`` onto ``environment.host``), with no Origin check and CORS open to all: a page on
    any site could post ``host=http://evil``. A ``before_request`` hook runs ahead of the
    route: it answers 403 when ``refusal(request)`` says why, and replaces ``request.form``
    with a copy without the ``strip`` fields (the console pinned those at start). Relies on:
    the blueprint's endpoint names, and werkzeug's ``Request.form`` being a cached property
    an assignment overrides.
    """
    from flask import make_response, request

    @app.before_request
    def refuse_cross_site() -> Any:
        path = request.path.rstrip("/") or "/"
        if request.endpoint not in LOCUST_WRITE_ENDPOINTS and path not in LOCUST_WRITE_PATHS:
            return None
        why = refusal(request)
        if why:
            return make_response(why, 403, {"Content-Type": "text/plain; charset=utf-8"})
        if path == "/swarm" and strip:
            kept = [(k, v) for k, v in request.form.items(multi=True) if k not in strip]
            request.form = request.parameter_storage_class(kept)
        return None


# == Distributed: the join token (locustfiles/join.py) =======================================
# Tested by tests/test_swarm_join.py.


def sign_client_ready(proof: Callable[[str], str]) -> None:
    """Make every Locust worker of this process say ``client_ready`` with a join proof.

    Locust's master/worker channel has no authentication; the first thing a worker sends is
    ``client_ready`` with Locust's version as its data, and the master answers any sender.
    Here the worker appends ``+exodus.<proof(client_id)>`` to that version. Relies on:
    ``WorkerRunner.connect_to_master`` sending ``client_ready`` through ``self.client.send``
    (and sending it again on a reconnect), called from ``WorkerRunner.__init__``, so this
    must run before the worker runner is created (the locustfile's import is).
    """
    from locust.runners import WorkerRunner

    original = WorkerRunner.connect_to_master
    if getattr(original, "_exodus_signed", False):
        return

    def connect_to_master(self: Any) -> Any:
        send = self.client.send
        if not getattr(send, "_exodus_signed", False):
            def signed(msg: Any) -> Any:
                if msg.type == "client_ready" and isinstance(msg.data, str):
                    msg.data = f"{msg.data}+exodus.{proof(self.client_id)}"
                return send(msg)

            signed._exodus_signed = True  # type: ignore[attr-defined]
            self.client.send = signed
        return original(self)

    connect_to_master._exodus_signed = True  # type: ignore[attr-defined]
    WorkerRunner.connect_to_master = connect_to_master  # type: ignore[method-assign]


def admit_only(master: Any, admitted: Callable[[str, str], bool]) -> None:
    """Make a Locust master ignore every message from a worker that has not joined.

    ``admitted(client_id, proof)`` judges the proof a ``client_ready`` carries; a worker
    without a good one gets no ``ack``, no spawn order, no options, nothing (it gives up
    after Locust's connect retries). Relies on: ``MasterRunner.handle_message(client_id,
    msg)`` being the one place the master's listener hands every worker message to, looked
    up on the instance; and the master accepting ``client_ready`` whose data is its version.
    """

    original = master.handle_message
    joined: set[str] = set()

    def handle_message(client_id: str, msg: Any) -> Any:
        if msg.type == "client_ready":
            version, _, proof = str(msg.data or "").partition("+exodus.")
            if not admitted(client_id, proof):
                log.warning("a worker (%s) without a valid join token was ignored", client_id)
                return None
            joined.add(client_id)
            msg.data = version
        elif client_id not in joined:
            return None
        return original(client_id, msg)

    master.handle_message = handle_message

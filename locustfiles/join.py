"""A worker proves it belongs to this swarm before the master tells it anything.

Locust's master/worker channel (ZeroMQ) has no authentication or encryption: anyone who can
reach the master's port could join, receive the run's options and ship ledger lines. So when
``EXODUS_JOIN_TOKEN`` is set, the master answers only workers whose ``client_ready`` carries
``HMAC-SHA256(token, client_id)``, and a worker started with the same variable sends it (the
token itself never crosses the wire). The channel stays unencrypted: bind the master to a
private address (README "A swarm of several processes"). The Locust internals this leans on
live in :mod:`exodus2045.locustfiles.locust_compat`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any

from exodus2045.app_under_test.settings import ENV_JOIN_TOKEN
from exodus2045.locustfiles.locust_compat import admit_only, sign_client_ready


def join_proof(token: str, client_id: str) -> str:
    return hmac.new(token.encode(), client_id.encode(), hashlib.sha256).hexdigest()


def _token() -> str | None:
    return os.environ.get(ENV_JOIN_TOKEN) or None


def install_join(events: Any) -> None:
    """Sign this process's worker handshake now, and gate a master once it exists."""
    token = _token()
    if token is None:
        return
    sign_client_ready(lambda client_id: join_proof(token, client_id))

    def on_init(environment: Any, runner: Any = None, **_: Any) -> None:
        from locust.runners import MasterRunner  # in Locust's process only (gevent)

        if isinstance(runner, MasterRunner):
            admit_only(runner, lambda client_id, proof: hmac.compare_digest(
                proof, join_proof(token, client_id)))

    events.init.add_listener(on_init)

"""THE locustfile of Exodus 2045: evacuees and infiltrators leave their last wishes.

    locust -f locustfiles/exodus.py                      # web UI, custom parameters on the form
    locust -f locustfiles/exodus.py --headless -u 50 -r 50 --host http://127.0.0.1:8045 \\
        --evacuees 500 --arrival-rate 100 --run-id R --ledger runs/x/ledger.jsonl --seed 1
    locust -f locustfiles/exodus.py --master --expect-workers 2 ...   # plus 2x --worker

This file only wires things together, so that a later locustfile (the presenter's stage with
extra web-UI tabs) can import the same pieces and call :func:`install` again without
registering anything twice: the logic lives in importable modules (``exodus2045.locustfiles.swarm``,
``exodus2045.locustfiles.evacuee``), which Python imports once whatever loads them.
"""

from __future__ import annotations

from locust import events

import exodus2045.locustfiles.webui  # noqa: F401 - installs the presenter's console (Pipeline tab, chaos)
from exodus2045.locustfiles.evacuee import Evacuee
from exodus2045.locustfiles.swarm import install, swarm_for

install(events)

__all__ = ["Evacuee", "install", "swarm_for"]

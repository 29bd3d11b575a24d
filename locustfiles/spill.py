"""A local worker's own copy of its ledger lines, written before they are shipped.

A worker ships its lines to the master every quarter second (Locust messages); a worker
killed -9 in between, or a master that closes its ledger (Ctrl-C) before the last shipment
lands, would lose lines the pipeline already acknowledged, and those wishes would look like
phantoms to the audit. So a worker started by the runner on the same machine (it sets
``EXODUS_SWARM_SPILL`` to a folder in the run folder) appends every line there first,
unbuffered: the OS keeps what was written through a ``kill -9``. The runner merges the lines
the master's ledger lacks (:mod:`exodus2045.scenarios.distributed`). A worker on another
host has no spill folder: it ships each acknowledged line to the master at once instead, before
its carrier takes the next evacuee (``Swarm.finished``), so a kill loses only answers in flight.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import IO

from exodus2045.app_under_test.settings import ENV_SWARM_SPILL


def open_spill(node_id: str, environ: dict[str, str] | None = None) -> IO[bytes] | None:
    """This worker's spill file, or None when it was not asked to keep one."""
    folder = (os.environ if environ is None else environ).get(ENV_SWARM_SPILL)
    if not folder:
        return None
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", node_id) or "worker"
    path = Path(folder) / f"{name}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "ab", buffering=0)  # noqa: SIM115 - lives for the run

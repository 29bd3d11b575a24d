"""A read-only view of a stack from its state dir: components, depths, stored, tally.

Shared by ``exodus status``, the runner's metrics sampler and the presenter's Pipeline tab,
so all three report the same numbers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from exodus2045.app_under_test.backends.local import open_local
from exodus2045.app_under_test.statedir import StateDir


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stack_status(state_dir: Path, backend=None) -> dict[str, Any]:
    state = StateDir(state_dir)
    stack = state.read_stack()
    components = []
    for c in stack.get("components", []):
        pid = c.get("pid") if _alive(c.get("pid")) else None
        components.append({**c, "pid": pid})
    own = backend is None
    backend = backend or open_local(state)
    try:
        status = {
            "url": stack.get("url"),
            "stopped": bool(stack.get("stopped")),
            "flaws": stack.get("flaws", []),
            "components": components,
            "restarts": sum(c.get("restarts", 0) for c in components),
            "queues": {
                backend.wishes.name: backend.wishes.depth().as_dict(),
                backend.parsed.name: backend.parsed.depth().as_dict(),
            },
            "stored": backend.store.count(),
            "tally": backend.store.tally(),
        }
    finally:
        if own:
            backend.close()
    return status

"""A run folder that says it is unfinished until the runner finishes it.

A runner killed with ``kill -9`` (a CI job's timeout) runs no cleanup: its children die with
it (:mod:`exodus2045.app_under_test.lifeline`), but the folder would hold a ledger and no
verdict. So the runner writes, before anything starts, a ``run.json`` marked interrupted and
``unfinished`` and a verdict that says ``interrupted`` (nothing judged, ``complete: false``);
the finished run overwrites both. ``exodus report`` on a folder left behind renders that
verdict: INTERRUPTED, exit 2, never better.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from exodus2045.reports.verdict import Verdict

#: Why the folder has no real verdict, as ``run.json`` and the verdict's error-free reason say.
UNFINISHED = "the runner stopped before it finished this run (killed?): nothing was judged"


def mark_unfinished(run_dir: Path, meta: dict[str, Any]) -> Verdict:
    """Write the placeholder ``run.json`` and ``verdict.json`` of a run just started."""
    (run_dir / "run.json").write_text(
        json.dumps({**meta, "interrupted": True, "unfinished": UNFINISHED}, indent=2))
    scenario = meta.get("scenario") or {}
    verdict = Verdict.judge(
        run_id=str(meta.get("run_id", "")), scenario=str(scenario.get("name", "")),
        seed=meta.get("seed"), interrupted=True, checks=(), figures={}, complete=False,
        allow_partial=bool(meta.get("allow_partial", False)))
    verdict.save(run_dir)
    return verdict

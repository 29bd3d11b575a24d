"""What the swarm planned for each wish of a run, recomputed from the seed.

The swarm is deterministic: ``(seed, run_id, n)`` gives evacuee n's body, kind and the
answer it expects. The wish ids come from a secret the audit never sees (docs/architecture.md
"Scope of a run"), so a ledger line is tied to its plan by ``n``. The swarm's planner is
imported lazily so the audit runs without it; any failure raises, and the caller skips its
check with the reason rather than judge against a wrong oracle.
"""

from __future__ import annotations

from typing import Any

from exodus2045.reports.runfolder import RunData


def replan(run: RunData, wish_ids: list[str]) -> dict[str, Any]:
    """``wish_id -> PlannedWish`` for every id the ledger numbers (others are left out)."""
    load = run.scenario.get("load") or {}
    plan, pools, plan_wish = plan_of(
        run.seed, run.run_id, load["evacuees"], load["mars_share"], load["infiltrator_share"])
    planned: dict[str, Any] = {}
    for wish_id in wish_ids:
        wish = run.wishes.get(wish_id)
        if wish is None or wish.n is None:
            continue
        planned[wish_id] = plan_wish(plan, wish.n, pools)
    return planned


def plan_of(seed: Any, run_id: Any, evacuees: Any, mars_share: Any,
            infiltrator_share: Any) -> tuple[Any, Any, Any]:
    """The swarm's plan, its pools and its ``plan_wish``, for these run.json values (also
    what :mod:`exodus2045.reports.ahead` re-plans with while the swarm runs)."""
    from exodus2045.locustfiles.generate import SwarmPlan, build_pools, plan_wish

    plan = SwarmPlan(seed=seed, run_id=run_id, evacuees=evacuees, mars_share=mars_share,
                     infiltrator_share=infiltrator_share)
    return plan, build_pools(seed), plan_wish

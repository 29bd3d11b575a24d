"""``exodus adapter check``'s evidence steps: read the queues and dead letters once, as a run will.

Each ``[evidence]`` route the adapter names is read through the translator (the same route
the run's ``http`` source reads), and an ``[evidence.aws]`` table and queues through the
same ``aws`` source the run opens. What each one answered decides what the check prints for
``drained`` and ``dlq-explained`` (and, for a table, exactly-once and no-phantoms).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from exodus2045.app_under_test.errors import ExodusError
from exodus2045.app_under_test.settings import AwsConfig
from exodus2045.scenarios.adapter import evidence_routes
from exodus2045.scenarios.adapter.spec import Adapter

NO_QUEUES = ("the target's HTTP API does not show its queues (name them in the adapter's "
             "[evidence.queues] or [evidence.aws])")
NO_DEAD_LETTERS = ("the target's HTTP API does not show its dead letters (name them in "
                   "[evidence.dead_letters] or [evidence.aws])")
Step = Callable[[str, str, bool], None]


@dataclass
class EvidenceFindings:
    """What the evidence steps could read: each a short "from where", or None."""

    queues: str | None = None
    dead_letters: str | None = None
    table: str | None = None  # the table held the check's wish
    why: dict[str, str] = field(default_factory=dict)


def check_evidence(adapter: Adapter, client: httpx.Client, token: str, wish_id: str | None,
                   claim: Callable[[str, bool], str | None], step: Step,
                   aws: AwsConfig | None = None) -> EvidenceFindings:
    found = EvidenceFindings()
    spec = adapter.evidence
    auth = {"authorization": f"Bearer {token}"}
    if spec and spec.queues:
        r = client.get(evidence_routes.QUEUES, headers=auth)
        ok = r.status_code == 200
        step("queues", f"GET {spec.queues.path} -> " + (
            _depths(r.json()["queues"]) if ok else f"{r.status_code} {r.text[:200]!r}"), ok)
        found.queues = f"{spec.queues.path} ({len(spec.queues.depth)} queue(s))" if ok else None
    if spec and spec.dead_letters:
        r = client.get(evidence_routes.DEAD_LETTERS, headers=auth)
        ok = r.status_code == 200
        letters = r.json()["dead_letters"] if ok else []
        step("dead letters", f"GET {spec.dead_letters.path} -> " + (
            f"{len(letters)} dead letter(s), {sum(1 for d in letters if d.get('reason'))} "
            "with a reason" if ok else f"{r.status_code} {r.text[:200]!r}"), ok)
        found.dead_letters = spec.dead_letters.path if ok else None
    if spec and spec.aws:
        _check_aws(adapter, wish_id, claim, step, aws, found)
    return found


def _check_aws(adapter: Adapter, wish_id: str | None, claim: Callable[[str, bool], str | None],
               step: Step, aws: AwsConfig | None, found: EvidenceFindings) -> None:
    from exodus2045.scenarios.evidence.aws import open_team_aws_source
    from exodus2045.scenarios.evidence.aws_team import TeamAws

    spec = adapter.evidence.aws if adapter.evidence else None
    assert spec is not None
    config = aws or AwsConfig.from_env(os.environ)
    where = config.endpoint_url or "AWS"
    source = open_team_aws_source(config, TeamAws(spec, claim, adapter.our_destination))
    try:
        rows = [r for r in source.stored_wishes("adapter-check") if r["wish_id"] == wish_id]
        step("table", f"{spec.table} on {where}: "
             + (f"holds the wish once (by its {spec.id!r} attribute)" if len(rows) == 1
                else f"holds the wish {len(rows)} times"), len(rows) == 1)
        found.table = spec.table if len(rows) == 1 else None
        if spec.queues:
            depths = source.queue_depths()
            letters = source.dead_letters()
            step("queues", f"SQS on {where}: {_depths(depths)}; {len(letters)} dead letter(s) "
                 "(read with visibility 0)", True)
            found.queues = found.queues or f"SQS ({', '.join(q.name for q in spec.queues)})"
            found.dead_letters = found.dead_letters or "the DLQs (read with visibility 0)"
    except (ExodusError, *source.errors) as exc:
        step("aws", f"{spec.table} on {where}: {type(exc).__name__}: {exc}", False)
    finally:
        source.close()


def _depths(queues: dict[str, Any]) -> str:
    return "; ".join(f"{name}: {d.get('visible')} waiting, {d.get('in_flight')} in flight, "
                     f"{d.get('dlq', 0)} dead" for name, d in queues.items()) or "no queues"


def judges(found: EvidenceFindings) -> list[tuple[str, str]]:
    """The drained and dlq-explained lines of the check's "what a run will judge"."""
    return [
        ("drained", f"yes, from {found.queues}" if found.queues else f"no: {NO_QUEUES}"),
        ("dlq-explained", f"yes, from {found.dead_letters}" if found.dead_letters
         else f"no: {NO_DEAD_LETTERS}"),
    ]

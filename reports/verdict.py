"""The verdict: what each check concluded, and what the run as a whole proved.

This module owns ``verdict.json`` (docs/architecture.md "Verdict"): the audit builds a
:class:`Verdict` with :meth:`Verdict.judge` and writes it with :meth:`Verdict.save`; the
renderers, ``exodus run`` and ``exodus report`` read it back with :meth:`Verdict.load`. Nothing
else parses or writes the file, so they cannot drift apart. (The swarm's web UI sits in a
lower layer and cannot import this one: it reads only the headline fields, see
:mod:`exodus2045.locustfiles.pipeline_view`.)

The outcome (``sound``, ``unsound``, ``unproven``, ``interrupted``, ``error``; names and exit
codes in :mod:`exodus2045.locustfiles.outcome`) is decided here, once, by :func:`decide`. A
verdict that could not judge a core check -- one that says whether data was lost, changed,
rejected or left executable -- is never sound: it is ``unproven``. A core check counts as not
judged when it was skipped, or when this Exodus runs it (it is in the check registry) and
the verdict lacks it; a core check no registered module provides is not asked for.

Schema history: version 1 had ``sound`` and ``interrupted`` only; version 2 adds ``outcome``,
``complete``, ``unjudged``, ``allow_partial`` and ``error`` and drops ``interrupted`` (it is the
outcome). A version-1 file still loads: its outcome is derived by the same rule.

A check's evidence is plain JSON (ids, markers, figures); lists are capped with
:func:`capped` so a run that loses 65,000 wishes still yields a readable verdict.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exodus2045.locustfiles.outcome import (
    ERROR,
    INTERRUPTED,
    OUTCOMES,
    SOUND,
    UNPROVEN,
    UNSOUND,
    exit_code,
    headline,
)
from exodus2045.reports.check_result import (
    EVIDENCE_CAP,
    FAILED,
    PASSED,
    SKIPPED,
    STATUSES,
    CheckResult,
    Status,
    VerdictError,
    capped,
)

__all__ = [
    "CORE_CHECKS", "EVIDENCE_CAP", "FAILED", "PASSED", "READABLE_VERSIONS", "SCHEMA_VERSION",
    "SKIPPED", "STATUSES", "VERDICT_FILE", "CheckResult", "Status", "Verdict", "VerdictError",
    "capped", "decide", "registered_ids", "unjudged_core",
]

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
VERDICT_FILE = "verdict.json"

#: The checks that say whether data was lost, duplicated, invented, changed, wrongly rejected
#: or left executable, or whether the pipeline was left with work undone. Each must be judged
#: (passed or failed) for a verdict to be sound.
CORE_CHECKS = (
    "exactly-once",
    "no-phantoms",
    "tally",
    "content",
    "bad-input",
    "no-false-rejects",
    "drained",
    "dlq-explained",
    "no-executable-markup",
)



def unjudged_core(
    checks: Iterable[CheckResult], registry: Iterable[str] | None = None
) -> tuple[str, ...]:
    """The core checks not judged: skipped, or absent although the registry runs them.

    ``registry`` is the ids of the checks this audit runs (None: the registered checks of
    :mod:`exodus2045.reports.checks`). A core check absent from the verdict and from the
    registry is not asked for: an Exodus without it cannot be expected to judge it.
    """
    by_id = {c.id: c for c in checks}
    ran = registered_ids() if registry is None else frozenset(registry)
    return tuple(
        cid
        for cid in CORE_CHECKS
        if (cid in by_id and by_id[cid].status == SKIPPED) or (cid not in by_id and cid in ran)
    )


def registered_ids() -> frozenset[str]:
    """Ids of the registered checks (imported here, at call time: the checks import this)."""
    from exodus2045.reports.checks import registered_ids as ids

    return ids()


def decide(
    checks: Iterable[CheckResult],
    unjudged: Iterable[str],
    *,
    interrupted: bool = False,
    complete: bool = True,
    error: str | None = None,
) -> str:
    """The outcome, by the contract's rule (docs/architecture.md "Verdict"), most severe first.

    An error or an interruption proves nothing whatever the checks say; a failed check makes
    the run unsound; a core check not judged, or a swarm that ended before every evacuee
    left, leaves it unproven; only then is it sound.
    """
    if error:
        return ERROR
    if interrupted:
        return INTERRUPTED
    if any(c.failed for c in checks):
        return UNSOUND
    if tuple(unjudged) or not complete:
        return UNPROVEN
    return SOUND


@dataclass(frozen=True)
class Verdict:
    """Everything ``verdict.json`` holds; build it with :meth:`judge` so the outcome is derived.

    ``complete`` is False when the swarm ended before every evacuee left; ``unjudged`` lists
    the core checks that were not judged; ``allow_partial`` records that the run accepted an
    unproven verdict (exit 0, headline PARTIAL; ``sound`` stays false); ``error`` says why a
    run could not be judged at all.
    """

    schema_version: int
    run_id: str
    scenario: str
    seed: int | None
    outcome: str
    checks: tuple[CheckResult, ...]
    figures: dict[str, Any] = field(default_factory=dict)
    complete: bool = True
    unjudged: tuple[str, ...] = ()
    allow_partial: bool = False
    error: str | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise VerdictError(f"outcome {self.outcome!r} is not one of {OUTCOMES}")
        seen: set[str] = set()
        for check in self.checks:
            if check.id in seen:
                raise VerdictError(f"check id {check.id!r} appears twice; ids must be unique")
            seen.add(check.id)
        if self.outcome == SOUND and (self.failed or self.unjudged or not self.complete):
            raise VerdictError(
                "a sound verdict has no failed check, no unjudged core check and a complete swarm"
            )

    @classmethod
    def judge(
        cls,
        run_id: str,
        scenario: str,
        seed: int | None,
        interrupted: bool,
        checks: Iterable[CheckResult],
        figures: Mapping[str, Any] | None = None,
        *,
        complete: bool = True,
        allow_partial: bool = False,
        error: str | None = None,
        registry: Iterable[str] | None = None,
    ) -> Verdict:
        """The verdict of these checks; ``registry`` as in :func:`unjudged_core`."""
        checks = tuple(checks)
        unjudged = unjudged_core(checks, registry)
        return cls(
            schema_version=SCHEMA_VERSION,
            run_id=run_id,
            scenario=scenario,
            seed=seed,
            outcome=decide(
                checks, unjudged, interrupted=interrupted, complete=complete, error=error
            ),
            checks=checks,
            figures=dict(figures or {}),
            complete=complete,
            unjudged=unjudged,
            allow_partial=allow_partial,
            error=error,
        )

    # -- what a reader asks ---------------------------------------------------------------
    @property
    def sound(self) -> bool:
        return self.outcome == SOUND

    @property
    def interrupted(self) -> bool:
        return self.outcome == INTERRUPTED

    @property
    def headline(self) -> str:
        """SOUND / UNSOUND / UNPROVEN / PARTIAL / INTERRUPTED / ERROR."""
        return headline(self.outcome, self.allow_partial)

    @property
    def exit_code(self) -> int:
        return exit_code(self.outcome, self.allow_partial)

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.failed)

    def counts(self) -> dict[str, int]:
        """``{"passed": n, "failed": n, "skipped": n}``, in that order."""
        return {s: sum(1 for c in self.checks if c.status == s) for s in STATUSES}

    def reason(self) -> str:
        """Why the outcome is what it is, in one line (empty for a sound verdict)."""
        if self.outcome == ERROR:
            return f"could not judge the run: {self.error}"
        if self.outcome == INTERRUPTED:
            return "interrupted: what was sent until then is written, nothing is proven"
        why = ["failed: " + ", ".join(c.id for c in self.failed)] if self.failed else []
        if self.unjudged:
            why.append("core checks not judged: " + ", ".join(self.unjudged))
        if not self.complete:
            why.append("the swarm ended before every evacuee left")
        if self.outcome == UNPROVEN and self.allow_partial:
            why.append("partial verdict allowed")
        return "; ".join(why)

    def check(self, check_id: str) -> CheckResult:
        for c in self.checks:
            if c.id == check_id:
                return c
        raise KeyError(check_id)

    # -- verdict.json ---------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "run_id": self.run_id,
            "scenario": self.scenario,
            "seed": self.seed,
            "outcome": self.outcome,
            "sound": self.sound,
            "complete": self.complete,
            "unjudged": list(self.unjudged),
            "allow_partial": self.allow_partial,
            "error": self.error,
            "checks": [c.to_json() for c in self.checks],
            "figures": self.figures,
        }

    def dumps(self) -> str:
        """verdict.json's text: indent 2, sorted keys, ASCII only (valid UTF-8 even when
        evidence quotes a lone surrogate an infiltrator sent), a final newline."""
        return json.dumps(self.to_json(), indent=2, sort_keys=True, ensure_ascii=True) + "\n"

    def save(self, run_dir: Path | str) -> Path:
        """Write verdict.json atomically (a reader never sees half a verdict)."""
        path = Path(run_dir) / VERDICT_FILE
        tmp = path.with_name(f".{VERDICT_FILE}.tmp")
        tmp.write_text(self.dumps(), encoding="utf-8")
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, run_dir: Path | str) -> Verdict:
        """The verdict of a run folder, or a one-line :class:`VerdictError` saying what is wrong."""
        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise VerdictError(f"{run_dir}: no such run folder")
        path = run_dir / VERDICT_FILE
        if not path.is_file():
            raise VerdictError(f"{path}: no verdict.json (audit the run first: nothing to report)")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise VerdictError(f"{path}: unreadable verdict ({exc})") from None
        if not isinstance(data, Mapping):
            raise VerdictError(f"{path}: not a verdict (expected a JSON object)")
        try:
            return cls.from_json(data)
        except VerdictError as exc:
            raise VerdictError(f"{path}: {exc}") from None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Verdict:
        if not isinstance(data, Mapping):
            raise VerdictError("verdict.json must hold a JSON object")
        version = data.get("schema_version")
        if version not in READABLE_VERSIONS or isinstance(version, bool):
            readable = " and ".join(map(str, READABLE_VERSIONS))
            raise VerdictError(
                f"verdict.json schema_version is {version!r}; this Exodus reads {readable}"
            )
        raw_checks = data.get("checks")
        raw_checks = [] if raw_checks is None else raw_checks
        if not isinstance(raw_checks, list):
            raise VerdictError("not a verdict: checks must be a list")
        try:
            checks = tuple(CheckResult.from_json(c) for c in raw_checks)
            common = {
                "run_id": str(data["run_id"]),
                "scenario": str(data["scenario"]),
                "seed": data.get("seed"),
                "figures": dict(data.get("figures") or {}),
            }
        except KeyError as exc:
            raise VerdictError(f"verdict.json lacks {exc.args[0]!r}") from None
        if version == 1:
            return cls._from_version_1(data, checks, common)
        return cls(
            schema_version=version,
            outcome=str(data.get("outcome")),
            checks=checks,
            complete=bool(data.get("complete", True)),
            unjudged=tuple(str(i) for i in data.get("unjudged") or ()),
            allow_partial=bool(data.get("allow_partial", False)),
            error=None if data.get("error") is None else str(data["error"]),
            **common,
        )

    @classmethod
    def _from_version_1(
        cls, data: Mapping[str, Any], checks: tuple[CheckResult, ...], common: dict[str, Any]
    ) -> Verdict:
        """A version-1 verdict, its outcome derived by today's rule (:func:`decide`).

        Version 1 said ``sound`` whenever nothing failed, even with every core check skipped;
        read again, such a verdict is unproven. It did not record whether the swarm finished:
        an interrupted run is taken as incomplete, any other as complete.
        """
        interrupted = bool(data.get("interrupted", False))
        return cls.judge(
            common["run_id"], common["scenario"], common["seed"], interrupted, checks,
            common["figures"], complete=not interrupted,
        )  # fmt: skip

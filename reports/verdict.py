"""The verdict: what each check concluded, and whether the run as a whole was sound.

This module owns the shape of ``verdict.json`` (docs/architecture.md "Verdict") so the audit,
the renderers and ``exodus report`` cannot drift apart: the audit builds a :class:`Verdict`,
writes :meth:`Verdict.to_json`, and a renderer reads it back with :meth:`Verdict.from_json`.
A check's evidence is plain JSON (ids, markers, figures); lists are capped with
:func:`capped` so a run that loses 65,000 wishes still yields a readable verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from exodus2045.app_under_test.errors import ExodusError

SCHEMA_VERSION = 1
PASSED = "passed"
FAILED = "failed"
SKIPPED = "skipped"
STATUSES = (PASSED, FAILED, SKIPPED)
EVIDENCE_CAP = 50

Status = Literal["passed", "failed", "skipped"]


class VerdictError(ExodusError):
    """A verdict (in memory or read from verdict.json) breaks the contract."""


def capped(name: str, items: Iterable[Any], limit: int = EVIDENCE_CAP) -> dict[str, Any]:
    """``{name: first items, name_total: how many}``: evidence stays small, the count stays true."""
    listed = list(items)
    return {name: listed[:limit], f"{name}_total": len(listed)}


@dataclass(frozen=True)
class CheckResult:
    """One check's conclusion. ``skipped`` always carries the reason in ``summary``."""

    id: str
    status: Status
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise VerdictError(
                f"check {self.id!r}: status {self.status!r} is not one of {STATUSES}"
            )
        if self.status == SKIPPED and not self.summary:
            raise VerdictError(f"check {self.id!r}: a skipped check must say why")

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    @property
    def failed(self) -> bool:
        return self.status == FAILED

    @classmethod
    def ok(cls, id: str, summary: str, **evidence: Any) -> CheckResult:
        return cls(id, PASSED, summary, dict(evidence))

    @classmethod
    def fail(cls, id: str, summary: str, **evidence: Any) -> CheckResult:
        return cls(id, FAILED, summary, dict(evidence))

    @classmethod
    def skip(cls, id: str, reason: str, **evidence: Any) -> CheckResult:
        return cls(id, SKIPPED, reason, dict(evidence))

    @classmethod
    def judge(cls, id: str, good: bool, summary: str, **evidence: Any) -> CheckResult:
        """Passed if ``good`` else failed: most checks compute evidence, then decide once."""
        return cls(id, PASSED if good else FAILED, summary, dict(evidence))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "passed": self.passed,
            "summary": self.summary,
            "evidence": self.evidence,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CheckResult:
        try:
            return cls(
                id=str(data["id"]),
                status=data["status"],
                summary=str(data.get("summary", "")),
                evidence=dict(data.get("evidence") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise VerdictError(f"a check in verdict.json is malformed: {exc!r}") from None


def is_sound(checks: Iterable[CheckResult], interrupted: bool) -> bool:
    """Sound means nothing failed and the run finished: an interrupted run proves nothing."""
    return not interrupted and not any(c.failed for c in checks)


@dataclass(frozen=True)
class Verdict:
    """Everything ``verdict.json`` holds; build it with :meth:`judge` so ``sound`` is derived."""

    schema_version: int
    run_id: str
    scenario: str
    seed: int | None
    sound: bool
    interrupted: bool
    checks: tuple[CheckResult, ...]
    figures: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for check in self.checks:
            if check.id in seen:
                raise VerdictError(f"check id {check.id!r} appears twice; ids must be unique")
            seen.add(check.id)

    @classmethod
    def judge(
        cls,
        run_id: str,
        scenario: str,
        seed: int | None,
        interrupted: bool,
        checks: Iterable[CheckResult],
        figures: Mapping[str, Any] | None = None,
    ) -> Verdict:
        checks = tuple(checks)
        return cls(
            schema_version=SCHEMA_VERSION,
            run_id=run_id,
            scenario=scenario,
            seed=seed,
            sound=is_sound(checks, interrupted),
            interrupted=interrupted,
            checks=checks,
            figures=dict(figures or {}),
        )

    def check(self, check_id: str) -> CheckResult:
        for c in self.checks:
            if c.id == check_id:
                return c
        raise KeyError(check_id)

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.failed)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "run_id": self.run_id,
            "scenario": self.scenario,
            "seed": self.seed,
            "sound": self.sound,
            "interrupted": self.interrupted,
            "checks": [c.to_json() for c in self.checks],
            "figures": self.figures,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Verdict:
        if not isinstance(data, Mapping):
            raise VerdictError("verdict.json must hold a JSON object")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise VerdictError(
                f"verdict.json schema_version is {version!r}; this Exodus reads {SCHEMA_VERSION}"
            )
        try:
            return cls(
                schema_version=version,
                run_id=str(data["run_id"]),
                scenario=str(data["scenario"]),
                seed=data.get("seed"),
                sound=bool(data["sound"]),
                interrupted=bool(data.get("interrupted", False)),
                checks=tuple(CheckResult.from_json(c) for c in data.get("checks") or ()),
                figures=dict(data.get("figures") or {}),
            )
        except KeyError as exc:
            raise VerdictError(f"verdict.json lacks {exc.args[0]!r}") from None

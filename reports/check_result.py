"""One check's conclusion, as the checks build it and verdict.json stores it.

Split from :mod:`exodus2045.reports.verdict` so that a check depends only on what it makes
(a :class:`CheckResult`, with evidence :func:`capped`), not on how a whole run is judged; the
verdict module re-exports these names, so either import works.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from exodus2045.app_under_test.errors import ExodusError

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
        if not isinstance(data, Mapping):
            raise VerdictError("a check in verdict.json is not an object")
        status = data.get("status")
        if status is None and isinstance(data.get("passed"), bool):  # an early version 1
            status = PASSED if data["passed"] else FAILED
        evidence = data.get("evidence") or {}
        if not isinstance(evidence, Mapping):
            raise VerdictError(f"check {data.get('id')!r}: evidence must be a JSON object")
        try:
            return cls(
                id=str(data["id"]),
                status=status,
                summary=str(data.get("summary", "")),
                evidence=dict(evidence),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise VerdictError(f"a check in verdict.json is malformed: {exc!r}") from None

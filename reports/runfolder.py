"""A run folder, read once into typed, immutable data the checks can judge.

The audit reads only the run folder (docs/run-folder.md), never the live stack, so a run can
be re-judged months later. Everything is parsed here, eagerly: a corrupt line fails the
audit at once with the file and line number (a verdict built on half a ledger would lie),
while a missing *optional* file becomes ``None`` plus a reason from :meth:`RunData.why_missing`,
so each check can say precisely why it was skipped. When ``evidence.json`` says no evidence
source answered the question behind a file (:mod:`exodus2045.reports.questions`), that
recorded reason is the one a check gives.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exodus2045.app_under_test.errors import ExodusError
from exodus2045.reports.evidence_index import EvidenceIndex, EvidenceIndexError, load_index
from exodus2045.reports.questions import QUESTION_OF_FIELD, Question
from exodus2045.reports.series import LedgerPoint

if TYPE_CHECKING:
    from exodus2045.reports.ahead import Ahead, SentAhead


class RunFolderError(ExodusError):
    """The run folder is missing a required file or holds a corrupt one (named, with line)."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """One HTTP attempt from ``ledger.jsonl`` (docs/architecture.md "Ledger", plus ``n``)."""

    wish_id: str
    status: int
    attempt: int = 1
    run_id: str | None = None
    kind: str = "evacuee"
    destination: Any = None
    payload: str | None = None
    expect: str = "accept"
    intended_at: float | None = None
    sent_at: float | None = None
    latency_ms: float | None = None
    response_ms: float | None = None
    n: int | None = None

    @property
    def acknowledged(self) -> bool:
        return self.status == 202

    @property
    def is_error(self) -> bool:
        """Connection error or server error: what the error-ratio SLO counts."""
        return self.status == 0 or self.status >= 500


@dataclass(frozen=True, slots=True)
class WishSummary:
    """Every attempt at one wish, folded: the unit the exactly-once checks reason about."""

    wish_id: str
    attempts: tuple[Attempt, ...]

    @property
    def first(self) -> Attempt:
        return self.attempts[0]

    @property
    def n(self) -> int | None:
        return self.first.n

    @property
    def kind(self) -> str:
        return self.first.kind

    @property
    def destination(self) -> Any:
        return self.first.destination

    @property
    def payload(self) -> str | None:
        return self.first.payload

    @property
    def expect(self) -> str:
        return self.first.expect

    @property
    def statuses(self) -> tuple[int, ...]:
        return tuple(a.status for a in self.attempts)

    @property
    def acknowledged(self) -> bool:
        """Acknowledged when ANY attempt got 202: a retry may succeed after a 503."""
        return any(a.acknowledged for a in self.attempts)


@dataclass(frozen=True)
class Page:
    """One fetched page from ``pages/index.json`` with its body (None if the file is absent)."""

    url: str
    file: str
    status: int
    content_type: str
    headers: dict[str, str]
    body: str | None

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


# file name -> the RunData field it fills (optional inputs only)
OPTIONAL = {
    "swarm.json": "swarm",
    "timeline.jsonl": "timeline",
    "metrics.jsonl": "metrics",
    "store-snapshot.jsonl": "store",
    "audience-snapshot.jsonl": "audience",
    "tally.json": "tally",
    "queues.json": "queues",
    "sent.jsonl": "sent",
    "lookups.jsonl": "lookups",
    "pages/index.json": "pages",
    "pages/browser.json": "browser",
}


@dataclass(frozen=True)
class RunData:
    """What one run left behind. Optional inputs are ``None`` when absent or not visible."""

    path: Path
    meta: dict[str, Any]
    ledger: tuple[Attempt, ...]
    wishes: dict[str, WishSummary]
    swarm: dict[str, Any] | None = None
    timeline: list[dict[str, Any]] | None = None
    metrics: list[dict[str, Any]] | None = None
    store: list[dict[str, Any]] | None = None
    audience: list[dict[str, Any]] | None = None
    tally: dict[str, Any] | None = None
    queues: dict[str, Any] | None = None
    sent: dict[str, dict[str, Any]] | None = None
    lookups: list[dict[str, Any]] | None = None
    pages: list[Page] | None = None
    browser: dict[str, Any] | None = None
    missing: dict[str, str] = field(default_factory=dict)
    evidence: EvidenceIndex = field(default_factory=EvidenceIndex)
    #: The ledger as the report's series read it (reports/series.py), from the same pass.
    points: tuple[LedgerPoint, ...] | None = None
    #: The plan re-computed ahead (reports/ahead.py): used only if run.json names it.
    sent_ahead: SentAhead | None = None

    # -- run.json accessors -----------------------------------------------------------
    @property
    def run_id(self) -> str:
        return str(self.meta.get("run_id", ""))

    @property
    def scenario(self) -> dict[str, Any]:
        return self.meta.get("scenario") or {}

    @property
    def scenario_name(self) -> str:
        return str(self.scenario.get("name", ""))

    @property
    def seed(self) -> int | None:
        return self.meta.get("seed")

    @property
    def slo(self) -> dict[str, Any]:
        return self.scenario.get("slo") or {}

    @property
    def started_at(self) -> float:
        return float(self.meta.get("started_at") or 0.0)

    @property
    def interrupted(self) -> bool:
        return bool(self.meta.get("interrupted", False))

    @property
    def drain(self) -> dict[str, Any]:
        return self.meta.get("drain") or {}

    def why_missing(self, name: str) -> str:
        """Why the input behind field ``name`` is None (for a skipped check's summary)."""
        return self.missing.get(name, f"{name} is not available")

    def unanswered(self, question: Question) -> str | None:
        """Why no evidence source answered ``question`` (None when one did): evidence.json."""
        return self.evidence.why_unanswered(question)

    # -- derived views --------------------------------------------------------------
    def run_store(self) -> list[dict[str, Any]]:
        """Stored wishes of THIS run (the snapshot should hold only those; trust but verify)."""
        return list(self._run_store)

    @functools.cached_property
    def _run_store(self) -> tuple[dict[str, Any], ...]:
        # Filtered once: eight checks and the figures ask, and a 65k snapshot is 65k rows.
        run_id = self.run_id
        return tuple(w for w in self.store or () if w.get("run_id") == run_id)

    def looked_up(self) -> list[dict[str, Any]]:
        """The stored rows per-wish lookups found (``lookups.jsonl``: one row at most per id,
        so they show loss and content, never a duplicate or a phantom)."""
        return [x["wish"] for x in self.lookups or ()
                if x.get("found") and isinstance(x.get("wish"), dict)]

    def lookup_missing(self) -> list[str]:
        """Acknowledged wishes the lookups did not find stored."""
        found = {str(x.get("wish_id")) for x in self.lookups or () if x.get("found")}
        return [w.wish_id for w in self.acknowledged() if w.wish_id not in found]

    def acknowledged(self) -> list[WishSummary]:
        return list(self._acknowledged)

    @functools.cached_property
    def _acknowledged(self) -> tuple[WishSummary, ...]:
        return tuple(w for w in self.wishes.values() if w.acknowledged)

    def sent_fields(self) -> list[tuple[Any, ...]] | None:
        """What each evacuee sent, by n, if the runner re-planned it ahead; else None."""
        if self.sent_ahead is None:
            return None
        return self.sent_ahead.fields(self.seed, self.run_id, self.scenario.get("load"))

    @classmethod
    def load(cls, run_dir: Path | str, ahead: Ahead | None = None) -> RunData:
        return load(Path(run_dir), ahead)


def _read_json(path: Path, root: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunFolderError(f"{path.relative_to(root)}: not valid JSON: {exc}") from None


def _read_jsonl(path: Path, root: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    name = path.relative_to(root)
    with path.open(encoding="utf-8", errors="strict") as fh:
        try:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise RunFolderError(
                        f"{name} line {lineno}: not valid JSON: {exc.msg}"
                    ) from None
                if not isinstance(obj, dict):
                    raise RunFolderError(f"{name} line {lineno}: expected a JSON object")
                yield lineno, obj
        except UnicodeDecodeError as exc:
            raise RunFolderError(f"{name}: not valid UTF-8: {exc}") from None


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _shared(value: Any, seen: dict[Any, Any]) -> Any:
    """One object for every equal run id, kind, destination, expectation or marker: a 65k
    ledger repeats a handful of them on every line, and each line would keep its own copy."""
    if not isinstance(value, str):
        return value
    return seen.setdefault(value, value)


def attempt_of(obj: Mapping[str, Any], where: str, seen: dict[Any, Any] | None = None) -> Attempt:
    """One ledger line as an :class:`Attempt`; ``where`` names it in the error."""
    wish_id, status = obj.get("wish_id"), obj.get("status")
    if not isinstance(wish_id, str) or not wish_id:
        raise RunFolderError(f"{where}: wish_id missing or not a string")
    if not isinstance(status, int) or isinstance(status, bool):
        raise RunFolderError(f"{where}: status missing or not an integer")
    attempt, n = obj.get("attempt", 1), obj.get("n")
    if not isinstance(attempt, int) or (n is not None and not isinstance(n, int)):
        raise RunFolderError(f"{where}: attempt and n must be integers")
    seen = {} if seen is None else seen
    return Attempt(
        wish_id=wish_id,
        status=status,
        attempt=attempt,
        run_id=_shared(obj.get("run_id"), seen),
        kind=_shared(str(obj.get("kind") or "evacuee"), seen),
        destination=_shared(obj.get("destination"), seen),
        payload=_shared(obj.get("payload"), seen),
        expect=_shared(str(obj.get("expect") or "accept"), seen),
        intended_at=_num(obj.get("intended_at")),
        sent_at=_num(obj.get("sent_at")),
        latency_ms=_num(obj.get("latency_ms")),
        response_ms=_num(obj.get("response_ms")),
        n=n,
    )


def fold_attempts(ledger: tuple[Attempt, ...]) -> dict[str, WishSummary]:
    """Group attempts by wish (first-seen order), each wish's attempts by attempt number."""
    grouped: dict[str, list[Attempt]] = {}
    for a in ledger:
        grouped.setdefault(a.wish_id, []).append(a)
    for atts in grouped.values():
        if len(atts) > 1:  # most wishes have one attempt: nothing to order
            atts.sort(key=_attempt_number)  # stable, as sorted() was
    return {wid: WishSummary(wid, tuple(atts)) for wid, atts in grouped.items()}


def _attempt_number(a: Attempt) -> int:
    return a.attempt


def _pages(root: Path) -> list[Page]:
    index = _read_json(root / "pages" / "index.json", root)
    if not isinstance(index, list):
        raise RunFolderError("pages/index.json: expected a JSON list of pages")
    pages: list[Page] = []
    for i, entry in enumerate(index):
        if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
            raise RunFolderError(f"pages/index.json entry {i}: expected an object with 'file'")
        file = root / "pages" / entry["file"]
        body = file.read_text(encoding="utf-8", errors="replace") if file.is_file() else None
        if not isinstance(entry.get("status", 0), int) or not isinstance(
            entry.get("headers") or {}, dict
        ):
            raise RunFolderError(
                f"pages/index.json entry {i}: status must be an integer, headers an object"
            )
        pages.append(
            Page(
                url=str(entry.get("url", entry["file"])),
                file=entry["file"],
                status=int(entry.get("status") or 0),
                content_type=str(entry.get("content_type") or ""),
                headers={str(k): str(v) for k, v in (entry.get("headers") or {}).items()},
                body=body,
            )
        )
    return pages


def _optional(root: Path, name: str) -> Any:
    path = root / name
    if name == "pages/index.json":
        return _pages(root)
    if name.endswith(".jsonl"):
        rows = [obj for _, obj in _read_jsonl(path, root)]
        if name == "sent.jsonl":
            return {str(r.get("wish_id")): r for r in rows}
        return rows
    value = _read_json(path, root)
    if not isinstance(value, dict):
        raise RunFolderError(f"{name}: expected a JSON object")
    return value


def load(root: Path, ahead: Ahead | None = None) -> RunData:
    """Read a run folder. Raises RunFolderError naming the file (and line) that is wrong.

    With ``ahead`` (:mod:`exodus2045.reports.ahead`), the part of the ledger it read while
    the swarm ran is taken from it when the file's bytes still match; the rest is read here.
    """
    if not root.is_dir():
        raise RunFolderError(f"{root}: not a run folder (no such directory)")
    if not (root / "run.json").is_file():
        raise RunFolderError(f"{root}: run.json is missing; is this a run folder?")
    meta = _read_json(root / "run.json", root)
    if not isinstance(meta, dict):
        raise RunFolderError("run.json: expected a JSON object")
    if not (root / "ledger.jsonl").is_file():
        raise RunFolderError(f"{root}: ledger.jsonl is missing; the swarm wrote nothing")
    read = ahead.ledger.finish((root / "ledger.jsonl").read_bytes()) if ahead else None
    ledger, points = read if read is not None else _ledger(root)
    try:
        evidence = load_index(root, meta)
    except EvidenceIndexError as exc:
        raise RunFolderError(str(exc)) from None
    values: dict[str, Any] = {}
    missing: dict[str, str] = {}
    for name, key in OPTIONAL.items():
        question = QUESTION_OF_FIELD.get(key)
        why = evidence.why_unanswered(question) if question else None
        if why:  # the collector said no source answered: that reason, not "file missing"
            missing[key] = why
        elif not (root / name).is_file():
            missing[key] = f"{name} is missing from the run folder"
        elif name == "store-snapshot.jsonl" and ahead and (
                kept := ahead.store.rows(root / name)) is not None:
            values[key] = kept  # the rows the collector wrote there (reports/ahead.py)
        else:
            values[key] = _optional(root, name)
    return RunData(
        path=root, meta=meta, ledger=ledger, wishes=fold_attempts(ledger), missing=missing,
        evidence=evidence, points=points, sent_ahead=ahead.sent if ahead else None, **values
    )


def _ledger(root: Path) -> tuple[tuple[Attempt, ...], tuple[LedgerPoint, ...]]:
    """Every ledger line as an :class:`Attempt`, and as the series' :class:`LedgerPoint`."""
    seen: dict[Any, Any] = {}
    attempts, points = [], []
    for lineno, obj in _read_jsonl(root / "ledger.jsonl", root):
        attempts.append(attempt_of(obj, f"ledger.jsonl line {lineno}", seen))
        points.append(LedgerPoint(obj))
    return tuple(attempts), tuple(points)

"""``evidence.json``: which source answered which question, and why none answered the rest.

Written by the runner's collector after every answer is in the folder; read by
:mod:`exodus2045.reports.runfolder` so that a check whose question no source answered is
skipped with the reason the collector recorded (not a guess made later from which files
happen to be there). Folders written before ``evidence.json`` existed get an index derived
from ``run.json``'s ``visibility`` and the files present, with the reasons the audit gave
then, so an old run re-judges exactly as it did.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exodus2045.app_under_test.errors import ExodusError
from exodus2045.reports.questions import QUESTIONS, Question

EVIDENCE_FILE = "evidence.json"
SCHEMA_VERSION = 1
UNRECORDED = "unrecorded"  # the source of an answer in a folder that predates evidence.json


class EvidenceIndexError(ExodusError):
    """evidence.json is present but not what docs/run-folder.md describes (names the key)."""


@dataclass(frozen=True)
class Answer:
    """One question's outcome: who answered it (and where it landed), or why nobody did."""

    question: Question
    source: str | None = None
    reason: str | None = None
    files: tuple[str, ...] = ()
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def answered(self) -> bool:
        return self.source is not None

    def to_json(self) -> dict[str, Any]:
        if self.answered:
            return {"answered": True, "source": self.source, "files": list(self.files),
                    **self.detail}
        return {"answered": False, "reason": self.reason or "no source could answer it",
                **self.detail}


@dataclass(frozen=True)
class EvidenceIndex:
    """Every question's :class:`Answer`; ``derived`` when rebuilt for a pre-evidence.json folder."""

    answers: Mapping[Question, Answer] = field(default_factory=dict)
    sources: tuple[Mapping[str, Any], ...] = ()
    derived: bool = False

    def why_unanswered(self, question: Question) -> str | None:
        """None when ``question`` was answered (or never recorded); else the recorded reason."""
        answer = self.answers.get(question)
        if answer is None or answer.answered:
            return None
        return answer.reason or "no source could answer it"

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "sources": [dict(s) for s in self.sources],
            "questions": {q.value: self.answers[q].to_json() for q in Question
                          if q in self.answers},
        }

    def write(self, run_dir: Path) -> Path:
        path = Path(run_dir) / EVIDENCE_FILE
        path.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        return path

    @classmethod
    def from_json(cls, data: Any) -> EvidenceIndex:
        """Parse evidence.json; an unknown question is kept out (a newer writer), not an error."""
        if not isinstance(data, dict) or not isinstance(data.get("questions"), dict):
            raise EvidenceIndexError(f"{EVIDENCE_FILE}: expected an object with 'questions'")
        answers: dict[Question, Answer] = {}
        for key, entry in data["questions"].items():
            try:
                question = Question(key)
            except ValueError:
                continue
            if not isinstance(entry, dict) or not isinstance(entry.get("answered"), bool):
                raise EvidenceIndexError(
                    f"{EVIDENCE_FILE}: questions.{key} needs a boolean 'answered'")
            rest = {k: v for k, v in entry.items()
                    if k not in ("answered", "source", "reason", "files")}
            if entry["answered"]:
                answers[question] = Answer(question, source=str(entry.get("source") or UNRECORDED),
                                           files=tuple(entry.get("files") or ()), detail=rest)
            else:
                answers[question] = Answer(question, reason=str(entry.get("reason") or ""),
                                           detail=rest)
        sources = data.get("sources") or []
        if not isinstance(sources, list):
            raise EvidenceIndexError(f"{EVIDENCE_FILE}: 'sources' must be a list")
        return cls(answers, tuple(s for s in sources if isinstance(s, dict)))


_STORE_SIDE = (Question.STORED_WISHES, Question.AUDIENCE_WISHES, Question.TALLY,
               Question.STORED_COUNTS)
_QUEUE_SIDE = (Question.QUEUE_DEPTHS, Question.DEAD_LETTERS)


def derive(root: Path, meta: Mapping[str, Any]) -> EvidenceIndex:
    """The index an old folder implies: run.json ``visibility`` first, then files present."""
    visibility = meta.get("visibility") or {}
    answers: dict[Question, Answer] = {}
    for question, info in QUESTIONS.items():
        if question in _STORE_SIDE and visibility.get("store") is False:
            why = "the run could not see the store (run.json visibility.store is false)"
        elif question in _QUEUE_SIDE and visibility.get("queues") is False:
            why = "the run could not see the queues (run.json visibility.queues is false)"
        elif info.files and (root / info.files[0]).is_file():
            answers[question] = Answer(question, source=UNRECORDED, files=info.files[:1])
            continue
        elif info.files:
            why = f"{info.files[0]} is missing from the run folder"
        else:
            why = f"not recorded (the folder has no {EVIDENCE_FILE})"
        answers[question] = Answer(question, reason=why)
    return EvidenceIndex(answers, derived=True)


def load_index(root: Path, meta: Mapping[str, Any]) -> EvidenceIndex:
    """evidence.json when the folder has one, else the index derived from what is there."""
    path = Path(root) / EVIDENCE_FILE
    if not path.is_file():
        return derive(Path(root), meta)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EvidenceIndexError(f"{EVIDENCE_FILE}: not valid JSON: {exc}") from None
    return EvidenceIndex.from_json(data)

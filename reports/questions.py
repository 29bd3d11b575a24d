"""The questions the audit asks of a pipeline: named once, for every evidence source.

Checks never read a live pipeline. The runner asks these questions of whatever evidence
sources the run has (the embedded stack's state dir, the target's HTTP API, and, later,
AWS through boto3: ``exodus2045.scenarios.evidence``), writes each answer into the run
folder in one normalised form, and records in ``evidence.json`` which source answered which
question -- or, when none could, why not (:mod:`exodus2045.reports.evidence_index`). A check
whose question went unanswered is ``skipped`` with that reason.

The vocabulary lives here, in the audit's layer, because the audit is the one asking: the
runner's sources import it (they point down at the audit), never the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Question(StrEnum):
    """One thing the audit needs to know about the pipeline (its value is evidence.json's key)."""

    STORED_WISHES = "stored-wishes"
    AUDIENCE_WISHES = "audience-wishes"
    WISH_LOOKUP = "wish-lookup"
    TALLY = "tally"
    STORED_COUNTS = "stored-counts"
    QUEUE_DEPTHS = "queue-depths"
    BACKLOG = "backlog"
    DEAD_LETTERS = "dead-letters"
    PAGES = "pages"
    RESTARTS = "restarts"


@dataclass(frozen=True)
class QuestionInfo:
    """What a question asks, where its answer lands, and who needs it."""

    asks: str
    files: tuple[str, ...]  # where the answer is written in the run folder ("" = nowhere)
    field: str | None  # the RunData field it fills, if any
    needed_by: tuple[str, ...]  # checks (or runner phases) that cannot judge without it


QUESTIONS: dict[Question, QuestionInfo] = {
    Question.STORED_WISHES: QuestionInfo(
        "every stored row carrying this run's id, duplicates included",
        ("store-snapshot.jsonl",), "store",
        ("exactly-once", "no-phantoms", "tally", "content")),
    Question.AUDIENCE_WISHES: QuestionInfo(
        "wishes stored during the run without a run id (the audience's)",
        ("audience-snapshot.jsonl",), "audience", ("figures",)),
    Question.WISH_LOOKUP: QuestionInfo(
        "for each acknowledged wish: is it stored, and as what (one row at most per id)",
        ("lookups.jsonl",), "lookups", ("drain (without a backlog)",)),
    Question.TALLY: QuestionInfo(
        "the destination counters the public tally shows, before and after the run",
        ("tally.json", "metrics.jsonl"), "tally", ("tally",)),
    Question.STORED_COUNTS: QuestionInfo(
        "stored rows per destination (all sources), before and after; their sum each second",
        ("tally.json", "metrics.jsonl"), None, ("tally (counter vs rows)",)),
    Question.QUEUE_DEPTHS: QuestionInfo(
        "visible, in-flight and dead-lettered messages per queue, at the end and each second",
        ("queues.json", "metrics.jsonl"), "queues", ("drained", "recovery")),
    Question.BACKLOG: QuestionInfo(
        "messages still visible or in flight in every queue (what the drain waits on)",
        (), None, ("drain",)),
    Question.DEAD_LETTERS: QuestionInfo(
        "every dead-lettered message with its body and reason",
        ("queues.json",), None, ("dlq-explained",)),
    Question.PAGES: QuestionInfo(
        "every page that displays wishes, as served",
        ("pages/index.json",), "pages", ("no-executable-markup",)),
    Question.RESTARTS: QuestionInfo(
        "how often the supervisor restarted a component, each second",
        ("metrics.jsonl",), None, ("failure-mode table",)),
}

#: RunData field -> the question whose answer fills it.
QUESTION_OF_FIELD: dict[str, Question] = {
    info.field: q for q, info in QUESTIONS.items() if info.field is not None
}

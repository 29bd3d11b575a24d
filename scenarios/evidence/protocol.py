"""The evidence protocol: what a source of evidence is, and the answers it gives.

The questions themselves are named and documented in :mod:`exodus2045.reports.questions`
(the audit asks them; this layer only answers). A source says which questions it can answer
(:meth:`Source.cannot_answer` returns ``None`` for those, and a reason for the rest) and
answers them through one typed method per question. The collector
(:mod:`exodus2045.scenarios.evidence.collector`) asks the run's sources in order of
preference, writes the first answer into the run folder, and records who answered in
``evidence.json``.

Who answers what:

=================  ==============================  ===============================  =================
question           ``state-dir``                   ``http``                         ``aws``
=================  ==============================  ===============================  =================
stored-wishes      store rows with the run's id    only with a listing route        table query/scan
audience-wishes    store rows without a run id     --                               table scan
wish-lookup        store get                       ``GET /api/wishes/{id}``         table get
tally              tally rows                      ``GET /api/tally``               tally items
stored-counts      COUNT by destination            --                               table scan count
queue-depths       queue files                     ``/metrics`` gauges, admin route queue attributes
backlog            queue files                     ``/metrics`` gauges, admin route queue attributes
dead-letters       DLQ rows                        presenter-only dead-letter route DLQ receive, vis 0
pages              --                              the wall, join page, JSON views  --
restarts           the supervisor's stack.json     --                               --
=================  ==============================  ===============================  =================

The ``aws`` source (:mod:`.aws`) is built from the stack's outputs (table name, queue and DLQ
URLs) with boto3 clients injected, and sits in
:func:`exodus2045.scenarios.evidence.collector.open_sources` after ``state-dir`` and before
``http`` (or, for a team's pipeline, is built from an adapter's ``[evidence.aws]``: its
table read by the adapter's attribute names, only the rows whose id the run sent). SQS has
no peek, so it reads dead letters by receiving them with visibility 0 (their receive count
rises; nothing else changes) and says so in its answer's ``how``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from exodus2045.app_under_test.errors import ExodusError
from exodus2045.reports.questions import Question

__all__ = ["EvidenceError", "FetchedPage", "Lookup", "Question", "Source", "SourceBase"]


class EvidenceError(ExodusError):
    """A source could not answer a question it claims (the pipeline went away, a read failed)."""


@dataclass(frozen=True)
class Lookup:
    """The answer to wish-lookup for one wish: found or not, and the stored row if found."""

    wish_id: str
    found: bool
    wish: Mapping[str, Any] | None = None
    status: int | None = None  # the HTTP status, for a lookup made over HTTP (0: no answer)

    def to_json(self) -> dict[str, Any]:
        return {"wish_id": self.wish_id, "found": self.found, "status": self.status,
                "wish": dict(self.wish) if self.wish is not None else None}


@dataclass(frozen=True)
class FetchedPage:
    """One page that displays wishes, exactly as served (the static oracle judges the bytes)."""

    url: str
    status: int
    content_type: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


class Source(Protocol):
    """Something that can answer some of the audit's questions about one pipeline."""

    name: str
    #: whether its tally may trail the store, so a final read must wait for it to settle
    tally_may_trail: bool
    #: exceptions that mean "this answer failed" (a read error), not "Exodus has a bug"
    errors: tuple[type[BaseException], ...]

    def cannot_answer(self, question: Question) -> str | None:
        """None when this source answers ``question``; else why not (for evidence.json)."""
        ...

    def describe(self) -> dict[str, Any]:
        """What evidence.json says about this source (never a secret)."""
        ...

    def close(self) -> None: ...

    def stored_wishes(self, run_id: str) -> Iterator[dict[str, Any]]: ...

    def audience_wishes(self, since: float) -> Iterator[dict[str, Any]]: ...

    def lookup(self, wish_ids: Sequence[str]) -> list[Lookup]: ...

    def tally(self) -> dict[str, int]: ...

    def stored_counts(self) -> dict[str, int]: ...

    def queue_depths(self) -> dict[str, dict[str, int]]: ...

    def backlog(self) -> int: ...

    def dead_letters(self) -> list[dict[str, Any]]: ...

    def pages(self, sample_ids: Sequence[str]) -> list[FetchedPage]: ...

    def restarts(self) -> int: ...


class SourceBase:
    """A source answers the questions in ``ANSWERS``; every other one says ``WHY_NOT``.

    Subclasses implement only the answer methods of their ``ANSWERS``; the rest raise
    :class:`EvidenceError`, so asking a source the wrong question is loud, never a silent
    empty answer that a check would take for "nothing stored".
    """

    name: ClassVar[str] = "source"
    #: Its tally may trail the store (a cache, a replica, a public view refreshed each
    #: second): the collector reads it again until it settles.
    tally_may_trail: ClassVar[bool] = False
    ANSWERS: ClassVar[frozenset[Question]] = frozenset()
    WHY_NOT: ClassVar[Mapping[Question, str]] = {}
    errors: tuple[type[BaseException], ...] = ()

    def cannot_answer(self, question: Question) -> str | None:
        if question in self.ANSWERS:
            return None
        return self.WHY_NOT.get(question, f"{self.name} has no way to answer {question.value}")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}

    def close(self) -> None:
        return None

    def _refuse(self, question: Question) -> EvidenceError:
        return EvidenceError(f"{self.name} cannot answer {question.value}: "
                             f"{self.cannot_answer(question)}")

    def stored_wishes(self, run_id: str) -> Iterator[dict[str, Any]]:
        raise self._refuse(Question.STORED_WISHES)

    def audience_wishes(self, since: float) -> Iterator[dict[str, Any]]:
        raise self._refuse(Question.AUDIENCE_WISHES)

    def lookup(self, wish_ids: Sequence[str]) -> list[Lookup]:
        raise self._refuse(Question.WISH_LOOKUP)

    def tally(self) -> dict[str, int]:
        raise self._refuse(Question.TALLY)

    def stored_counts(self) -> dict[str, int]:
        raise self._refuse(Question.STORED_COUNTS)

    def queue_depths(self) -> dict[str, dict[str, int]]:
        raise self._refuse(Question.QUEUE_DEPTHS)

    def backlog(self) -> int:
        raise self._refuse(Question.BACKLOG)

    def dead_letters(self) -> list[dict[str, Any]]:
        raise self._refuse(Question.DEAD_LETTERS)

    def pages(self, sample_ids: Sequence[str]) -> list[FetchedPage]:
        raise self._refuse(Question.PAGES)

    def restarts(self) -> int:
        raise self._refuse(Question.RESTARTS)

"""Ask the run's sources, write every answer into the run folder, say who answered what.

"Collected, then judged" (docs/run-folder.md "evidence.json"): the collector is the only
code that talks to a live pipeline on the audit's behalf. For each question it asks the
sources in order of preference -- the state dir when the run has one, then ``aws`` when it
names a stack, then HTTP -- and takes the first answer that arrives; a source that fails is
recorded and the next one tried. What nobody answered is recorded with every source's
reason, and the check that needed it is skipped with that reason.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from exodus2045.app_under_test.settings import AwsConfig, AwsResources
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.reports.evidence_index import Answer, EvidenceIndex
from exodus2045.scenarios.evidence import folder
from exodus2045.scenarios.evidence.http import HttpSource, HttpSourceConfig
from exodus2045.scenarios.evidence.protocol import EvidenceError, Lookup, Question, Source
from exodus2045.scenarios.evidence.statedir import StateDirSource

if TYPE_CHECKING:  # a team's AWS (botocore, the aws backend) loads only when it is used
    from exodus2045.reports.ahead import RowsAhead
    from exodus2045.scenarios.evidence.aws_team import TeamAws

T = TypeVar("T")

#: An HTTP tally is read again this long after the last read, at most this many times, until
#: two reads agree (Exodus's own public views refresh once a second).
SETTLE_S = 1.2
SETTLE_READS = 4


@dataclass(frozen=True)
class EvidenceConfig:
    """Where a run's evidence can come from; enough to open the sources again in a thread."""

    url: str | None = None
    state_dir: Path | None = None
    http: HttpSourceConfig = field(default_factory=HttpSourceConfig)
    aws: AwsConfig | None = None  # with ``aws_resources``: a deployed stack (``--stack``)
    aws_resources: AwsResources | None = None
    stack: str | None = None
    team_aws: TeamAws | None = None  # with ``aws``: a team's table and queues (an adapter's)


def open_sources(config: EvidenceConfig) -> list[Source]:
    """The run's sources, most trusted first: each question goes to the first that can."""
    sources: list[Source] = []
    if config.state_dir is not None:
        sources.append(StateDirSource(StateDir(config.state_dir)))
    if config.aws is not None and config.aws_resources is not None:
        from exodus2045.scenarios.evidence.aws import open_aws_source

        sources.append(open_aws_source(config.aws, config.aws_resources, config.stack))
    elif config.aws is not None and config.team_aws is not None:
        from exodus2045.scenarios.evidence.aws import open_team_aws_source

        sources.append(open_team_aws_source(config.aws, config.team_aws))
    if config.url:
        sources.append(HttpSource(config.url, config.http))
    return sources


class Evidence:
    """The run's evidence: live answers (backlog, tally, samples) and the end-of-run collection."""

    def __init__(self, config: EvidenceConfig, sources: Sequence[Source] | None = None) -> None:
        self.config = config
        self.sources = list(sources) if sources is not None else open_sources(config)
        self.answers: dict[Question, Answer] = {}
        self._children: list[Evidence] = []
        self._found: dict[str, Lookup] = {}  # a wish found stored stays stored

    def reopen(self) -> Evidence:
        """A twin with sources of its own (SQLite connections stay in their thread); what it
        answers is merged into this one's evidence.json."""
        child = Evidence(self.config)
        self._children.append(child)
        return child

    def close(self) -> None:
        for source in self.sources:
            source.close()

    # -- asking ----------------------------------------------------------------------------
    def can_answer(self, question: Question) -> bool:
        return any(s.cannot_answer(question) is None for s in self.sources)

    def why_not(self, question: Question) -> str:
        reasons = [f"{s.name}: {why}" for s in self.sources if (why := s.cannot_answer(question))]
        return "; ".join(reasons) or "the run has no evidence source"

    def ask(self, question: Question, call: Callable[[Source], T],
            files: tuple[str, ...] = ()) -> T | None:
        """The first source's answer (recorded with ``files``), or None (recorded with why)."""
        failures = []
        for source in self.sources:
            if source.cannot_answer(question) is not None:
                continue
            try:
                value = call(source)
            except (EvidenceError, *source.errors) as exc:
                failures.append(f"{source.name} failed: {type(exc).__name__}: {exc}")
                continue
            how = getattr(source, "HOW", {}).get(question)  # e.g. aws's DLQ read with visibility 0
            self.answers[question] = Answer(question, source=source.name, files=files,
                                            detail={"how": how} if how else {})
            return value
        why = "; ".join(failures) or self.why_not(question)
        self.answers[question] = Answer(
            question, reason=f"no evidence source answered {question.value} ({why})")
        return None

    def _note(self, question: Question, **detail: Any) -> None:
        answer = self.answers[question]
        self.answers[question] = dataclasses.replace(answer, detail={**answer.detail, **detail})

    def _refuse(self, question: Question, reason: str) -> None:
        self.answers[question] = Answer(question, reason=reason)

    # -- live answers ----------------------------------------------------------------------
    def visibility(self) -> dict[str, bool]:
        """run.json's summary: could this run see the store and the queues?"""
        return {"store": self.can_answer(Question.STORED_WISHES),
                "queues": self.can_answer(Question.QUEUE_DEPTHS)}

    def backlog(self) -> int | None:
        return self.ask(Question.BACKLOG, lambda s: s.backlog())

    def unstored(self, wish_ids: Sequence[str]) -> list[str] | None:
        """Which of ``wish_ids`` no lookup finds stored yet (None: nobody can look up)."""
        lookups = self.lookup(wish_ids)
        return None if lookups is None else [x.wish_id for x in lookups if not x.found]

    def lookup(self, wish_ids: Sequence[str], files: tuple[str, ...] = ()) -> list[Lookup] | None:
        todo = [i for i in wish_ids if i not in self._found]  # asked even when empty: recorded
        fresh = self.ask(Question.WISH_LOOKUP, lambda s: s.lookup(todo) if todo else [], files)
        if fresh is None:
            return None
        self._found.update((x.wish_id, x) for x in fresh if x.found)
        by_id = {x.wish_id: x for x in fresh}
        return [self._found.get(i) or by_id[i] for i in wish_ids]

    def tally_snapshot(self, files: tuple[str, ...] = ()) -> dict[str, Any]:
        """``{"tally": counters, "stored": rows per destination}``; None where unanswered."""
        return {"tally": self.ask(Question.TALLY, lambda s: s.tally(), files),
                "stored": self.ask(Question.STORED_COUNTS, lambda s: s.stored_counts(), files)}

    def sample(self, t0: float) -> dict[str, Any]:
        """One metrics.jsonl row; a field no source answers is null."""
        now = time.time()
        where = (folder.METRICS,)
        depths = self.ask(Question.QUEUE_DEPTHS, lambda s: s.queue_depths(), where)
        snapshot = self.tally_snapshot(where)
        restarts = self.ask(Question.RESTARTS, lambda s: s.restarts(), where)
        stored = snapshot["stored"]
        return {"t": round(now - t0, 3), "at": now, "queues": depths,
                "stored": sum(stored.values()) if stored is not None else None,
                "tally": snapshot["tally"], "restarts": restarts}

    # -- the end of the run ----------------------------------------------------------------
    def collect(self, run_dir: Path, run_id: str, since: float, acked_ids: Sequence[str],
                sample_ids: Sequence[str], tally_before: dict[str, Any],
                keep_store: RowsAhead | None = None) -> EvidenceIndex:
        """Write every answer into ``run_dir`` and then evidence.json; returns the index.
        ``keep_store`` keeps the store snapshot's rows as written, for the audit."""
        self._collect_store(run_dir, run_id, since, acked_ids, keep_store)
        self._collect_tally(run_dir, tally_before)
        self._collect_queues(run_dir)
        pages = self.ask(Question.PAGES, lambda s: _some_pages(s, sample_ids),
                         (folder.PAGES_INDEX,))
        if pages is not None:
            self._note(Question.PAGES, pages=folder.write_pages(run_dir, pages))
        index = self.index()
        index.write(run_dir)
        return index

    def _collect_store(self, run_dir: Path, run_id: str, since: float,
                       acked_ids: Sequence[str], keep: RowsAhead | None = None) -> None:
        snapshot = (folder.STORE_SNAPSHOT,)
        rows = self.ask(Question.STORED_WISHES, lambda s: folder.write_jsonl(
            run_dir / folder.STORE_SNAPSHOT, s.stored_wishes(run_id), keep), snapshot)
        if rows is not None:
            self._note(Question.STORED_WISHES, rows=rows)
        audience = self.ask(Question.AUDIENCE_WISHES, lambda s: folder.write_jsonl(
            run_dir / folder.AUDIENCE_SNAPSHOT, s.audience_wishes(since)),
            (folder.AUDIENCE_SNAPSHOT,))
        if audience is not None:
            self._note(Question.AUDIENCE_WISHES, rows=audience)
        if rows is not None:  # every stored row is already here: a lookup would add nothing
            self._refuse(Question.WISH_LOOKUP, f"not asked: {Question.STORED_WISHES.value} "
                         f"({self.answers[Question.STORED_WISHES].source}) holds every stored row")
            return
        lookups = self.lookup(acked_ids, (folder.LOOKUPS,))
        if lookups is not None:
            folder.write_lookups(run_dir / folder.LOOKUPS, lookups)
            self._note(Question.WISH_LOOKUP, looked_up=len(lookups),
                       found=sum(1 for x in lookups if x.found))

    def _collect_tally(self, run_dir: Path, before: dict[str, Any]) -> None:
        after = self.tally_snapshot((folder.TALLY,))
        if after["tally"] is not None and self._answered_by(Question.TALLY).tally_may_trail:
            after["tally"] = self._settled_tally(after["tally"])
        for key, question in (("tally", Question.TALLY), ("stored", Question.STORED_COUNTS)):
            if after[key] is not None and before.get(key) is None:
                self._refuse(question, f"answered after the run but not before it, so no "
                             f"delta: {question.value} was unreadable when the run started")
            if self.answers[question].answered:
                continue
            before = {**before, key: None}
            after[key] = None
        if after["tally"] is not None:
            folder.write_json(run_dir / folder.TALLY, {"before": before, "after": after})

    def _answered_by(self, question: Question) -> Source:
        name = self.answers[question].source
        return next(s for s in self.sources if s.name == name)

    def _settled_tally(self, first: dict[str, int]) -> dict[str, int]:
        """A tally read over HTTP may trail the store (a cache, a replica, a public view
        refreshed each second): read it again until two reads :data:`SETTLE_S` apart agree
        (at most :data:`SETTLE_READS` more), so the delta judged is the settled one. The
        store is drained by now, so a tally still moving after that is the target's to
        explain, and the check judges the last read."""
        last = first
        for _ in range(SETTLE_READS):
            time.sleep(SETTLE_S)
            again = self.ask(Question.TALLY, lambda s: s.tally(), (folder.TALLY,))
            if again is None or again == last:
                return last
            last = again
        self._note(Question.TALLY, settled=False)
        return last

    def _collect_queues(self, run_dir: Path) -> None:
        depths = self.ask(Question.QUEUE_DEPTHS, lambda s: s.queue_depths(), (folder.QUEUES,))
        letters = self.ask(Question.DEAD_LETTERS, lambda s: s.dead_letters(), (folder.QUEUES,))
        if depths is None:
            if letters is not None:
                self._refuse(Question.DEAD_LETTERS, "read, but not written: queues.json needs "
                             "the queue depths beside the dead letters")
            return
        if letters is not None:
            self._note(Question.DEAD_LETTERS, dead_letters=len(letters))
        folder.write_json(run_dir / folder.QUEUES, {"queues": depths, "dead_letters": letters})

    # -- evidence.json ---------------------------------------------------------------------
    def index(self) -> EvidenceIndex:
        """Every question: this collector's answer, merged with what its samplers answered."""
        answers: dict[Question, Answer] = {}
        for question in Question:
            own = self.answers.get(question)
            seen = [c.answers[question] for c in self._children if question in c.answers]
            sampled = next((a for a in seen if a.answered), seen[0] if seen else None)
            if own is None:
                own = sampled or Answer(question, reason=(
                    f"not asked during this run ({self._who(question)})"))
            elif sampled and own.answered and sampled.source == own.source:
                extra = tuple(f for f in sampled.files if f not in own.files)
                own = dataclasses.replace(own, files=own.files + extra)
            answers[question] = own
        return EvidenceIndex(answers, tuple(s.describe() for s in self.sources))

    def _who(self, question: Question) -> str:
        able = [s.name for s in self.sources if s.cannot_answer(question) is None]
        return f"{' or '.join(able)} could have" if able else self.why_not(question)


def _some_pages(source: Source, sample_ids: Sequence[str]):
    pages = source.pages(sample_ids)
    if not pages:  # zero pages is "could not judge", never "nothing executable found"
        raise EvidenceError("not one page could be fetched")
    return pages

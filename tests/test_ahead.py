"""Audit work done ahead (reports/ahead.py) gives the verdict a cold audit of the folder gives.

The runner reads the ledger while the swarm writes it, re-plans the seed and keeps the store
rows it wrote; each piece is used only when it still matches the folder, and anything odd
sends the audit back to reading the file itself, with the same errors.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest

from exodus2045.locustfiles import generate
from exodus2045.reports.ahead import Ahead, RowsAhead, SentAhead
from exodus2045.reports.audit import audit_data, audit_run
from exodus2045.reports.render import render_all
from exodus2045.reports.runfolder import RunData, RunFolderError
from tests.runfolder_factory import RUN_ID, WISHES, make_run_folder

REPORTS = ("verdict.json", "report.html", "summary.md", "junit.xml")


def _planned_folder(tmp_path: Path, **knobs) -> Path:
    """A crafted folder whose wish ids are the real planner's, without sent.jsonl: content
    re-plans the seed, as it does for a real run."""
    plan = generate.SwarmPlan(seed=2045, run_id=RUN_ID, evacuees=WISHES, mars_share=0.6,
                              infiltrator_share=0.2)
    pools = generate.build_pools(2045)
    ids = [generate.plan_wish(plan, n, pools).wish_id for n in range(WISHES)]

    def planned_ids(files):
        for line in files["ledger.jsonl"]:
            line["wish_id"] = ids[line["n"]]

    return make_run_folder(tmp_path, mutate=planned_ids, omit=["sent.jsonl"], **knobs)


def _ahead_of(folder: Path, ledger: Path | None = None) -> Ahead:
    meta = json.loads((folder / "run.json").read_text())
    return Ahead(ledger or folder / "ledger.jsonl", meta["seed"], meta["run_id"],
                 meta["scenario"]["load"])


def _grow(ahead: Ahead, folder: Path) -> None:
    """Let ``ahead`` read the ledger as a swarm writes it: in three pieces, the cut mid-line."""
    data = (folder / "ledger.jsonl").read_bytes()
    growing = folder / "ledger.jsonl"
    for cut in (len(data) // 3, 2 * len(data) // 3 + 5, len(data)):
        growing.write_bytes(data[:cut])
        ahead.ledger.read()


def _keep_store(ahead: Ahead, folder: Path) -> None:
    path = folder / "store-snapshot.jsonl"
    for line in path.read_text().splitlines():
        ahead.store.keep(json.loads(line))
    ahead.store.written(path)


def _reports(folder: Path, ahead: Ahead | None) -> dict[str, bytes]:
    data = RunData.load(folder, ahead)
    verdict = audit_data(data)
    verdict.save(folder)
    render_all(folder, verdict=verdict, run=data)
    return {name: (folder / name).read_bytes() for name in REPORTS}


def test_a_verdict_prepared_ahead_is_byte_for_byte_the_cold_one(tmp_path: Path):
    folder = _planned_folder(tmp_path / "a", altered={3: "Not what was sent"})
    cold_copy = tmp_path / "cold"
    shutil.copytree(folder, cold_copy)
    ahead = _ahead_of(folder)
    _grow(ahead, folder)
    while ahead.sent.step(7):  # in slices, as the runner's reader does
        pass
    _keep_store(ahead, folder)
    warm = _reports(folder, ahead)
    assert ahead.used() == {"ledger_lines": len((folder / "ledger.jsonl").read_text()
                                                .splitlines()),
                            "planned": WISHES,
                            "store_rows": len((folder / "store-snapshot.jsonl").read_text()
                                              .splitlines())}
    cold = _reports(cold_copy, None)
    assert warm == cold
    content = next(c for c in audit_run(cold_copy).checks if c.id == "content")
    assert content.status == "failed" and content.evidence["source"] == "regenerated from the seed"


def test_a_rewritten_ledger_is_read_again(tmp_path: Path):
    folder = _planned_folder(tmp_path / "a")
    ahead = _ahead_of(folder)
    ahead.ledger.read()
    lines = (folder / "ledger.jsonl").read_text().splitlines(keepends=True)
    (folder / "ledger.jsonl").write_text("".join(reversed(lines)))  # a merge rewrote it
    warm = audit_data(RunData.load(folder, ahead))
    assert ahead.used()["ledger_lines"] is None  # the prefix no longer matched
    assert warm.to_json() == audit_run(folder).to_json()


def test_a_corrupt_ledger_line_fails_as_it_does_cold(tmp_path: Path):
    folder = _planned_folder(tmp_path / "a", corrupt=("ledger.jsonl", 3))
    with pytest.raises(RunFolderError) as cold:
        RunData.load(folder)
    ahead = _ahead_of(folder)
    ahead.ledger.read()
    with pytest.raises(RunFolderError) as warm:
        RunData.load(folder, ahead)
    assert str(warm.value) == str(cold.value) and "line 3" in str(cold.value)


def test_a_plan_for_another_run_is_not_used(tmp_path: Path):
    folder = _planned_folder(tmp_path / "a")
    meta = json.loads((folder / "run.json").read_text())
    other = SentAhead(meta["seed"], "r-another-run", meta["scenario"]["load"])
    while other.step():
        pass
    ahead = _ahead_of(folder)
    ahead.sent = other
    run = RunData.load(folder, ahead)
    assert run.sent_fields() is None
    assert audit_data(run).to_json() == audit_run(folder).to_json()


def test_kept_store_rows_are_used_only_when_plain_and_the_file_unchanged(tmp_path: Path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n')
    plain = RowsAhead()
    plain.keep({"a": 1, "b": "x", "c": None, "d": 1.5, "e": True})
    plain.written(path)
    assert plain.rows(path) == [{"a": 1, "b": "x", "c": None, "d": 1.5, "e": True}]
    path.write_text('{"a": 2}\n')  # rewritten since: the audit must read it
    assert plain.rows(path) is None
    for odd in ({"a": [1]}, {"a": float("nan")}, {1: "x"}, {"a": (1, 2)}, ["not a dict"]):
        kept = RowsAhead()
        kept.keep({"fine": 1})
        kept.keep(odd)
        kept.written(path)
        assert kept.rows(path) is None, odd


@pytest.mark.parametrize("final_end", [13.0, 500.0])  # the same bucket width; a wider one
def test_charts_drafted_while_the_stack_goes_down_render_the_same_bytes(tmp_path: Path,
                                                                        final_end: float):
    from exodus2045.reports.render import draft
    from tests.runfolder_factory import T0

    folder = make_run_folder(tmp_path / "a")
    meta = json.loads((folder / "run.json").read_text())
    meta["ended_at"] = T0 + final_end  # what run.json says once the teardown is done
    (folder / "run.json").write_text(json.dumps(meta))
    cold_copy = tmp_path / "cold"
    shutil.copytree(folder, cold_copy)
    data = RunData.load(folder)
    verdict = audit_data(data)
    verdict.save(folder)
    drafted = draft(folder, verdict, data, ended_at=T0 + 11.0)  # before the teardown ended
    assert (drafted.series.bucket_s == 1.0) and drafted.series.span_s < final_end
    render_all(folder, verdict=verdict, run=data, drafted=drafted)
    assert _reports(cold_copy, None) == {name: (folder / name).read_bytes() for name in REPORTS}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="drafting beside the judge needs os.fork")
@pytest.mark.parametrize("final_end", [13.0, 500.0])
def test_charts_drafted_in_a_child_beside_the_judge_render_the_same_bytes(tmp_path: Path,
                                                                          final_end: float):
    """The runner's draft comes from a forked child while it judges (before any verdict):
    pickled back, it renders the bytes of a cold render, and it is the in-process draft."""
    from exodus2045.reports.render import draft
    from exodus2045.scenarios.draft_beside import DraftBeside
    from tests.runfolder_factory import T0

    folder = make_run_folder(tmp_path / "a")
    meta = json.loads((folder / "run.json").read_text())
    meta["ended_at"] = T0 + final_end
    (folder / "run.json").write_text(json.dumps(meta))
    cold_copy = tmp_path / "cold"
    shutil.copytree(folder, cold_copy)
    data = RunData.load(folder)
    beside = DraftBeside().start(folder, data, ended_at=T0 + 11.0)  # before the judge
    verdict = audit_data(data)
    verdict.save(folder)
    drafted = beside.result()
    assert drafted is not None, beside.failed
    assert drafted == draft(folder, verdict, data, ended_at=T0 + 11.0)
    assert beside.child_s is not None and beside.pid is None  # collected, no zombie left
    render_all(folder, verdict=verdict, run=data, drafted=drafted)
    assert _reports(cold_copy, None) == {name: (folder / name).read_bytes() for name in REPORTS}


class _Unreadable:
    """A loaded folder that breaks whoever reads it."""

    def __getattr__(self, name: str):
        raise RuntimeError(f"cannot read {name}")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="drafting beside the judge needs os.fork")
def test_a_draft_child_that_fails_hands_back_nothing(tmp_path: Path):
    """A child whose draft raises exits non-zero: no draft comes back (the runner then drafts
    in-process, as it did before) and the child is reaped."""
    from exodus2045.scenarios.draft_beside import DraftBeside

    folder = make_run_folder(tmp_path / "a")
    beside = DraftBeside().start(folder, _Unreadable(), ended_at=0.0)  # type: ignore[arg-type]
    assert beside.result() is None
    assert beside.failed and "exited with 1" in beside.failed and beside.pid is None


class _Endless:
    """A loaded folder whose reader never comes back (a child stuck on a lock at the fork)."""

    def __getattr__(self, name: str):
        threading.Event().wait()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="drafting beside the judge needs os.fork")
def test_a_draft_child_that_hangs_is_killed_and_hands_back_nothing(tmp_path: Path):
    from exodus2045.scenarios.draft_beside import DraftBeside

    folder = make_run_folder(tmp_path / "a")
    beside = DraftBeside(within_s=1.0).start(folder, _Endless(), ended_at=0.0)  # type: ignore[arg-type]
    assert beside.result() is None
    assert beside.failed and "exited with -9" in beside.failed and beside.pid is None


def _spans_file(path: Path, run_id: str) -> bytes:
    lines = []
    for n in range(40):
        owner = run_id if n % 3 else "r-another"
        lines.append(json.dumps({"name": f"span {n} é", "attributes": {"exodus.run_id": owner}}))
    lines[7] = lines[7][:20]  # torn by a kill -9
    lines[11] = '"not an object"'
    data = ("\n".join(lines)).encode() + b"\n\xff\xfe broken utf-8\n"
    data += json.dumps({"attributes": {"exodus.run_id": run_id}}).encode()  # no final newline
    path.write_bytes(data)
    return data


@pytest.mark.parametrize("odd", [b"", b"\r"])
def test_spans_copied_while_the_run_goes_are_the_spans_copied_at_the_end(tmp_path: Path,
                                                                         odd: bytes):
    from exodus2045.scenarios.evidence.stack_files import SpanCopy, copy_spans

    state, live, cold = tmp_path / "state", tmp_path / "live", tmp_path / "cold"
    for folder in (state, live, cold):
        folder.mkdir()
    data = _spans_file(state / "spans.jsonl", "r-this")
    data = data[:100] + odd + data[100:]
    source = state / "spans.jsonl"
    copy = SpanCopy(state, live, "r-this")
    for cut in (0, 50, 333, len(data) // 2, len(data)):  # the stack appends as it goes
        source.write_bytes(data[:cut])
        copy.step()
    assert copy.finish() == copy_spans(state, cold, "r-this") > 0
    assert (live / "spans.jsonl").read_bytes() == (cold / "spans.jsonl").read_bytes()
    none = SpanCopy(state, tmp_path, "r-nobody")
    none.step()
    assert none.finish() == 0 and not (tmp_path / "spans.jsonl").exists()

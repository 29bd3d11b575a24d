"""The schedule: faults on and off at their times, every transition a contract timeline line."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from exodus2045.app_under_test.backends.local import LocalBackend
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.chaos.board import FaultBoard
from exodus2045.chaos.schedule import ChaosSchedule
from exodus2045.chaos.step import ChaosStep
from exodus2045.chaos.timeline import FIELDS, read_timeline
from tests.conftest import wait_for


def assert_contract(lines: list[dict], source: str = "scenario") -> None:
    assert lines, "the timeline is empty"
    for line in lines:
        assert tuple(line) == FIELDS
        assert line["event"] in ("on", "off", "note")
        assert line["source"] == source
        assert isinstance(line["t"], float) and line["t"] >= 0
        assert isinstance(line["params"], dict)
        assert datetime.fromisoformat(line["at"].replace("Z", "+00:00")).tzinfo is not None


def test_a_board_fault_is_on_for_its_duration(state: StateDir, tmp_path: Path) -> None:
    path = tmp_path / "timeline.jsonl"
    steps = [ChaosStep(at_s=0.1, fault="throttle", target="pod-worker/store.put",
                       duration_s=0.4, probability=0.3)]
    schedule = ChaosSchedule(steps, state, path, time.time(), seed=1)
    schedule.start()
    try:
        entries = wait_for(lambda: FaultBoard(state).entries(), timeout=2, what="the fault on")
        assert (entries[0].fault, entries[0].target, entries[0].probability) == (
            "throttle", "pod-worker/store.put", 0.3)
        assert entries[0].until is not None
        assert schedule.wait_until_quiet(timeout_s=5)
    finally:
        schedule.stop()
    assert FaultBoard(state).entries() == []
    lines = read_timeline(path)
    assert_contract(lines)
    on, off = lines
    assert (on["event"], off["event"]) == ("on", "off")
    assert on["params"] == {"probability": 0.3, "duration_s": 0.4}
    assert 0.35 <= off["t"] - on["t"] < 1.5
    assert on["t"] >= 0.1


def test_stop_turns_everything_off_and_says_so(state: StateDir, tmp_path: Path) -> None:
    path = tmp_path / "timeline.jsonl"
    steps = [ChaosStep(at_s=0, fault="latency", target="parser/queue.send",
                       params={"ms": 50}),  # no duration: on until the schedule stops
             ChaosStep(at_s=3600, fault="kill", target="parser")]  # never reached
    schedule = ChaosSchedule(steps, state, path, time.time(), seed=1)
    schedule.start()
    wait_for(lambda: FaultBoard(state).entries(), timeout=2, what="the fault on")
    assert schedule.pending == 2
    schedule.stop()
    assert FaultBoard(state).entries() == []
    lines = read_timeline(path)
    assert_contract(lines)
    assert [(x["event"], x["fault"], x["params"]) for x in lines] == [
        ("on", "latency", {"ms": 50.0, "probability": 1.0}),
        ("off", "latency", {"ms": 50.0, "probability": 1.0})]


def test_poison_repeats_while_arrivals_last_then_stops(
        state: StateDir, backend: LocalBackend, tmp_path: Path) -> None:
    path = tmp_path / "timeline.jsonl"
    steps = [ChaosStep(at_s=0, fault="poison", target="parser", every_s=0.1,
                       params={"count": 2, "kinds": ["wrong-schema"]})]
    schedule = ChaosSchedule(steps, state, path, time.time(), seed=1)
    schedule.start()
    try:
        wait_for(lambda: len(read_timeline(path)) >= 6, timeout=5, what="three occurrences")
        assert schedule.wait_until_quiet(timeout_s=5)
        settled = len(read_timeline(path))
        assert schedule.pending == 0
    finally:
        schedule.stop()
    lines = read_timeline(path)
    assert_contract(lines)
    assert len(lines) == settled, "no repeat after wait_until_quiet"
    assert [x["event"] for x in lines] == ["on", "off"] * (len(lines) // 2)
    assert lines[0]["params"]["queue"] == "wishes"
    assert backend.wishes.depth().visible == 2 * (len(lines) // 2)  # count 2 per occurrence


def test_dice_are_seeded(state: StateDir, tmp_path: Path) -> None:
    def run(seed: int, name: str) -> list[str]:
        path = tmp_path / name
        steps = [ChaosStep(at_s=0, fault="poison", target="pod-worker", probability=0.5,
                           params={"count": 1, "kinds": ["malformed-json"]})] * 12
        schedule = ChaosSchedule(steps, state, path, time.time(), seed=seed)
        schedule.start()
        assert schedule.wait_until_quiet(timeout_s=10)
        schedule.stop()
        lines = read_timeline(path)
        assert_contract(lines)
        return [x["event"] for x in lines if x["event"] != "off"]

    first, again, other = run(7, "a.jsonl"), run(7, "b.jsonl"), run(8, "c.jsonl")
    assert first == again
    assert "on" in first and "note" in first
    assert first != other


def test_without_a_state_dir_faults_become_notes(tmp_path: Path) -> None:
    path = tmp_path / "timeline.jsonl"
    steps = [ChaosStep(at_s=0, fault="kill", target="parser", duration_s=1)]
    schedule = ChaosSchedule(steps, None, path, time.time(), seed=1)
    schedule.start()
    assert schedule.wait_until_quiet(timeout_s=5)
    schedule.stop()
    lines = read_timeline(path)
    assert_contract(lines)
    assert [x["event"] for x in lines] == ["note"]
    assert "no state dir" in lines[0]["params"]["skipped"]


def test_a_fault_that_cannot_land_is_a_note_not_a_crash(state: StateDir, tmp_path: Path) -> None:
    path = tmp_path / "timeline.jsonl"  # state has no stack.json: nothing to kill
    steps = [ChaosStep(at_s=0, fault="kill", target="parser"),
             ChaosStep(at_s=0.05, fault="poison", target="parser", params={"count": 1})]
    schedule = ChaosSchedule(steps, state, path, time.time(), seed=1)
    schedule.start()
    assert schedule.wait_until_quiet(timeout_s=5)
    schedule.stop()
    lines = read_timeline(path)
    assert_contract(lines)
    assert [(x["event"], x["fault"]) for x in lines] == [
        ("note", "kill"), ("on", "poison"), ("off", "poison")]
    assert "no stack here" in lines[0]["params"]["skipped"]

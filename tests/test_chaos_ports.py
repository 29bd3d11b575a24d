"""Port faults inside a component: AWS-like errors, seeded probability, visibility, hooks."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from exodus2045.app_under_test import functions
from exodus2045.app_under_test.backends.local import LocalBackend
from exodus2045.app_under_test.backends.local.intake import QUEUED, Submission
from exodus2045.app_under_test.errors import QueueUnavailable, StoreUnavailable
from exodus2045.app_under_test.frontend import __main__ as frontend_entry
from exodus2045.app_under_test.ports import OutgoingMessage
from exodus2045.app_under_test.settings import PollerConfig
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.chaos import entry
from exodus2045.chaos.board import ActiveFault, FaultBoard
from exodus2045.chaos.hold import held_down_predicate
from exodus2045.chaos.injector import Injector
from exodus2045.chaos.presenter import add_chaos_routes
from exodus2045.chaos.runtime import instrument_intake, instrument_poller
from exodus2045.chaos.source import FileFaultSource, StaticFaultSource
from exodus2045.chaos.wrappers import ChaosQueue, ChaosStore
from tests.conftest import frontend_body, wait_for


def fault(name: str, target: str, probability: float = 1.0, seed: int = 7, **params) -> ActiveFault:
    return ActiveFault.new(name, target, probability, params, seed, "scenario")


def injector(*entries: ActiveFault, component: str = "pod-worker:0") -> Injector:
    return Injector(StaticFaultSource(entries), component)


@pytest.mark.parametrize(("name", "operation", "error", "code"), [
    ("throttle", "queue.send", QueueUnavailable, "ThrottlingException"),
    ("throttle", "queue.receive", QueueUnavailable, "ThrottlingException"),
    ("throttle", "store.put", StoreUnavailable, "ProvisionedThroughputExceededException"),
    ("error", "queue.delete", QueueUnavailable, "InternalError"),
    ("error", "store.put", StoreUnavailable, "InternalServerError"),
])
def test_port_faults_raise_the_services_error_code(name, operation, error, code) -> None:
    inj = injector(fault(name, f"pod-worker/{operation}"))
    with pytest.raises(error) as err:
        inj.before(operation)
    assert err.value.code == code
    assert str(err.value) == f"chaos: {'throttled' if name == 'throttle' else 'internal error'} " \
                             f"on {operation} ({code})"
    inj.before("queue.send" if operation != "queue.send" else "store.put")  # other op: untouched


def test_a_fault_hits_only_its_target() -> None:
    entry = fault("throttle", "parser:1/queue.send")
    injector(entry, component="parser:0").before("queue.send")  # not me: no error
    injector(entry, component="pod-worker:1").before("queue.send")
    with pytest.raises(QueueUnavailable):
        injector(entry, component="parser:1").before("queue.send")


def _hits(inj: Injector, n: int) -> list[bool]:
    out = []
    for _ in range(n):
        try:
            inj.before("store.put")
            out.append(False)
        except StoreUnavailable:
            out.append(True)
    return out


def test_probability_is_honoured_and_seeded() -> None:
    entry = fault("error", "pod-worker/store.put", probability=0.3, seed=2045)
    first = _hits(injector(entry), 2000)
    again = _hits(injector(entry), 2000)
    other = _hits(injector(entry, component="pod-worker:1"), 2000)
    assert 0.25 <= sum(first) / len(first) <= 0.35
    assert first == again, "same seed, same component: the same calls are hit"
    assert first != other, "each component rolls its own dice"


def test_latency_delays_the_call_and_lets_it_succeed(backend: LocalBackend) -> None:
    store = ChaosStore(backend.store, injector(fault("latency", "pod-worker/store.put", ms=120)))
    started = time.perf_counter()
    assert store.put_wishes([frontend_body(1)]) == [True]
    assert time.perf_counter() - started >= 0.12
    assert store.count() == 1  # reads pass through untouched


def test_visibility_fault_makes_a_message_reappear_early(backend: LocalBackend) -> None:
    queue = ChaosQueue(backend.wishes, injector(fault("visibility", "parser", seconds=0.2),
                                                component="parser:0"))
    backend.wishes.send_batch([OutgoingMessage("hello")])
    first = queue.receive(10)
    assert len(first) == 1
    # the queue's own timeout is 30 s; with the fault the message is back within a second
    again = wait_for(lambda: queue.receive(10), timeout=1.5, what="redelivery")
    assert again[0].message_id == first[0].message_id and again[0].receive_count == 2


def _config(state: StateDir, role: str) -> PollerConfig:
    return PollerConfig(state_dir=state.root, role=role, wait_time_s=0.0)


def test_instrumented_pod_worker_reports_throttled_writes_for_redelivery(
        state: StateDir, backend: LocalBackend) -> None:
    config = _config(state, "pod-worker")
    source = StaticFaultSource([fault("throttle", "pod-worker/store.put")])
    poller = instrument_poller(functions.build_poller(config, backend), backend, config, source)
    backend.parsed.send_batch([OutgoingMessage(json.dumps(frontend_body(1)))])
    assert poller.poll_once() == 1
    assert (poller.stats.failed, poller.stats.deleted, backend.store.count()) == (1, 0, 0)
    source.entries.clear()  # fault off; make the message visible again now, not in 30 s
    backend.parsed.connection.execute("UPDATE messages SET visible_at = 0")
    assert poller.poll_once() == 1
    assert (backend.store.count(), backend.parsed.depth().visible) == (1, 0)


def test_instrumented_parser_fails_the_batch_when_its_send_is_refused(
        state: StateDir, backend: LocalBackend) -> None:
    config = _config(state, "parser")
    source = StaticFaultSource([fault("error", "parser/queue.send")])
    poller = instrument_poller(functions.build_poller(config, backend), backend, config, source)
    backend.wishes.send_batch([OutgoingMessage(json.dumps(frontend_body(2)))])
    assert poller.poll_once() == 1
    assert poller.stats.failed == 1
    assert backend.parsed.depth().visible == 0
    assert backend.wishes.depth().in_flight == 1  # left for redelivery, not lost


def test_the_chaos_entry_hands_its_hooks_to_the_pipeline(
        state: StateDir, backend: LocalBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pipeline's processes take hooks; chaos's entry point is what passes them."""
    config = _config(state, "pod-worker")
    seen: dict = {}

    def functions_main(argv, *, decorate, prog):
        seen["argv"], seen["prog"] = argv, prog
        seen["poller"] = decorate(functions.build_poller(config, backend), backend, config)
        return 0

    def frontend_main(argv, *, hooks, prog):
        seen["frontend"] = (argv, hooks)
        return 0

    monkeypatch.setattr(functions, "main", functions_main)  # each kind imports its own
    monkeypatch.setattr(frontend_entry, "main", frontend_main)
    assert entry.main(["pod-worker", "--index", "3"]) == 0
    assert seen["argv"] == ["pod-worker", "--index", "3"] and "chaos.entry" in seen["prog"]
    assert isinstance(seen["poller"].queue, ChaosQueue)
    assert seen["poller"].before_delete is not None
    assert entry.main(["frontend", "--fd", "5", "--index", "1"]) == 0
    argv, hooks = seen["frontend"]
    assert argv == ["--fd", "5", "--index", "1"]
    assert hooks.wrap_intake is instrument_intake and add_chaos_routes in hooks.routes


def test_a_function_under_chaos_loads_no_web_framework() -> None:
    """A parser or pod worker under chaos imports neither the frontend's framework nor an HTTP
    client: every component's imports are CPU time while a run's stack comes up."""
    probe = ("import sys; import exodus2045.chaos.entry, exodus2045.app_under_test.functions, "
             "exodus2045.chaos.runtime; print(sorted(m for m in ('fastapi', 'starlette', "
             "'httpx', 'uvicorn', 'rich', 'locust', 'gevent') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60, check=True).stdout.strip()
    assert loaded == "[]"


def test_the_plain_pipeline_poller_is_not_wrapped(state: StateDir, backend: LocalBackend) -> None:
    poller = functions.build_poller(_config(state, "pod-worker"), backend)
    assert not isinstance(poller.queue, ChaosQueue) and poller.before_delete is None


def test_instrumented_intake_refuses_the_enqueue(backend: LocalBackend, state: StateDir) -> None:
    source = StaticFaultSource([fault("throttle", "frontend:0/queue.send")])
    intake = instrument_intake(backend.intake, "frontend:0", state.root, source)
    other = instrument_intake(backend.intake, "frontend:1", state.root, source)
    body = frontend_body(3)
    sub = Submission(body["wish_id"], "d1", json.dumps(body))
    with pytest.raises(QueueUnavailable) as err:
        intake.accept([sub])
    assert err.value.code == "ThrottlingException"
    assert backend.wishes.depth().visible == 0
    assert other.accept([sub]) == [QUEUED]
    assert intake.queue is backend.wishes  # everything else passes through


def test_a_running_source_sees_a_board_change_within_a_second(state: StateDir) -> None:
    source = FileFaultSource(state.faults_file)
    assert list(source.active()) == []
    entry = FaultBoard(state).add(fault("throttle", "parser/queue.send"))
    written = time.monotonic()
    wait_for(lambda: [e.id for e in source.active()] == [entry.id], timeout=1.0, what="pickup")
    FaultBoard(state).remove(entry.id)
    wait_for(lambda: not source.active(), timeout=1.0, what="removal")
    assert time.monotonic() - written < 2.0


def test_expired_entries_are_ignored(state: StateDir) -> None:
    source = StaticFaultSource([ActiveFault.new("kill", "parser", 1.0, {}, 1, "cli",
                                                until=time.time() - 1)])
    assert source.active() == []


def test_held_down_predicate_follows_kill_holds(state: StateDir) -> None:
    held = held_down_predicate(state.root)
    assert not held("parser:0", "parser")
    board = FaultBoard(state)
    entry = board.add(ActiveFault.new("kill", "parser:1", 1.0, {}, 1, "scenario",
                                      until=time.time() + 60))
    board.add(fault("throttle", "parser/queue.send"))  # not a hold
    wait_for(lambda: held("parser:1", "parser"), timeout=1.0, what="hold")
    assert not held("parser:0", "parser")
    assert not held("pod-worker:1", "pod-worker")
    board.remove(entry.id)
    wait_for(lambda: not held("parser:1", "parser"), timeout=1.0, what="release")


def test_concurrent_board_writers_lose_nothing(state: StateDir) -> None:
    board = FaultBoard(state)

    def add(n: int) -> None:
        for _ in range(n):
            board.add(fault("latency", "parser/queue.send", ms=1))

    threads = [threading.Thread(target=add, args=(25,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(board.entries()) == 100
    assert len(board.clear()) == 100 and board.entries() == []


def test_a_garbled_board_reads_as_no_faults(state: StateDir) -> None:
    state.faults_file.write_text("{not json")
    assert FaultBoard(state).entries() == []
    assert not held_down_predicate(state.root)("parser:0", "parser")
    assert Path(state.faults_file).read_text() == "{not json"  # readers never rewrite it

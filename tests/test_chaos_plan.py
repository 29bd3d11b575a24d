"""Fault plans validate before anything runs, with one precise message per mistake."""

from __future__ import annotations

import pytest

from exodus2045.app_under_test.errors import ConfigError
from exodus2045.chaos import faults
from exodus2045.chaos.plan import catalogue, resolved_params, step_from_cli, validate_step
from exodus2045.chaos.step import ChaosStep
from exodus2045.chaos.targets import Target, parse_target
from exodus2045.scenarios.scenario import ScenarioError, load_scenario, parse_scenario

KNOWN = "crash-after-store, error, kill, latency, pause, poison, throttle, visibility"
CHAOS_SCENARIOS = ("parser-outage", "worker-crashloop", "redelivery-storm", "store-throttle",
                   "poison-pill", "everything-at-once")


def step(fault: str, target: str, **kw) -> ChaosStep:
    return ChaosStep(at_s=kw.pop("at_s", 0.0), fault=fault, target=target, **kw)


GOOD = [
    step("kill", "parser"),
    step("kill", "parser:1", duration_s=20),
    step("kill", "pod-worker", every_s=5),
    step("kill", "frontend", probability=0.5),
    step("pause", "pod-worker:0", duration_s=3),
    step("throttle", "pod-worker/store.put", probability=0.3, duration_s=10),
    step("throttle", "frontend/queue.send"),
    step("error", "parser/queue.receive", probability=0.1),
    step("error", "pod-worker:1/queue.delete", duration_s=1, every_s=2),
    step("latency", "parser/queue.send", params={"ms": 200}),
    step("crash-after-store", "pod-worker", probability=0.05, duration_s=10),
    step("visibility", "parser", params={"seconds": 1}),
    step("poison", "parser"),
    step("poison", "pod-worker", every_s=2, params={"count": 3, "kinds": ["oversize"]}),
]

BAD = [
    (step("kil", "parser"), f"unknown fault 'kil'; known faults: {KNOWN}"),
    (step("kill", "worker"), "target 'worker': unknown component 'worker'; known: frontend, "
                             "parser, pod-worker"),
    (step("kill", "parser:x"), "target 'parser:x' is not of the form KIND[:N][/OPERATION], "
                               "e.g. 'parser', 'parser:0' or 'pod-worker/store.put'"),
    (step("kill", ""), "target is empty; give a component like 'parser', 'parser:0' or "
                       "'pod-worker/store.put'"),
    (step("kill", "parser/queue.send"), "fault 'kill' acts on a whole component, not an "
                                        "operation: give 'parser', not 'parser/queue.send'"),
    (step("throttle", "pod-worker"), "fault 'throttle' needs an operation in its target, e.g. "
     "'pod-worker/store.put'; the pod-worker does queue.receive, queue.send, queue.delete, "
     "store.put"),
    (step("throttle", "frontend/store.put"), "target 'frontend/store.put': the frontend never "
                                             "calls store.put; its operations: queue.send"),
    (step("error", "parser/queue.sned"), "target 'parser/queue.sned': unknown operation "
     "'queue.sned'; known: queue.receive, queue.send, queue.delete, store.put"),
    (step("crash-after-store", "parser"), "fault 'crash-after-store' cannot target 'parser': "
                                          "it acts on pod-worker"),
    (step("visibility", "frontend", params={"seconds": 1}),
     "fault 'visibility' cannot target 'frontend': it acts on parser, pod-worker"),
    (step("poison", "parser:0"), "fault 'poison' cannot target one instance ('parser:0'): it "
     "acts on a queue every parser shares; give 'parser'"),
    (step("latency", "pod-worker/store.put"),
     "fault 'latency' needs ms (milliseconds added to each affected call)"),
    (step("latency", "pod-worker/store.put", params={"ms": 0}),
     "fault 'latency': ms must be at least 1, got 0"),
    (step("latency", "pod-worker/store.put", params={"ms": "fast"}),
     "fault 'latency': ms must be a number, got 'fast'"),
    (step("latency", "pod-worker/store.put", params={"mss": 10}),
     "fault 'latency' has no key 'mss'; its keys: ms"),
    (step("kill", "parser", params={"ms": 10}),
     "fault 'kill' takes no fault-specific keys, got 'ms'"),
    (step("visibility", "parser", params={"seconds": 0.01}),
     "fault 'visibility': seconds must be at least 0.05, got 0.01"),
    (step("poison", "parser", params={"kinds": ["oversize", "nope"]}),
     "fault 'poison': kinds: unknown 'nope'; choose from malformed-json, invalid-utf8, "
     "wrong-schema, oversize"),
    (step("poison", "parser", params={"kinds": []}),
     "fault 'poison': kinds must name at least one of malformed-json, invalid-utf8, "
     "wrong-schema, oversize"),
    (step("poison", "parser", params={"count": 2.5}),
     "fault 'poison': count must be a whole number, got 2.5"),
    (step("poison", "parser", duration_s=3),
     "fault 'poison' takes no duration: it puts its messages in once (use every to repeat)"),
    (step("pause", "parser"),
     "fault 'pause' needs a duration: a paused process without one would stay stopped forever"),
    (step("kill", "parser", probability=0.0),
     "probability must be greater than 0 and at most 1, got 0"),
    (step("kill", "parser", probability=1.5),
     "probability must be greater than 0 and at most 1, got 1.5"),
    (step("kill", "parser", duration_s=10, every_s=5),
     "every (5s) must be longer than duration (10s), so one window ends before the next begins"),
    (step("throttle", "parser/queue.send", every_s=5),
     "fault 'throttle' with every needs a duration: a fault that never ends cannot repeat"),
    (step("kill", "parser", duration_s=0.0), "duration must be greater than 0, got 0s"),
]


def test_registry_has_every_fault_from_its_own_module() -> None:
    assert ", ".join(faults.known()) == KNOWN
    assert set(faults.port_faults()) == {"throttle", "error", "latency"}
    for fault in faults.registry().values():
        assert fault.summary and fault.kinds


@pytest.mark.parametrize("good", GOOD, ids=lambda s: f"{s.fault}@{s.target}")
def test_good_steps_validate(good: ChaosStep) -> None:
    validate_step(good)  # raises on failure
    assert isinstance(resolved_params(good), dict)


@pytest.mark.parametrize(("bad", "message"), BAD, ids=lambda v: getattr(v, "fault", "msg"))
def test_bad_steps_fail_with_the_exact_message(bad: ChaosStep, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate_step(bad)
    assert str(err.value) == message


def test_defaults_are_filled_in() -> None:
    assert resolved_params(step("poison", "parser")) == {
        "count": 10, "kinds": ("malformed-json", "invalid-utf8", "wrong-schema", "oversize")}
    assert resolved_params(step("latency", "parser/queue.send", params={"ms": 5})) == {"ms": 5.0}


def test_targets_parse_and_match() -> None:
    assert parse_target("pod-worker:1/store.put") == Target("pod-worker", 1, "store.put")
    assert str(parse_target("parser:0")) == "parser:0"
    every_parser = parse_target("parser")
    assert every_parser.matches("parser:3", "parser")
    assert not every_parser.matches("pod-worker:0", "pod-worker")
    one = parse_target("parser:1/queue.send")
    assert one.matches("parser:1", "parser", "queue.send")
    assert not one.matches("parser:0", "parser", "queue.send")
    assert not one.matches("parser:1", "parser", "queue.receive")


def test_cli_params_are_typed_by_the_fault_schema() -> None:
    s = step_from_cli("poison", "pod-worker", params=["kinds=oversize,wrong-schema", "count=3"])
    assert s.params == {"kinds": ("oversize", "wrong-schema"), "count": 3}
    assert step_from_cli("latency", "parser/queue.send", params=["ms=250"]).params == {"ms": 250}
    with pytest.raises(ConfigError, match=r"^--param 'ms' is not of the form key=value$"):
        step_from_cli("latency", "parser/queue.send", params=["ms"])
    with pytest.raises(ConfigError, match=r"^fault 'latency': ms must be a number, got 'abc'$"):
        step_from_cli("latency", "parser/queue.send", params=["ms=abc"])
    with pytest.raises(ConfigError, match=r"^fault 'latency': ms must be a number, got nan$"):
        step_from_cli("latency", "parser/queue.send", params=["ms=nan"])
    with pytest.raises(ConfigError, match=r"^fault 'kill' takes no fault-specific keys, got 'x'$"):
        step_from_cli("kill", "parser", params=["x=1"])


def test_catalogue_lists_targets_keys_and_timing() -> None:
    by_name = {f["name"]: f for f in catalogue()}
    assert by_name["throttle"]["targets"][0] == "frontend/queue.send"
    assert "pod-worker/store.put" in by_name["latency"]["targets"]
    assert by_name["latency"]["params"] == ["ms=number (required): milliseconds added to each "
                                            "affected call"]
    assert by_name["pause"]["timing"] == "duration required"
    assert by_name["poison"]["one_instance"] is False
    assert by_name["crash-after-store"]["probability_per"] == "batch"


@pytest.mark.parametrize("name", CHAOS_SCENARIOS)
def test_chaos_scenarios_parse_and_stay_short(name: str) -> None:
    scenario = load_scenario(name)
    assert scenario.name == name
    assert scenario.chaos, "a chaos scenario schedules at least one fault"
    assert scenario.swarm_seconds <= 40
    assert 200 <= scenario.load.evacuees <= 2000
    for s in scenario.chaos:
        validate_step(s)
        assert s.at_s < scenario.swarm_seconds, "every fault starts while evacuees arrive"


def test_a_bad_chaos_table_names_file_table_and_problem() -> None:
    data = {"name": "x", "chaos": [{"at": "1s", "fault": "kill", "target": "parser"},
                                   {"at": "2s", "fault": "latency",
                                    "target": "pod-worker/store.put", "ms": -3}]}
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data, "x.toml")
    assert str(err.value) == "x.toml: chaos[1]: fault 'latency': ms must be at least 1, got -3"

"""Which scenarios a web-UI session offers, and what its start page shows for each.

Written into the session's ``session.json`` by :mod:`exodus2045.scenarios.web_run` for the
swarm layer's console to show (it cannot parse scenario files itself: scenarios sit above it).
For each bundled scenario: its ``[load]`` (the start form's values), its chaos timeline in
words, its ``[slo]``, and -- when the session runs its own stack -- a refusal if its
``[stack]`` differs from the stack already running (another stack is another
``exodus run NAME --web``). An attached stack (``--state-dir``/``--target``) is not ours to
shape, so there no scenario is refused for its ``[stack]``.
"""

from __future__ import annotations

from typing import Any

from exodus2045.app_under_test.errors import ConfigError
from exodus2045.scenarios.scenario import Scenario, StackSpec, available, load_scenario


def stack_text(stack: StackSpec) -> str:
    flaws = ", ".join(sorted(stack.flaws)) or "none"
    return (f"frontends={stack.frontends} parsers={stack.parsers} "
            f"pod_workers={stack.pod_workers} flaws={flaws}")


def chaos_lines(scenario: Scenario) -> list[str]:
    """The chaos timeline in words, one step a line, in time order."""
    lines = []
    for step in sorted(scenario.chaos, key=lambda s: s.at_s):
        text = f"at {step.at_s:g}s: {step.fault} {step.target}"
        if step.duration_s is not None:
            text += f" for {step.duration_s:g}s"
        if step.every_s is not None:
            text += f", every {step.every_s:g}s"
        if step.probability < 1:
            text += f", probability {step.probability:g}"
        if step.params:
            text += " (" + ", ".join(f"{k}={v}" for k, v in sorted(step.params.items())) + ")"
        lines.append(text)
    return lines


def describe(scenario: Scenario, running: StackSpec | None) -> dict[str, Any]:
    load = scenario.load
    refused = None
    if running is not None and scenario.stack != running:
        refused = (f"its [stack] ({stack_text(scenario.stack)}) differs from the stack this "
                   f"session runs ({stack_text(running)}); start it with "
                   f"`exodus run {scenario.name} --web`")
    return {
        "description": scenario.description,
        "load": {"evacuees": load.evacuees, "arrival_rate": load.arrival_rate,
                 "stages": [{"duration_s": s.duration_s, "rate": s.rate} for s in load.stages],
                 "max_in_flight": load.max_in_flight, "mars_share": load.mars_share,
                 "infiltrator_share": load.infiltrator_share},
        "chaos": chaos_lines(scenario),
        "slo": dict(vars(scenario.slo)),
        "refused": refused,
    }


def offer(base: Scenario, *, own_stack: bool) -> dict[str, dict[str, Any]]:
    """name -> what the start page shows; the command line's scenario (with its overrides)
    under its own name, then every other bundled scenario."""
    running = base.stack if own_stack else None
    out = {base.name: describe(base, running)}
    for name in available():
        if name in out:
            continue
        try:
            out[name] = describe(load_scenario(name), running)
        except ConfigError as exc:  # a broken bundled file is refused, not a crash
            out[name] = {"description": "", "load": {}, "chaos": [], "slo": {},
                         "refused": f"the scenario file is wrong: {exc}"}
    return out

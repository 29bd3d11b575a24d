"""One load model: a scenario file, `exodus run` overrides and the web UI form obey one rule set."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from exodus2045.app_under_test.errors import ConfigError
from exodus2045.locustfiles.arrivals import Stage
from exodus2045.locustfiles.load import Load, flag
from exodus2045.locustfiles.options import SwarmOptions


def test_a_sound_load_has_no_problems():
    assert Load().problems() == []
    assert Load(arrival_rate=None, stages=(Stage(5.0, 10.0), Stage(5.0, 0.0))).problems() == []


def test_every_problem_is_listed_not_just_the_first():
    load = Load(evacuees=0, arrival_rate=0.0, max_in_flight=0, mars_share=2.0,
                infiltrator_share=-1.0)
    assert [key for key, _ in load.problems()] == [
        "evacuees", "arrival_rate", "max_in_flight", "mars_share", "infiltrator_share"]


def test_stages_replace_the_rate_and_a_new_rate_replaces_the_stages():
    staged = Load(arrival_rate=None, stages=(Stage(5.0, 10.0),))
    assert staged.swarm_seconds == 5.0
    assert staged.with_overrides(arrival_rate=50.0).stages == ()
    assert Load(stages=(Stage(5.0, 10.0),)).problems()[0][0] == "arrival_rate"  # both given
    assert ("stages", "every stage has rate 0: nobody would ever arrive") in Load(
        arrival_rate=None, stages=(Stage(5.0, 0.0),)).problems()


def test_the_web_ui_form_is_held_to_the_same_rules():
    """GIVEN the start form with an arrival rate of 0 (it arrives as strings)
    WHEN the swarm reads its options THEN it refuses, naming the flag, before anyone starts."""
    form = SimpleNamespace(evacuees="100", mars_share="0.5", infiltrator_share="0.1",
                           arrival_rate="0", seed="", exodus_stages=None)
    with pytest.raises(ConfigError, match="--arrival-rate: must be more than 0"):
        SwarmOptions.from_parsed(form)
    form.arrival_rate = "20"
    assert SwarmOptions.from_parsed(form).evacuees == 100
    assert flag("infiltrator_share") == "--infiltrator-share"


def test_a_scenario_that_is_not_bundled_is_recorded_by_its_own_name():
    """GIVEN a team's own scenario (or a capacity step of one) WHEN the swarm is started for
    it THEN swarm.json names it, not the default the bundled dropdown falls back to."""
    from dataclasses import replace

    from exodus2045.scenarios.scenario import load_scenario
    from exodus2045.scenarios.swarm_process import load_options

    team = replace(load_scenario("smoke"), name="team-checkout")
    argv = load_options(team)
    assert "--scenario" not in argv
    assert argv[argv.index("--scenario-name") + 1] == "team-checkout"
    parsed = SimpleNamespace(scenario="smoke", scenario_name="team-checkout", evacuees=10,
                             mars_share=0.5, infiltrator_share=0.1, arrival_rate=10.0)
    assert SwarmOptions.from_parsed(parsed).scenario == "team-checkout"
    bundled = load_options(load_scenario("parser-outage"))
    assert bundled[bundled.index("--scenario") + 1] == "parser-outage"

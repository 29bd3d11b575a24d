"""What the runner does after the swarm, on a real (small) run in this process: the charts'
draft comes from a forked child beside the judge, and the heap frozen for the audit phase is
the collector's again once the run is over (``--find-capacity`` runs many in one process)."""

from __future__ import annotations

import gc
import os
from dataclasses import replace
from pathlib import Path

import pytest

from exodus2045.scenarios.runner import RunOptions, run_scenario
from exodus2045.scenarios.scenario import load_scenario


@pytest.mark.skipif(not hasattr(os, "fork"), reason="drafting beside the judge needs os.fork")
def test_a_run_drafts_beside_the_judge_and_thaws_the_heap(tmp_path: Path) -> None:
    smoke = load_scenario("smoke")
    scenario = replace(smoke, load=replace(smoke.load, evacuees=80, arrival_rate=80.0))
    assert gc.get_freeze_count() == 0
    result = run_scenario(RunOptions(scenario, out=tmp_path / "run"))
    assert result.verdict.outcome == "sound", result.verdict
    assert result.phases["draft_beside_s"] > 0  # the child's draft was the one rendered
    assert result.phases["draft_peak_rss_mb"] > 0
    assert (tmp_path / "run" / "report.html").is_file()
    assert gc.get_freeze_count() == 0  # nothing left out of the collector's reach

"""Golden files: the crafted folder renders to exactly these bytes.

A renderer change that alters output shows up here as a diff to review. To accept it:
``UPDATE_GOLDEN=1 python -m pytest tests/test_render_golden.py`` rewrites tests/golden/,
then read the diff before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from exodus2045.reports.render import render_all
from tests.golden_folder import GOLDEN_FAILURE_MODES, make_golden_folder

GOLDEN = Path(__file__).parent / "golden"
FILES = ("report.html", "summary.md", "junit.xml", "verdict.json")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = make_golden_folder(tmp_path_factory.mktemp("golden"))
    render_all(run_dir, failure_modes=GOLDEN_FAILURE_MODES)
    return run_dir


@pytest.mark.parametrize("name", FILES)
def test_matches_golden(rendered: Path, name: str):
    actual = (rendered / name).read_text(encoding="utf-8")
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(actual, encoding="utf-8", newline="\n")
    assert golden.is_file(), f"{golden} missing: run with UPDATE_GOLDEN=1 to create it"
    assert actual == golden.read_text(encoding="utf-8"), (
        f"{name} differs from {golden}; if the change is intended, rerun with UPDATE_GOLDEN=1"
    )


def test_the_audits_reading_renders_the_same_bytes(tmp_path: Path):
    """The runner hands render_all the RunData the audit read (one reading of a 65k folder,
    not two); the reports, FMEA included, must be exactly those of a fresh reading."""
    from exodus2045.reports.audit import audit_data, audit_run
    from exodus2045.reports.runfolder import RunData

    fresh = make_golden_folder(tmp_path / "fresh")
    reused = make_golden_folder(tmp_path / "reused")
    render_all(fresh, verdict=audit_run(fresh))
    data = RunData.load(reused)
    render_all(reused, verdict=audit_data(data), run=data)
    for name in FILES:
        assert (reused / name).read_bytes() == (fresh / name).read_bytes(), name

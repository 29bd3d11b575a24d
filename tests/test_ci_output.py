"""``exodus run`` on GitHub Actions: the step summary and ``::error`` annotations."""

from __future__ import annotations

import io
import subprocess
import sys

from exodus2045.reports.verdict import CheckResult, Verdict
from exodus2045.scenarios.ci_output import annotations, report_to_ci


def verdict(*checks: CheckResult, allow_partial: bool = False) -> Verdict:
    return Verdict.judge(run_id="r-1", scenario="smoke", seed=1, interrupted=False,
                         checks=list(checks), figures={}, complete=True,
                         allow_partial=allow_partial)


def test_failed_checks_become_escaped_error_annotations(tmp_path):
    v = verdict(CheckResult.judge("exactly-once", False, "2 lost\n::error::forged 100%"),
                CheckResult.judge("tally", True, "fine"))
    lines = annotations(v)
    assert lines[0] == ("::error title=exodus smoke%3A exactly-once::"
                        "2 lost%0A::error::forged 100%25")
    assert len([x for x in lines if "tally" in x]) == 0
    (tmp_path / "summary.md").write_text("# UNSOUND\n")
    step = tmp_path / "step.md"
    step.write_text("earlier step\n")
    out = io.StringIO()
    report_to_ci(v, tmp_path, {"GITHUB_STEP_SUMMARY": str(step), "GITHUB_ACTIONS": "true"}, out)
    assert step.read_text() == "earlier step\n# UNSOUND\n\n"
    assert out.getvalue().startswith("::error title=exodus smoke%3A exactly-once::")
    quiet = io.StringIO()
    report_to_ci(v, tmp_path, {}, quiet)  # not on Actions: nothing printed, nothing written
    assert quiet.getvalue() == "" and step.read_text().count("UNSOUND") == 1


def test_unproven_is_an_error_unless_partial_was_allowed():
    skipped = CheckResult.skip("exactly-once", "no listing")
    assert annotations(verdict(skipped))[-1].startswith("::error ")
    assert "core checks not judged: exactly-once" in annotations(verdict(skipped))[-1]
    assert annotations(verdict(skipped, allow_partial=True))[-1].startswith("::warning ")


def test_could_not_run_is_annotated_on_actions(tmp_path):
    env = {"GITHUB_ACTIONS": "true", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "exodus2045.scenarios.cli", "run", "smoke",
                             "--target", "http://127.0.0.1:1", "--runs-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 2
    assert result.stdout.startswith("::error title=exodus run%3A could not run::target "
                                    "http://127.0.0.1:1 could not be reached")

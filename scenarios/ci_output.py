"""What ``exodus run`` tells a CI job besides its exit code: the step summary and annotations.

On GitHub Actions a run reads like a test run without any glue in the workflow: when
``$GITHUB_STEP_SUMMARY`` names a file, the run's ``summary.md`` is appended to it (the job's
summary page), and with ``GITHUB_ACTIONS=true`` every failed check becomes an ``::error``
annotation, plus one for a verdict that is unproven or could not run. Annotation text is
escaped as the workflow-command syntax requires (``%``, CR, LF, and ``:``/``,`` in
properties), so no payload quoted in a summary can inject a workflow command.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from exodus2045.reports.verdict import Verdict

ENV_SUMMARY = "GITHUB_STEP_SUMMARY"
ENV_ACTIONS = "GITHUB_ACTIONS"


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def annotations(verdict: Verdict) -> list[str]:
    """``::error`` lines for each failed check, and for an outcome that is not a pass
    (``::warning`` for an unproven run that ``--allow-partial`` let exit 0)."""
    lines = [f"::error title={_prop(f'exodus {verdict.scenario}: {c.id}')}::{_data(c.summary)}"
             for c in verdict.checks if c.status == "failed"]
    if verdict.outcome in ("unproven", "interrupted", "error"):
        unjudged = ", ".join(verdict.unjudged or ()) or "-"
        level = "warning" if verdict.exit_code == 0 else "error"  # PARTIAL was allowed
        lines.append(f"::{level} title={_prop(f'exodus {verdict.scenario}: {verdict.headline}')}"
                     f"::{_data(f'{verdict.headline}: core checks not judged: {unjudged}')}")
    return lines


def report_to_ci(verdict: Verdict, run_dir: Path, env: Mapping[str, str], out: TextIO) -> None:
    """Append summary.md to the step summary and print annotations, where the CI asks."""
    summary = env.get(ENV_SUMMARY)
    md = run_dir / "summary.md"
    if summary and md.is_file():
        with open(summary, "a", encoding="utf-8") as f:
            f.write(md.read_text(encoding="utf-8").rstrip("\n") + "\n\n")
    if env.get(ENV_ACTIONS) == "true":
        for line in annotations(verdict):
            print(line, file=out)


def could_not_run(command: str, why: str, env: Mapping[str, str], out: TextIO) -> None:
    """The annotation for a run that never produced a verdict (exit 2)."""
    if env.get(ENV_ACTIONS) == "true":
        print(f"::error title={_prop(f'exodus {command}: could not run')}::{_data(why)}",
              file=out)

"""Ctrl-C in a web-UI session with a run in hand: a verdict already written is final.

Seen in CI: the Ctrl-C that closes the session arrived while a SOUND run's verdict table was
being printed; the session judged that run a second time, over evidence it had closed, and
exited 1 with a traceback instead of the verdict's 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from exodus2045.locustfiles.outcome import EXIT_COULD_NOT_RUN
from exodus2045.reports.check_result import CheckResult
from exodus2045.reports.verdict import Verdict
from exodus2045.scenarios.web_run import _close_under_ctrl_c


class JudgeInHand:
    """A run of the session as ``_close_under_ctrl_c`` sees it: its verdict, if judged."""

    def __init__(self, tmp_path: Path, verdict: Verdict | None) -> None:
        self.run_id, self.run_dir, self.verdict = "r-1", tmp_path, verdict
        self.finished_with: list[bool] = []

    def finish(self, *, interrupted: bool = False) -> Verdict:
        self.finished_with.append(interrupted)
        self.verdict = Verdict.judge(self.run_id, "smoke", 1, interrupted, [], registry=())
        return self.verdict


def sound() -> Verdict:
    return Verdict.judge("r-1", "smoke", 1, False,
                         [CheckResult(id="exactly-once", status="passed", summary="ok")],
                         registry=("exactly-once",))


def test_a_judged_run_keeps_its_verdict_and_is_never_judged_again(tmp_path: Path) -> None:
    judge: Any = JudgeInHand(tmp_path, sound())
    assert _close_under_ctrl_c(judge, tmp_path, lambda _m: None) == 0
    assert judge.finished_with == []


def test_a_run_not_yet_judged_is_written_interrupted_and_exits_2(tmp_path: Path) -> None:
    judge: Any = JudgeInHand(tmp_path, None)
    said: list[str] = []
    assert _close_under_ctrl_c(judge, tmp_path, said.append) == EXIT_COULD_NOT_RUN
    assert judge.finished_with == [True]
    assert judge.verdict.outcome == "interrupted"

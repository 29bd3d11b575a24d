"""The one exit-code table and the headline word, and that every process uses them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from exodus2045.locustfiles.outcome import EXIT_CODES, OUTCOMES, exit_code, headline

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("outcome", "allow_partial", "code", "word"),
    [
        ("sound", False, 0, "SOUND"),
        ("sound", True, 0, "SOUND"),
        ("unsound", False, 1, "UNSOUND"),
        ("unsound", True, 1, "UNSOUND"),
        ("unproven", False, 1, "UNPROVEN"),
        ("unproven", True, 0, "PARTIAL"),
        ("interrupted", False, 2, "INTERRUPTED"),
        ("interrupted", True, 2, "INTERRUPTED"),
        ("error", False, 2, "ERROR"),
        ("error", True, 2, "ERROR"),
        ("made-up", False, 2, "ERROR"),  # an outcome nobody decided could not have been judged
    ],
)
def test_the_table(outcome: str, allow_partial: bool, code: int, word: str):
    assert exit_code(outcome, allow_partial) == code
    assert headline(outcome, allow_partial) == word


def test_every_outcome_has_a_code():
    assert set(EXIT_CODES) == set(OUTCOMES)


def test_no_other_module_defines_exit_codes():
    """The table lives once: no EXIT_* constant is assigned anywhere else in the toolkit."""
    owners = []
    for folder in ("locustfiles", "scenarios", "reports"):
        for path in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                targets = node.targets if isinstance(node, ast.Assign) else []
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                names += [e.id for t in targets if isinstance(t, ast.Tuple)
                          for e in t.elts if isinstance(e, ast.Name)]
                if any(name.startswith("EXIT_") for name in names):
                    owners.append(path.relative_to(REPO).as_posix())
    assert sorted(set(owners)) == ["locustfiles/outcome.py"]


def test_allow_partial_reaches_the_run_options():
    """`exodus run --allow-partial` -> RunOptions -> run.json -> the verdict (test_audit)."""
    from exodus2045.scenarios.cli import build_parser
    from exodus2045.scenarios.commands.run import options_from

    parser = build_parser()
    plain = parser.parse_args(["run", "smoke"])
    allowed = parser.parse_args(["run", "smoke", "--allow-partial"])
    assert options_from(plain, plain.scenario).allow_partial is False
    assert options_from(allowed, allowed.scenario).allow_partial is True

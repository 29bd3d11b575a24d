"""The audit's own markup policy agrees with the pipeline's normaliser, without importing it.

The audit must not borrow the pipeline's normaliser (an import-linter contract forbids it);
this test, outside both, is where the two statements of one contract are held together.
"""

from __future__ import annotations

import ast
import unicodedata
from pathlib import Path

import pytest

from exodus2045.app_under_test.wish import clean_destination, has_markup, normalise_text
from exodus2045.reports import markup_policy as policy

REPO = Path(__file__).resolve().parents[1]
TEXTS = [
    "plain", "Cafe\u0301", "Zoe\u0308 and A\u030a", "\u1e9b\u0323", "한국어", "\u0915\u093c",
    "tab\tnew\nline", "cr\r\nlf", "bell\x07 nul\x00 del\x7f c1\x85\x9f", "e\x00\u0301",
    "<b>bold</b>", "&amp;", "a < b > c", "fullwidth \uff21", "zero\u200bwidth", "  padded  ",
]


@pytest.mark.parametrize("text", TEXTS)
def test_the_audit_expects_what_the_pipeline_stores(text: str):
    assert policy.expected_text(text) == normalise_text(text)
    assert policy.expected_evacuee(text) == normalise_text(text).strip()
    assert policy.has_markup(text) == has_markup(text)


def test_destinations_and_nfc_order():
    assert policy.expected_destination(" Mars ") == clean_destination(" Mars ") == "mars"
    # NFC first, then controls: a control between a letter and its accent blocks composition.
    assert policy.expected_text("e\x00\u0301") == "e\u0301"
    assert policy.expected_text("e\u0301") == unicodedata.normalize("NFC", "e\u0301") == "\u00e9"


def test_reports_never_import_the_pipelines_wish_module():
    """The import-linter contract says it too; this keeps it true where lint-imports is not run."""
    offenders = []
    for path in (REPO / "reports").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            if any(n.endswith("app_under_test.wish") for n in names):
                offenders.append(path.relative_to(REPO).as_posix())
    assert offenders == []

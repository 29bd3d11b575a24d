"""What an exodus costs on AWS (reports/costs.py): the arithmetic, the dated price file, the
figure every run's verdict and summary carry, and README's 65k table from the same code."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from exodus2045.reports.audit import audit_run
from exodus2045.reports.costs import (
    PRICES_FILE,
    Usage,
    arithmetic_markdown,
    cost,
    load_prices,
    usage,
)
from exodus2045.reports.render import render_all
from tests.runfolder_factory import make_run_folder

README = Path(__file__).parent.parent / "README.md"


def test_prices_are_dated_and_sourced():
    data = json.loads(PRICES_FILE.read_text())
    assert date.fromisoformat(data["as_of"]) <= date.today()
    assert all(url.startswith("https://aws.amazon.com/") for url in data["sources"])
    assert load_prices().sqs_standard_per_million_requests > 0


def test_one_wish_in_requests_and_dollars():
    used = usage(10)  # one batch: 10 sends + receive/delete x 2 + the parser's one send
    assert used == Usage(sqs_requests=15, lambda_requests=2, lambda_gb_s=0.075,
                         dynamodb_wru=60, dynamodb_rru=0)
    p = load_prices()
    priced = cost(used, p)
    assert priced["sqs_usd"] == pytest.approx(15 / 1e6 * p.sqs_standard_per_million_requests,
                                              abs=1e-6)
    assert priced["total_usd"] == pytest.approx(
        priced["sqs_usd"] + priced["lambda_usd"] + priced["dynamodb_usd"], abs=1e-6)
    assert usage(10, seconds=20).sqs_requests == 15 + 10  # 2 mappings x 5 pollers, one poll
    assert usage(0, dead_letters=2).sqs_requests == 10  # received up to maxReceiveCount


def test_readme_65k_arithmetic_is_this_code():
    table = arithmetic_markdown(65_000)
    assert table in README.read_text(), "README 'On AWS' must carry arithmetic_markdown(65000)"


def test_every_run_shows_what_it_would_cost(tmp_path):
    run_dir = make_run_folder(tmp_path)
    verdict = audit_run(run_dir)
    figure = verdict.figures["aws_cost"]
    acked = verdict.figures["counts"]["acknowledged"]
    assert figure["usage"]["dynamodb_wru"] == 6 * acked
    assert figure["prices_as_of"] == load_prices().as_of and figure["total_usd"] > 0
    verdict.save(run_dir)
    render_all(run_dir, verdict=verdict)
    summary = (run_dir / "summary.md").read_text()
    assert f"What this exodus would cost on AWS: ${figure['total_usd']:.4f}" in summary
    assert "aws_cost" in (run_dir / "report.html").read_text()

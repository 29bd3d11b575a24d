"""What an exodus costs on AWS: the run's own counts, a request model, dated list prices.

The 2019 talk sold the pipeline as "lean and green"; this makes the claim a number. Prices
live in one dated data file (``reports/data/aws-prices.json``: on-demand, one region, free
tiers ignored); every cost figure names the date it used. The request model below says what
one wish costs in requests, from how the reference pipeline on AWS works
(app_under_test/backends/aws/: the frontend's intake, the two event source mappings, the
store's one TransactWriteItems). It is an estimate from the run's counts, not a bill: on a
deployed stack, CloudWatch's request metrics are the real numbers; CloudWatch Logs, KMS
requests and data transfer are not counted.

Per acknowledged wish (the model's defaults; batch size and memory as the template's):

- SQS: 1 send by the frontend (at worst one request per wish: its batches grow with load),
  then per batch of ``batch_size`` one receive and one delete for each function, and one
  send by the parser; plus the event source mappings' long polls while the run lasts
  (``pollers`` per mapping, one request per ``long_poll_s``); plus, per dead letter, its
  receives up to ``max_receive_count``.
- Lambda: one invocation per batch per function; GB-seconds from the functions' memory and
  an assumed duration per invocation.
- DynamoDB (on-demand): the frontend's claim (1 WRU) and its "queued" mark (1 WRU); the
  pod worker's transaction, which AWS bills at twice the units: a put of a wish under 1 KB
  (2 WRU) and the tally's update (2 WRU). Reads: none on the pipeline's path.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any

PRICES_FILE = Path(__file__).with_name("data") / "aws-prices.json"
MILLION = 1_000_000


@dataclass(frozen=True)
class Prices:
    as_of: str
    region: str
    sqs_standard_per_million_requests: float
    lambda_per_million_requests: float
    lambda_per_gb_second_x86: float
    dynamodb_on_demand_per_million_wru: float
    dynamodb_on_demand_per_million_rru: float


@cache
def load_prices(path: Path = PRICES_FILE) -> Prices:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return Prices(**{f.name: data[f.name] for f in fields(Prices)})


@dataclass(frozen=True)
class CostModel:
    """How many requests one wish makes on the reference pipeline on AWS."""

    batch_size: int = 10  # the event source mappings' (template BatchSize)
    memory_mb: int = 256  # each function's (template MemorySize)
    parser_ms: float = 100.0  # assumed duration of one parser invocation
    pod_worker_ms: float = 200.0  # one pod-worker invocation (ten transactions)
    pollers: int = 5  # long-polling pollers per event source mapping (Lambda's minimum)
    long_poll_s: float = 20.0
    max_receive_count: int = 5


@dataclass(frozen=True)
class Usage:
    sqs_requests: float
    lambda_requests: float
    lambda_gb_s: float
    dynamodb_wru: float
    dynamodb_rru: float


def usage(wishes: int, *, seconds: float = 0.0, dead_letters: int = 0,
          model: CostModel = CostModel()) -> Usage:
    """What ``wishes`` acknowledged wishes use, for a run that lasted ``seconds``."""
    batches = math.ceil(wishes / model.batch_size)
    polls = 2 * model.pollers * seconds / model.long_poll_s
    sqs = wishes + 5 * batches + polls + dead_letters * model.max_receive_count
    gb_s = batches * (model.parser_ms + model.pod_worker_ms) / 1000 * model.memory_mb / 1024
    return Usage(sqs_requests=sqs, lambda_requests=2 * batches, lambda_gb_s=gb_s,
                 dynamodb_wru=6 * wishes, dynamodb_rru=0)


def cost(used: Usage, prices: Prices | None = None) -> dict[str, Any]:
    """Dollars per service and in total, with the prices' date and region."""
    p = prices or load_prices()
    lines = {
        "sqs_usd": used.sqs_requests / MILLION * p.sqs_standard_per_million_requests,
        "lambda_usd": used.lambda_requests / MILLION * p.lambda_per_million_requests
        + used.lambda_gb_s * p.lambda_per_gb_second_x86,
        "dynamodb_usd": used.dynamodb_wru / MILLION * p.dynamodb_on_demand_per_million_wru
        + used.dynamodb_rru / MILLION * p.dynamodb_on_demand_per_million_rru,
    }
    total = sum(lines.values())
    return {"total_usd": _round(total), **{k: _round(v) for k, v in lines.items()},
            "usage": {k: round(v, 3) for k, v in asdict(used).items()},
            "prices_as_of": p.as_of, "region": p.region}


def _round(usd: float) -> float:
    """Six decimals: a short run costs fractions of a cent, and they should still show."""
    return round(usd, 6)


def run_cost(acknowledged: int, seconds: float | None, dead_letters: int | None) -> dict[str, Any]:
    """The figure every run's verdict carries (``figures.aws_cost``)."""
    return cost(usage(acknowledged, seconds=seconds or 0.0, dead_letters=dead_letters or 0))


def _price(value: float) -> str:
    return f"{value:.10f}".rstrip("0").rstrip(".")


def arithmetic_markdown(wishes: int, seconds: float = 0.0) -> str:
    """The cost of ``wishes`` as a table with its arithmetic (README "On AWS" is this)."""
    p, used = load_prices(), usage(wishes, seconds=seconds)
    m = CostModel()
    total = cost(used, p)
    rows = [
        ("SQS requests", f"{used.sqs_requests:,.0f}",
         f"{used.sqs_requests:,.0f} / 1M x ${p.sqs_standard_per_million_requests}",
         total["sqs_usd"]),
        ("Lambda requests + GB-s", f"{used.lambda_requests:,.0f} + {used.lambda_gb_s:,.1f} GB-s",
         f"{used.lambda_requests:,.0f} / 1M x ${p.lambda_per_million_requests} + "
         f"{used.lambda_gb_s:,.1f} x ${_price(p.lambda_per_gb_second_x86)}",
         total["lambda_usd"]),
        ("DynamoDB write units", f"{used.dynamodb_wru:,.0f}",
         f"{used.dynamodb_wru:,.0f} / 1M x ${p.dynamodb_on_demand_per_million_wru}",
         total["dynamodb_usd"]),
    ]
    out = [f"| {wishes:,} wishes | used | arithmetic | USD |", "|---|---:|---|---:|"]
    out += [f"| {a} | {b} | {c} | {d:.4f} |" for a, b, c, d in rows]
    out.append(f"| **total** | | | **{total['total_usd']:.4f}** |")
    out.append("")
    out.append(f"Prices: {p.region} on-demand as of {p.as_of} (reports/data/aws-prices.json); "
               f"batch {m.batch_size}, {m.memory_mb} MB, {m.parser_ms:g} + "
               f"{m.pod_worker_ms:g} ms per batch assumed; model in reports/costs.py.")
    return "\n".join(out)

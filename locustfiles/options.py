"""The swarm's command-line options, and the frozen settings a run reads from them.

Locust shows options registered in ``init_command_line_parser`` on its web UI start form and
ships them to workers when a test starts, so these options are the one way a presenter, CI and
the ``exodus`` runner all configure the swarm. The web UI hands values back as strings or
keeps the type of the default, so :meth:`SwarmOptions.from_parsed` coerces everything once.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exodus2045.app_under_test.errors import ConfigError
from exodus2045.locustfiles.arrivals import ArrivalSchedule, parse_stages
from exodus2045.locustfiles.load import Load, flag

SCENARIOS_DIR = Path(__file__).resolve().parent.parent / "scenarios"
DEFAULT_SCENARIO = "smoke"


def scenario_names(folder: Path = SCENARIOS_DIR) -> list[str]:
    """Names of ``scenarios/*.toml`` (plus the default), for the web UI's dropdown."""
    names = sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []
    if names and DEFAULT_SCENARIO not in names:
        names.insert(0, DEFAULT_SCENARIO)
    return names


def add_arguments(parser: Any) -> None:
    """Register the swarm's options on Locust's argument parser."""
    group = parser  # not an argument group: only the parser itself knows include_in_web_ui
    choices = scenario_names() or None
    group.add_argument(
        "--scenario", default=DEFAULT_SCENARIO, choices=choices,
        help="scenario name (scenarios/<name>.toml); recorded with the run",
    )  # fmt: skip
    group.add_argument("--evacuees", type=int, default=500, help="evacuees in total, one wish each")
    group.add_argument(
        "--mars-share", type=float, default=0.6, help="share of evacuees bound for Mars (0-1)"
    )
    group.add_argument(
        "--infiltrator-share", type=float, default=0.05,
        help="share of evacuees who are infiltrators sending malicious input (0-1)",
    )  # fmt: skip
    hidden = {"include_in_web_ui": False}
    group.add_argument(
        "--arrival-rate", type=float, default=100.0,
        help="evacuees arriving per second (open model)", **hidden,
    )  # fmt: skip
    group.add_argument("--run-id", default=None, help="run id (minted if absent)", **hidden)
    group.add_argument(
        "--ledger", default="ledger.jsonl",
        help="where the ledger goes; swarm.json is written next to it", **hidden,
    )  # fmt: skip
    group.add_argument(
        "--scenario-name", default=None,
        help="the name a run records when its scenario is not a bundled one (--scenario "
             "offers only those)", **hidden,
    )  # fmt: skip
    group.add_argument("--seed", default=None, help="seed for payloads and names", **hidden)
    group.add_argument(
        "--exodus-stages", default=None,
        help='arrival stages as JSON, e.g. [{"duration_s": 10, "rate": 50}]', **hidden,
    )  # fmt: skip


def mint_run_id(now: float | None = None) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    return f"r-{stamp}-{secrets.token_hex(2)}"


@dataclass(frozen=True)
class SwarmOptions:
    """What one run of the swarm was asked to do (``run_id``/``seed`` None = mint one)."""

    scenario: str = DEFAULT_SCENARIO
    evacuees: int = 500
    mars_share: float = 0.6
    infiltrator_share: float = 0.05
    schedule: ArrivalSchedule = ArrivalSchedule()
    run_id: str | None = None
    seed: int | None = None
    ledger: Path = Path("ledger.jsonl")

    @classmethod
    def from_parsed(cls, opts: Any) -> SwarmOptions:
        get = lambda name, default=None: getattr(opts, name, default)  # noqa: E731
        try:
            evacuees = int(get("evacuees", 500))
            mars = float(get("mars_share", 0.6))
            infiltrators = float(get("infiltrator_share", 0.05))
            rate = float(get("arrival_rate", 100.0))
            seed = get("seed")
            seed = None if seed in (None, "") else int(seed)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"swarm option is not a number: {exc}") from None
        stages = parse_stages(get("exodus_stages"))
        Load(evacuees=evacuees, arrival_rate=None if stages else rate, stages=stages,
             mars_share=mars, infiltrator_share=infiltrators).checked(flag)
        return cls(
            scenario=str(get("scenario_name") or get("scenario") or DEFAULT_SCENARIO),
            evacuees=evacuees,
            mars_share=mars,
            infiltrator_share=infiltrators,
            schedule=ArrivalSchedule(rate=rate, stages=stages),
            run_id=get("run_id") or None,
            seed=seed,
            ledger=Path(get("ledger") or "ledger.jsonl"),
        )

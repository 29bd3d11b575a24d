"""The one duration grammar: units always, Locust's compound forms too, a bare number never."""

from __future__ import annotations

import pytest

from exodus2045.app_under_test.errors import ConfigError
from exodus2045.chaos.durations import DurationError, format_duration, parse_duration
from exodus2045.scenarios.scenario import parse_scenario

VALID = [
    ("500ms", 0.5), ("20s", 20.0), ("2m", 120.0), ("1h", 3600.0), ("0s", 0.0), ("1.5s", 1.5),
    ("0.25m", 15.0), ("1h30m", 5400.0), ("2m30s", 150.0), ("1h2m3s", 3723.0),
    ("1s500ms", 1.5), ("1h5s", 3605.0), (" 20s ", 20.0),
]
INVALID = [
    20, 2.5, 0, -2, "20", " 20 ", "2.5", "-2",  # bare numbers: a unit is never implied
    True, None, [20], "", "s", "ms", "fast", "5 minutes", "1 s", "1h 30m", "-1s", "2M",
    "1d", ".5s", "1.s", "1m1h", "30s2m", "1s1s", "1ms1s", "20sec",
]


@pytest.mark.parametrize(("text", "seconds"), VALID)
def test_valid_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", INVALID)
def test_invalid_durations_say_what_a_duration_looks_like(bad: object) -> None:
    with pytest.raises(DurationError, match=r"expected a duration like 500ms, 20s, 2m, 1h or 1h30m"):
        parse_duration(bad)


@pytest.mark.parametrize(("bare", "hint"), [(20, "'20s'"), ("20", "'20s'"), (2.5, "'2.5s'")])
def test_a_bare_number_is_told_to_say_its_unit(bare: object, hint: str) -> None:
    with pytest.raises(DurationError, match="bare number") as err:
        parse_duration(bare)
    assert str(err.value).endswith(f"say the unit, e.g. {hint}")


def test_a_duration_error_is_a_config_error() -> None:
    """So every caller's one-line-and-exit-2 path (CLI, scenario files) handles it."""
    assert issubclass(DurationError, ConfigError)


@pytest.mark.parametrize("seconds", [0.5, 20, 90, 120, 150, 3600])
def test_format_duration_reads_back(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("key", ["warmup", "drain_within", "recover_within"])
def test_scenario_files_take_compound_forms(key: str) -> None:
    scenario = parse_scenario({"name": "x", "slo": {key: "1h30m"}}, "x.toml")
    assert getattr(scenario.slo, f"{key}_s") == 5400.0

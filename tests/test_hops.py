"""Where the time went: the audit's per-hop breakdown and its attribution per fault window.

The crafted folder models a parser outage (tests/runfolder_factory.py): wishes accepted
while the parser is down wait in the wishes queue until it is back. The breakdown must put
that time in queue wait 1, and the rendered report must say so in words and pictures.
"""

from __future__ import annotations

from pathlib import Path

from selectolax.lexbor import LexborHTMLParser

from exodus2045.reports.formats import Window
from exodus2045.reports.hops import HOPS, breakdown, hop_durations, seconds
from exodus2045.reports.render import build_context, render_all
from tests.golden_folder import GOLDEN_FAILURE_MODES, make_golden_folder


def _wish(n: int, accepted: float, gaps: tuple[float, ...]) -> dict:
    times, at = [accepted], accepted
    for gap in gaps:
        at += gap
        times.append(at)
    keys = ("accepted_at", "enqueued_at", "parse_started_at", "parsed_at", "store_started_at",
            "stored_at")
    return {"wish_id": f"w{n}", "trace_id": f"{n:032x}", **dict(zip(keys, times, strict=True))}


def test_hop_durations_need_every_timestamp_and_clamp_millisecond_jitter() -> None:
    wish = _wish(1, 100.0, (0.01, 0.5, 0.002, 0.3, 0.02))
    hops = hop_durations(wish)
    assert list(hops) == list(HOPS)
    assert all(abs(hops[h] - v) < 1e-9
               for h, v in zip(HOPS, (0.01, 0.5, 0.002, 0.3, 0.02), strict=True))
    assert hop_durations({**wish, "parse_started_at": None}) is None
    jitter = {**wish, "enqueued_at": wish["accepted_at"] - 0.0004}  # SentTimestamp is ms
    assert hop_durations(jitter)["accept"] == 0.0


def test_a_slow_store_inside_a_window_is_attributed_to_the_store_hop() -> None:
    calm = (0.005, 0.05, 0.001, 0.05, 0.01)
    slow_store = (0.005, 0.05, 0.001, 0.06, 0.4)
    wishes = [_wish(n, 1000.0 + n * 0.1, slow_store if 30 <= n < 60 else calm)
              for n in range(100)]
    result = breakdown(wishes, 1000.0, 1.0, [Window(3.0, 6.0, "latency pod-worker/store.put")])
    [window] = result.windows
    assert window.moved == "store" and window.moved_by_s > 0.3
    assert result.wishes == 100 and set(result.overall) == set(HOPS)
    assert abs(result.slowest[0].hops["store"] - 0.4) < 1e-9
    assert "during latency pod-worker/store.put: store +" in result.where()


def test_no_hop_times_is_said_not_guessed() -> None:
    result = breakdown([{"wish_id": "old", "accepted_at": 1.0, "stored_at": 2.0}], 0.0, 1.0, [])
    assert result.wishes == 0 and "carry no hop timestamps" in result.where()
    assert breakdown([], 0.0, 1.0, []).where() == "no per-hop times: nothing was stored"


def test_durations_read_as_a_person_would() -> None:
    assert [seconds(v) for v in (12.34, 2.14, 0.3404, 0.00042, None)] == [
        "12 s", "2.1 s", "340 ms", "0.42 ms", "–"]
    assert seconds(0.25, signed=True) == "+250 ms"


def test_the_parser_outage_shows_in_queue_wait_1_in_every_format(tmp_path: Path) -> None:
    run_dir = make_golden_folder(tmp_path)
    ctx = build_context(run_dir, failure_modes=GOLDEN_FAILURE_MODES)
    assert ctx.hops is not None and ctx.hops.wishes > 0
    [window] = [w for w in ctx.hops.windows if w.label == "kill parser"]
    assert window.moved == "queue_wait_1", window
    assert ctx.tracing == "off"
    render_all(run_dir, failure_modes=GOLDEN_FAILURE_MODES)
    summary = (run_dir / "summary.md").read_text(encoding="utf-8")
    [line] = [x for x in summary.splitlines() if x.startswith("- **where the time went:**")]
    assert "queue wait 1 +" in line and "tracing was off" in line
    page = LexborHTMLParser((run_dir / "report.html").read_text(encoding="utf-8"))
    section = [h for h in page.css("h2") if h.text() == "Where the time went"]
    assert section, "no breakdown section"
    captions = [c.text() for c in page.css("figcaption")]
    assert any("stacked" in c for c in captions) and any("slowest wishes" in c for c in captions)
    fault_rows = [r.text(separator="|") for r in page.css("table tr") if "kill parser" in r.text()]
    assert any("queue wait 1" in r for r in fault_rows), fault_rows

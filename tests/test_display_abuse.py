"""Display abuse on the projector: bidi overrides and zalgo, in a real browser.

Stored text stays exact (the ``content`` contract); the wall and the projector show it with
bidi controls dropped, each wish isolated (``<bdi>``), and combining marks capped, so
``...\\u202egnp.exe\\u202c`` cannot show as "exe.png" and a stack of marks cannot spill over
the line below. Screenshots of both pages land in test-output/screenshots.
"""

from __future__ import annotations

from pathlib import Path

from exodus2045.app_under_test.backends.local import LocalBackend
from exodus2045.app_under_test.frontend.display import MARKS_MAX, for_display
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.reports.browser_launch import open_browser
from tests.browser_fixtures import require_browser
from tests.frontend_fixtures import config_for, running_frontend, stored_wish

REPO = Path(__file__).resolve().parents[1]
SHOTS = REPO / "test-output" / "screenshots"
BIDI = "my holiday photo \u202egnp.exe\u202c please open"
ZALGO = "H" + "\u0301\u0300\u0302\u0303\u0304\u0305\u0306\u0307\u0308\u0309" * 8 + "ello"


def _longest_mark_run(text: str) -> int:
    import unicodedata

    longest = run = 0
    for ch in text:
        run = run + 1 if unicodedata.category(ch) in ("Mn", "Me") else 0
        longest = max(longest, run)
    return longest


def test_for_display_drops_bidi_controls_and_caps_marks() -> None:
    assert for_display(BIDI) == "my holiday photo gnp.exe please open"
    assert _longest_mark_run(for_display(ZALGO)) == MARKS_MAX
    assert for_display("café, naïve, Ελληνικά, עברית") == "café, naïve, Ελληνικά, עברית"
    assert for_display("plain") == "plain"


def test_the_wall_and_projector_neutralise_bidi_and_zalgo_in_a_browser(
    state: StateDir, backend: LocalBackend
) -> None:
    require_browser()
    bidi, zalgo = stored_wish(1, message=BIDI), stored_wish(2, message=ZALGO, evacuee=ZALGO[:60])
    backend.store.put_wishes([bidi, zalgo])
    with running_frontend(config_for(state.root)) as fe, open_browser() as browser:
        stored = fe.client.get(f"/api/wishes/{bidi['wish_id']}").json()
        assert stored["message"] == BIDI, "stored text stays exactly what was sent"
        tab = browser.new_page(viewport={"width": 1100, "height": 900})
        SHOTS.mkdir(parents=True, exist_ok=True)
        for path, shot in (("/wall", "display-abuse-wall.png"),
                           ("/tally", "display-abuse-projector.png")):
            tab.goto(fe.url + path)
            tab.wait_for_selector("li.wish bdi")
            texts = tab.eval_on_selector_all(".message bdi", "els => els.map(e => e.innerText)")
            assert texts, path
            joined = "".join(texts)
            assert "\u202e" not in joined and "\u202c" not in joined, path
            assert "gnp.exe" in joined, "the reversed trick shows as sent, not as exe.png"
            assert _longest_mark_run(joined) <= MARKS_MAX, path
            isolated = tab.eval_on_selector(
                ".message bdi", "e => getComputedStyle(e).unicodeBidi")
            assert isolated == "isolate", path
            tab.screenshot(path=str(SHOTS / shot), full_page=True)
            assert (SHOTS / shot).stat().st_size > 0

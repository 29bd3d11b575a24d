"""The supervisor's ``held`` predicate: is a component held down by a timed ``kill``?

Its own module, apart from :mod:`exodus2045.chaos.runtime` (the hooks that run inside the
components), so the process that supervises a stack -- ``exodus up``, ``exodus run`` --
imports none of the parser's, pod worker's or frontend's code to ask.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from exodus2045.app_under_test.statedir import StateDir
from exodus2045.chaos.source import FileFaultSource
from exodus2045.chaos.targets import Target, parse_target

HOLD_CHECK_EVERY_S = 0.05  # the supervisor looks every 50 ms; a hold should not lag more


def held_down_predicate(state_dir: Path) -> Callable[[str, str], bool]:
    """``held(name, kind)``: True while a ``kill`` with a duration holds that component.

    Cheap enough for every 50 ms per component: one ``stat`` per 50 ms in all, a re-read only
    when ``faults.json`` changed, target strings parsed once.
    """
    source = FileFaultSource(StateDir(Path(state_dir)).faults_file,
                             check_every_s=HOLD_CHECK_EVERY_S)
    targets: dict[str, Target | None] = {}

    def parsed(text: str) -> Target | None:
        if text not in targets:
            try:
                targets[text] = parse_target(text)
            except Exception:  # a bad hand edit holds nothing rather than crash the supervisor
                targets[text] = None
        return targets[text]

    def held(name: str, kind: str) -> bool:
        for entry in source.active():
            if entry.fault == "kill":
                target = parsed(entry.target)
                if target is not None and target.matches(name, kind):
                    return True
        return False

    return held

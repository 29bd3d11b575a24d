"""How a run ends: its outcome, the one exit-code table, and the word a headline shows.

The outcome of a run is decided by the audit (:mod:`exodus2045.reports.verdict` owns the rule
and the shape of ``verdict.json``); this module only names the outcomes and maps each onto a
process exit code, once, for every process that ends with one: the swarm (this layer, the
lowest that needs it), ``exodus run``, ``exodus report`` and the CLI's error path.
docs/architecture.md "Verdict" is the contract:

==============  ====  =========================================================
outcome         exit  meaning
==============  ====  =========================================================
``sound``       0     nothing failed and every core check was judged
``unsound``     1     a check failed
``unproven``    1     nothing failed, but a core check was not judged (or the
                      swarm ended before every evacuee left); exit 0 and the
                      headline PARTIAL when the run allowed a partial verdict
``interrupted`` 2     Ctrl-C: what there was is written, nothing is proven
``error``       2     the run could not be judged at all
==============  ====  =========================================================
"""

from __future__ import annotations

from typing import Literal

SOUND = "sound"
UNSOUND = "unsound"
UNPROVEN = "unproven"
INTERRUPTED = "interrupted"
ERROR = "error"
OUTCOMES = (SOUND, UNSOUND, UNPROVEN, INTERRUPTED, ERROR)

Outcome = Literal["sound", "unsound", "unproven", "interrupted", "error"]

EXIT_SOUND = 0
EXIT_UNSOUND = 1
EXIT_COULD_NOT_RUN = 2

EXIT_CODES: dict[str, int] = {
    SOUND: EXIT_SOUND,
    UNSOUND: EXIT_UNSOUND,
    UNPROVEN: EXIT_UNSOUND,
    INTERRUPTED: EXIT_COULD_NOT_RUN,
    ERROR: EXIT_COULD_NOT_RUN,
}

#: The headline of an unproven verdict whose run said ``--allow-partial``.
PARTIAL = "PARTIAL"


def exit_code(outcome: str, allow_partial: bool = False) -> int:
    """The process exit code for ``outcome``; an unknown outcome could not have been judged."""
    if outcome == UNPROVEN and allow_partial:
        return EXIT_SOUND
    return EXIT_CODES.get(outcome, EXIT_COULD_NOT_RUN)


def headline(outcome: str, allow_partial: bool = False) -> str:
    """SOUND / UNSOUND / UNPROVEN / PARTIAL / INTERRUPTED / ERROR: one word for every output."""
    if outcome == UNPROVEN and allow_partial:
        return PARTIAL
    return outcome.upper() if outcome in OUTCOMES else ERROR.upper()

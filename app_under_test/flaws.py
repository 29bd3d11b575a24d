"""Seeded flaws: defects that are off by default and switched on to prove a check can fail.

Each flaw names the audit check that must catch it. The code paths that honour a flaw test
``name in flaws`` where the defect lives (frontend, parser, pod worker, store), so a flaw is
visible in a diff next to the sound behaviour it replaces.
"""

from __future__ import annotations

from collections.abc import Iterable

from exodus2045.app_under_test.errors import ConfigError

FLAWS: dict[str, str] = {
    "lossy-worker": "the pod worker deletes before storing and drops some wishes",
    "double-tally": "the tally is bumped on every delivery, not once per wish",
    "raw-wall": "the wall renders messages as raw HTML",
    "html-api": "GET /message serves the latest message as text/html, unescaped",
    "no-dlq": "poison messages are retried forever or silently dropped",
    "timestamp-key": "wishes keyed by millisecond timestamp, so collisions overwrite",
    "early-ack": "the frontend answers 202 before the enqueue succeeded and ignores its failure",
    "ua-500": "a 500 is thrown after the enqueue for some user agents",
    "no-validation": "the frontend and parser accept anything",
    "skip-nfc": "the message is stored without Unicode NFC (frontend and parser skip it)",
    "false-reject": "the frontend answers 415 to one valid wish in 32 (about 3%)",
    "shed-under-load": "the frontend answers 202 and drops the wish when its enqueue backs up",
}

#: The check that must fail when the flaw is on (first one listed is the primary).
CAUGHT_BY: dict[str, tuple[str, ...]] = {
    "lossy-worker": ("exactly-once",),
    "double-tally": ("tally",),
    "raw-wall": ("no-executable-markup",),
    "html-api": ("no-executable-markup",),
    "no-dlq": ("dlq-explained", "drained"),
    "timestamp-key": ("exactly-once",),
    "early-ack": ("exactly-once",),
    "ua-500": ("no-phantoms", "slo"),
    "no-validation": ("bad-input",),
    "skip-nfc": ("content",),
    "false-reject": ("no-false-rejects",),
    "shed-under-load": ("exactly-once",),
}

FLAW_SETS: dict[str, tuple[str, ...]] = {
    "demo-2019": (
        "no-validation",
        "html-api",
        "timestamp-key",
        "lossy-worker",
        "no-dlq",
        "early-ack",
        "ua-500",
    ),
}


def parse_flaws(spec: str | Iterable[str] | None) -> frozenset[str]:
    """Turn ``"raw-wall,demo-2019"`` (or a list) into the set of flaw names it switches on."""
    if spec is None:
        return frozenset()
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out: set[str] = set()
    for raw in items:
        name = raw.strip()
        if not name or name == "none":
            continue
        if name in FLAW_SETS:
            out.update(FLAW_SETS[name])
        elif name in FLAWS:
            out.add(name)
        else:
            known = ", ".join([*FLAWS, *FLAW_SETS])
            raise ConfigError(f"unknown flaw {name!r}; known flaws: {known}")
    return frozenset(out)

"""The one duration grammar: ``500ms``, ``20s``, ``2m``, ``1h``, and Locust's ``1h30m`` forms.

Every duration a user writes goes through :func:`parse_duration`: scenario files (``at``,
``duration``, ``every``, ``warmup``, ``drain_within``, ``recover_within``, stage
``duration``), ``exodus chaos apply --for``, the presenter's chaos route and the swarm's
arrival stages. A duration always names its unit: a bare number (``20``, ``"20"``, ``2.5``)
is an error everywhere, because "20" is twenty seconds to one reader and twenty minutes to
the next, and two grammars that disagreed about it is how this module came to exist.

Units are ``h``, ``m``, ``s`` and ``ms``; a compound form lists them largest first, each at
most once (``1h30m``, ``2m30s``, ``1h2m3s``, ``1s500ms``), as Locust's ``--run-time`` does.
It lives in chaos, the lowest layer that reads durations; the layers above import it.
"""

from __future__ import annotations

import re

from exodus2045.app_under_test.errors import ConfigError

_NUMBER = r"\d+(?:\.\d+)?"
_PATTERN = re.compile(  # each unit at most once, largest first; ``m`` not followed by ``s``
    rf"(?:(?P<h>{_NUMBER})h)?(?:(?P<m>{_NUMBER})m(?!s))?"
    rf"(?:(?P<s>{_NUMBER})s)?(?:(?P<ms>{_NUMBER})ms)?"
)
_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_BARE = re.compile(rf"-?{_NUMBER}")
LOOKS_LIKE = "500ms, 20s, 2m, 1h or 1h30m"


class DurationError(ConfigError):
    """Not a duration; the message says what one looks like."""


def parse_duration(value: object) -> float:
    """Seconds, or :class:`DurationError` saying what a duration looks like."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise DurationError(f"expected a duration like {LOOKS_LIKE}, got {value!r}")
    text = str(value).strip()
    if isinstance(value, (int, float)) or _BARE.fullmatch(text):
        hint = f": say the unit, e.g. '{text}s'" if _BARE.fullmatch(text) and text[0] != "-" else ""
        raise DurationError(f"expected a duration like {LOOKS_LIKE}, got the bare number "
                            f"{value!r}{hint}")
    match = _PATTERN.fullmatch(text)
    if not text or not match:
        raise DurationError(f"expected a duration like {LOOKS_LIKE}, got {value!r}")
    return sum(float(n) * _SECONDS[unit] for unit, n in match.groupdict().items() if n)


def format_duration(seconds: float) -> str:
    """Seconds as a duration this grammar reads back (``0.5`` -> ``500ms``, ``90`` -> ``90s``)."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 120 or seconds % 60:
        return f"{seconds:g}s"
    return f"{seconds / 60:g}m"

"""The audit's own statement of the markup policy: what a stored wish must say, given what was sent.

docs/architecture.md "Markup policy": stored text is what was sent after Unicode NFC and
removal of control characters; markup is kept as literal text, never stripped, and flagged
``markup: true`` when the text contains HTML (nh3 is the detector). The evacuee's name is
also trimmed, and the destination is stored lower-case ("Input limits").

The pipeline has its own normaliser (``app_under_test/wish.py``); the audit must not borrow
it, or a normalisation defect would be copied into the oracle and pass ``content`` (the
``skip-nfc`` flaw proves the check catches one). So the policy is written again here, from
the contract, and an import-linter contract forbids ``exodus2045.reports`` from importing the
pipeline's wish module.
"""

from __future__ import annotations

import re
import unicodedata

import nh3

#: Control characters the policy keeps: a message may span lines and carry tabs.
KEPT_CONTROLS = frozenset("\n\t")
#: Unicode category Cc is exactly U+0000-001F and U+007F-009F (a stable set: the standard
#: never assigns new control characters), less the kept ones. One regex pass instead of a
#: category lookup per character: the audit of a 65k run reads some 7 million of them.
_DROPPED_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def expected_text(sent: str) -> str:
    """``sent`` as the policy stores it: NFC first, then every control character (Unicode
    category Cc: U+0000-001F and U+007F-009F) removed except newline and tab."""
    return _DROPPED_CONTROLS.sub("", unicodedata.normalize("NFC", sent))


def expected_evacuee(sent: str) -> str:
    """A name is normalised like any text, then trimmed of surrounding whitespace."""
    return expected_text(sent).strip()


def expected_destination(sent: str) -> str:
    """Destinations arrive in any case (``Mars``) and are stored lower-case."""
    return sent.strip().lower()


def has_markup(text: str) -> bool:
    """True when the text contains HTML (tags or entities), by nh3's parser."""
    return bool(nh3.is_html(text))

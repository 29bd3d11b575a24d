"""Infiltrator payloads: enough XSS families, every instance traceable, bad input really bad."""

from __future__ import annotations

import re
import unicodedata

import pytest

from exodus2045.app_under_test.errors import ExodusError
from exodus2045.app_under_test.wish import EVACUEE_MAX, MESSAGE_MAX, has_markup
from exodus2045.locustfiles.payloads import (
    FAMILIES,
    INVALID_KINDS,
    MARKER_RE,
    UnknownPayload,
    markers_in,
    render_invalid,
    render_payload,
)
from tests.swarm_fixtures import verdict_for

MARKER = "XM1a2b3c4d"
BASE = {
    "wish_id": "0b7b5c0e-3c53-4c0b-9d3e-2f2a5c1d9e01",
    "evacuee": "Ada Lovelace",
    "destination": "mars",
    "message": "Water the lemon tree.",
}
#: Where the marker sits in code that would run: a call argument, a beacon URL, a dialog.
EXECUTES = re.compile(r"\('XM[0-9a-f]{8}'\)|/__beacon/XM[0-9a-f]{8}|&quot;XM[0-9a-f]{8}")


def test_at_least_forty_families_with_the_tricks_the_design_names() -> None:
    assert len(FAMILIES) >= 40
    names = " ".join(FAMILIES)
    for trick in ("script", "img", "svg", "body", "details", "video", "audio", "autofocus",
                  "math", "breakout", "javascript", "vbscript", "data", "srcdoc", "formaction",
                  "object", "embed", "meta-refresh", "base-href", "noscript", "comment",
                  "template", "namespace", "entities", "mixed-case", "link", "style"):  # fmt: skip
        assert trick in names, trick


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_carries_its_marker_where_it_would_run(family: str) -> None:
    text = render_payload(family, MARKER)
    assert markers_in(text) == {MARKER}
    assert EXECUTES.search(text), text
    assert not markers_in(FAMILIES[family]), "an unrendered template must not look like a finding"
    # A legal wish: fits both fields' limits where it is used, and NFC does not change it.
    assert len(text) <= MESSAGE_MAX
    assert unicodedata.normalize("NFC", text) == text
    assert not any(unicodedata.category(ch) == "Cc" for ch in text)


def test_most_payloads_are_markup_and_short_ones_fit_a_name() -> None:
    rendered = [render_payload(f, MARKER) for f in FAMILIES]
    assert sum(has_markup(t) for t in rendered) >= 40
    assert sum(len(t) <= EVACUEE_MAX for t in rendered) >= 30


def test_markers_round_trip_and_stay_distinct() -> None:
    markers = [f"XM{i * 2654435761 % 2**32:08x}" for i in range(200)]
    page = "<ul>" + "".join(
        f"<li>{render_payload(sorted(FAMILIES)[i % len(FAMILIES)], m)}</li>"
        for i, m in enumerate(markers)
    )
    assert markers_in(page) == set(markers)
    assert markers_in("XM1A2B3C4D XMzzzzzzzz XM1234567 xm1a2b3c4d") == set()
    assert markers_in("XM1a2b3c4d5") == set(), "nine hex digits is not a marker"
    assert MARKER_RE.fullmatch(MARKER)


def test_unknown_family_or_bad_marker_is_an_exodus_error() -> None:
    with pytest.raises(UnknownPayload):
        render_payload("no-such-family", MARKER)
    with pytest.raises(ExodusError):
        render_payload("script-tag", "XM<script>")
    with pytest.raises(UnknownPayload):
        render_invalid("no-such-kind", BASE, MARKER)


@pytest.mark.parametrize("kind", INVALID_KINDS)
def test_every_invalid_kind_is_refused_by_the_contract(kind: str) -> None:
    bad = render_invalid(kind, BASE, MARKER)
    status = verdict_for(bad.raw, bad.content_type)
    assert 400 <= status < 500, (kind, status, bad.raw[:120])
    assert BASE["message"] == "Water the lemon tree.", "the base wish must not be mutated"


def test_invalid_kinds_cover_the_design_list() -> None:
    wanted = {"truncated-json", "invalid-utf8", "wrong-type-message", "unknown-destination",
              "empty-message", "oversize-message", "oversize-body", "absurd-nesting",
              "malformed-wish-id", "lone-surrogate", "unsupported-content-type",
              "unknown-field"}  # fmt: skip
    assert wanted <= set(INVALID_KINDS)
    sizes = {k: len(render_invalid(k, BASE, MARKER).raw) for k in INVALID_KINDS}
    assert sizes["oversize-body"] > 16 * 1024
    assert sizes["absurd-nesting"] <= 16 * 1024, "nesting must be refused for depth, not size"
    assert sizes["oversize-message"] <= 16 * 1024, "and the long message for length, not size"


def test_invalid_requests_that_still_carry_text_carry_the_marker() -> None:
    for kind in INVALID_KINDS:
        if kind != "empty-message":  # nothing to carry it in
            assert MARKER.encode() in render_invalid(kind, BASE, MARKER).raw, kind

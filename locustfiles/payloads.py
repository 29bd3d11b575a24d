"""What infiltrators send: XSS families that must stay inert, and requests that must bounce.

Pure data and pure functions (no Locust, no gevent), because the audit imports this module to
recompute what was sent and to trace a finding back to the wish that carried it.

Every XSS payload instance carries a marker, ``XM`` + 8 lowercase hex digits, *inside the code
it would execute* (``alert('XM1a2b3c4d')`` or a load of ``/__beacon/XM1a2b3c4d``). A page that
runs the payload therefore names the wish it came from, and :func:`markers_in` finds every
marker in any text (a page, a report, a stored wish) without parsing it.

XSS payloads are *legal* wishes (within the input limits): the pipeline must keep them as
literal text and never let any output execute them. The invalid kinds are requests the
frontend must answer with a 4xx and never store.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from exodus2045.app_under_test.errors import ExodusError

#: Where a template puts its marker. Not itself a marker (``_`` is not hex), so an unrendered
#: template can never be mistaken for a finding.
MARK = "{marker}"
MARKER_RE = re.compile(r"XM[0-9a-f]{8}(?![0-9a-f])")
BEACON = "/__beacon/"

_A = "alert('{marker}')"

#: family name -> template. Grouped by the trick, so a verdict can say which trick got through.
FAMILIES: dict[str, str] = {
    # script elements
    "script-tag": f"<script>{_A}</script>",
    "script-src": '<script src="/__beacon/{marker}.js"></script>',
    "script-mixed-case": f"<ScRiPt>{_A}</sCrIpT>",
    "script-unicode-escape": "<script>\\u0061lert('{marker}')</script>",
    "script-close-breakout": f"</script><script>{_A}</script>",
    "json-script-breakout": f'"}}</script><script>{_A}</script>',
    "js-string-breakout": f"';{_A};//",
    # event handlers
    "img-onerror": f"<img src=x onerror={_A}>",
    "img-onerror-mixed-case": f"<IMG SRC=x OnErRoR={_A}>",
    "img-onerror-entities": "<img src=x onerror=\"&#97;&#108;&#101;&#114;&#116;('{marker}')\">",
    "svg-onload": f"<svg onload={_A}>",
    "svg-slash-onload": f"<svg/onload={_A}>",
    "body-onload": f"<body onload={_A}>",
    "body-onpageshow": f"<body onpageshow={_A}>",
    "details-ontoggle": f"<details open ontoggle={_A}><summary>x</summary></details>",
    "video-onerror": f"<video src=x onerror={_A}></video>",
    "video-source-onerror": f"<video><source onerror={_A}></video>",
    "audio-onerror": f"<audio src=x onerror={_A}></audio>",
    "input-autofocus": f"<input autofocus onfocus={_A}>",
    "select-autofocus": f"<select autofocus onfocus={_A}></select>",
    "textarea-autofocus": f"<textarea autofocus onfocus={_A}></textarea>",
    "iframe-onload": f"<iframe onload={_A}></iframe>",
    "marquee-onstart": f"<marquee onstart={_A}>x</marquee>",
    "div-onmouseover": f'<div onmouseover={_A} style="position:fixed;inset:0">x</div>',
    "p-onpointerenter": f"<p onpointerenter={_A}>hover me</p>",
    # SVG and MathML
    "svg-script": f"<svg><script>{_A}</script></svg>",
    "svg-animate-onbegin": f"<svg><animate onbegin={_A} attributeName=x dur=1s></svg>",
    "svg-a-xlink-href": (
        f'<svg><a xlink:href="javascript:{_A}"><text x=20 y=20>tap</text></a></svg>'
    ),
    "svg-set-href": (
        f'<svg><a><set attributeName=href to="javascript:{_A}"/><text y=20>tap</text></a></svg>'
    ),
    "svg-foreignobject-srcdoc": (
        "<svg><foreignObject><iframe srcdoc=\"&lt;script&gt;alert('{marker}')&lt;/script&gt;\">"
        "</iframe></foreignObject></svg>"
    ),
    "mathml-href": f'<math href="javascript:{_A}"><mi>tap</mi></math>',
    "mathml-mglyph-style": (
        f"<math><mtext><table><mglyph><style><img src=x onerror={_A}></style></mglyph>"
        "</table></mtext></math>"
    ),
    # attribute breakouts
    "attr-breakout-double": f'"><img src=x onerror={_A}>',
    "attr-breakout-single": f"'><svg onload={_A}>",
    "attr-breakout-handler": f'" autofocus onfocus={_A} x="',
    "attr-breakout-unquoted": f" onmouseover={_A} x=",
    # dangerous URLs
    "a-javascript": f'<a href="javascript:{_A}">tap</a>',
    "a-javascript-entities": f'<a href="&#106;avascript:{_A}">tap</a>',
    "a-javascript-tab": f'<a href="java&#x09;script:{_A}">tap</a>',
    "a-javascript-mixed-case": f'<a href="JaVaScRiPt:{_A}">tap</a>',
    "a-vbscript": "<a href=\"vbscript:msgbox('{marker}')\">tap</a>",
    "a-data-html": f'<a href="data:text/html,%3Cscript%3E{_A}%3C/script%3E">tap</a>',
    "iframe-javascript": f'<iframe src="javascript:{_A}"></iframe>',
    "iframe-data": f'<iframe src="data:text/html,<script>{_A}</script>"></iframe>',
    "iframe-srcdoc": (
        "<iframe srcdoc=\"&lt;script&gt;alert('{marker}')&lt;/script&gt;\"></iframe>"
    ),
    "form-action": f'<form action="javascript:{_A}"><button>go</button></form>',
    "button-formaction": f'<form><button formaction="javascript:{_A}">go</button></form>',
    "input-formaction": (f'<form><input type=submit formaction="javascript:{_A}" value=go></form>'),
    "object-javascript": f'<object data="javascript:{_A}"></object>',
    "object-data-html": f'<object data="data:text/html,<script>{_A}</script>"></object>',
    "embed-javascript": f'<embed src="javascript:{_A}">',
    "meta-refresh": f'<meta http-equiv="refresh" content="0;url=javascript:{_A}">',
    "base-href": '<base href="/__beacon/{marker}/">',
    # style and link loads
    "link-stylesheet": '<link rel=stylesheet href="/__beacon/{marker}.css">',
    "style-import": "<style>@import '/__beacon/{marker}.css';</style>",
    "style-background-url": "<div style=\"background:url('/__beacon/{marker}.png')\">x</div>",
    "css-expression": f'<div style="width:expression({_A})">x</div>',
    # mutation XSS and parser confusion
    "noscript-mxss": f'<noscript><p title="</noscript><img src=x onerror={_A}>">',
    "comment-mxss": f"<!--><svg onload={_A}>-->",
    "template-mxss": f"<template><style></template><img src=x onerror={_A}></style>",
    "style-breakout": f"</style><img src=x onerror={_A}>",
    "title-breakout": f"</title><img src=x onerror={_A}>",
    "textarea-breakout": f"</textarea><img src=x onerror={_A}>",
    "namespace-confusion": f'<svg></p><style><a id="</style><img src=1 onerror={_A}>">',
    "double-encoded": f"&lt;img src=x onerror={_A}&gt;",
    # Markdown (summary.md is rendered by GitHub)
    "markdown-link": f"[tap](javascript:{_A})",
    "markdown-image": "![x](/__beacon/{marker}.png)",
    # everything at once
    "polyglot": (
        "jaVasCript:/*-/*`/*\\`/*'/*\"/**/(/* */oNcliCk=alert('{marker}') )//%0D%0A%0d%0a//"
        "</stYle/</titLe/</teXtarEa/</scRipt/--!>\\x3csVg/<sVg/oNloAd=alert('{marker}')//>\\x3e"
    ),
}

#: Requests the frontend must refuse with a 4xx and never store (``expect: reject``).
INVALID_KINDS: tuple[str, ...] = (
    "truncated-json",
    "invalid-json",
    "invalid-utf8",
    "lone-surrogate",
    "wrong-type-body",
    "wrong-type-message",
    "wrong-type-evacuee",
    "missing-field",
    "unknown-field",
    "unknown-destination",
    "empty-message",
    "oversize-message",
    "oversize-evacuee",
    "oversize-body",
    "absurd-nesting",
    "malformed-wish-id",
    "unsupported-content-type",
)

JSON_TYPE = "application/json"
_NESTING_DEPTH = 5000  # deep enough to crash a recursive parser, small enough to fit 16 KiB


class UnknownPayload(ExodusError):
    """A family or invalid kind that this module does not know."""


@dataclass(frozen=True)
class InvalidRequest:
    """The exact bytes of a request that must be rejected.

    ``body`` is the JSON value those bytes decode to when they are valid JSON (so a check can
    look at the fields), else None.
    """

    raw: bytes
    content_type: str
    body: Any


def render_payload(family: str, marker: str) -> str:
    """The payload of ``family`` carrying ``marker`` wherever its code would run."""
    try:
        template = FAMILIES[family]
    except KeyError:
        raise UnknownPayload(f"unknown XSS family {family!r}") from None
    if not MARKER_RE.fullmatch(marker):
        raise UnknownPayload(f"{marker!r} is not a marker (XM + 8 lowercase hex)")
    return template.replace(MARK, marker)


def markers_in(text: str) -> set[str]:
    """Every marker in ``text``: how a finding on any page traces back to its wish."""
    return set(MARKER_RE.findall(text))


def dump_json(value: Any) -> bytes:
    """How the swarm serialises a JSON body: compact, UTF-8, non-ASCII kept as is."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def render_invalid(kind: str, wish: Mapping[str, str], marker: str) -> InvalidRequest:
    """Corrupt a valid ``wish`` body in the way ``kind`` names.

    ``marker`` rides in the message where the request still has one, so a pipeline that
    stores what it should have refused (the ``no-validation`` flaw) is caught even if it
    mangled the wish id.
    """
    base = dict(wish)
    builder = _INVALID.get(kind)
    if builder is None:
        raise UnknownPayload(f"unknown invalid kind {kind!r}")
    return builder(base, marker)


def _as_json(body: Any) -> InvalidRequest:
    return InvalidRequest(dump_json(body), JSON_TYPE, body)


def _truncated(w: dict[str, Any], m: str) -> InvalidRequest:
    w["message"] = f"{m} {w['message']}"
    raw = dump_json(w)
    cut = raw.index(m.encode()) + len(m) + 4  # cut off mid-message, just after the marker
    return InvalidRequest(raw[:cut], JSON_TYPE, None)


def _invalid_json(w: dict[str, Any], m: str) -> InvalidRequest:
    w["message"] = f"{w['message']} {m}"
    raw = dump_json(w)
    return InvalidRequest(raw[:-1] + b",}", JSON_TYPE, None)  # trailing comma


def _invalid_utf8(w: dict[str, Any], m: str) -> InvalidRequest:
    w["message"] = f"{m} SPLIT here"
    raw = dump_json(w).replace(b"SPLIT", b"\xc3\x28\xff\xfe")
    return InvalidRequest(raw, JSON_TYPE, None)


def _lone_surrogate(w: dict[str, Any], m: str) -> InvalidRequest:
    w["message"] = f"{m} SURROGATE"
    raw = json.dumps(w, separators=(",", ":")).replace("SURROGATE", "\\ud800")
    return InvalidRequest(raw.encode("ascii"), JSON_TYPE, None)


def _wrong_type_body(w: dict[str, Any], m: str) -> InvalidRequest:
    w["message"] = f"{w['message']} {m}"
    return _as_json([w])


def _wrong_type_message(w: dict[str, Any], m: str) -> InvalidRequest:
    w["message"] = [m, 2045]
    return _as_json(w)


def _wrong_type_evacuee(w: dict[str, Any], m: str) -> InvalidRequest:
    w["evacuee"] = {"name": w["evacuee"], "rank": 1}
    w["message"] = f"{w['message']} {m}"
    return _as_json(w)


def _missing_field(w: dict[str, Any], m: str) -> InvalidRequest:
    w["message"] = f"{w['message']} {m}"
    del w["evacuee"]
    return _as_json(w)


def _unknown_field(w: dict[str, Any], m: str) -> InvalidRequest:
    w["message"] = f"{w['message']} {m}"
    w["priority"] = "first-class"
    return _as_json(w)


def _unknown_destination(w: dict[str, Any], m: str) -> InvalidRequest:
    w["message"] = f"{w['message']} {m}"
    w["destination"] = "venus"
    return _as_json(w)


def _empty_message(w: dict[str, Any], m: str) -> InvalidRequest:
    w["message"] = " \n\t "
    return _as_json(w)


def _oversize_message(w: dict[str, Any], m: str) -> InvalidRequest:
    w["message"] = (m + " ") + "x" * 2100
    return _as_json(w)


def _oversize_evacuee(w: dict[str, Any], m: str) -> InvalidRequest:
    w["evacuee"] = "E" * 150
    w["message"] = f"{w['message']} {m}"
    return _as_json(w)


def _oversize_body(w: dict[str, Any], m: str) -> InvalidRequest:
    w["message"] = (m + " ") + "y" * (17 * 1024)
    return _as_json(w)


def _absurd_nesting(w: dict[str, Any], m: str) -> InvalidRequest:
    w["message"] = "NEST"
    raw = dump_json(w).replace(
        b'"NEST"', b"[" * _NESTING_DEPTH + f'"{m}"'.encode() + b"]" * _NESTING_DEPTH
    )
    return InvalidRequest(raw, JSON_TYPE, None)


def _malformed_wish_id(w: dict[str, Any], m: str) -> InvalidRequest:
    w["wish_id"] = f"{m}-not-a-uuid"
    return _as_json(w)


def _unsupported_content_type(w: dict[str, Any], m: str) -> InvalidRequest:
    raw = f"<wish><id>{w['wish_id']}</id><message>{m}</message></wish>".encode()
    return InvalidRequest(raw, "application/xml", None)


_INVALID = {
    "truncated-json": _truncated,
    "invalid-json": _invalid_json,
    "invalid-utf8": _invalid_utf8,
    "lone-surrogate": _lone_surrogate,
    "wrong-type-body": _wrong_type_body,
    "wrong-type-message": _wrong_type_message,
    "wrong-type-evacuee": _wrong_type_evacuee,
    "missing-field": _missing_field,
    "unknown-field": _unknown_field,
    "unknown-destination": _unknown_destination,
    "empty-message": _empty_message,
    "oversize-message": _oversize_message,
    "oversize-evacuee": _oversize_evacuee,
    "oversize-body": _oversize_body,
    "absurd-nesting": _absurd_nesting,
    "malformed-wish-id": _malformed_wish_id,
    "unsupported-content-type": _unsupported_content_type,
}
assert tuple(_INVALID) == INVALID_KINDS

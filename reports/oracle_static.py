"""The static XSS oracle: would any page the run fetched execute a stored payload?

We parse each page the way a browser does -- selectolax's lexbor, a real HTML5 parser, with
``scripting=True`` so ``<noscript>`` and ``<!-->`` tricks land where Chromium puts them
(docs/architecture.md "Measured facts": 99% agreement with the browser; regexes manage 69%) -- and flag every place where
script could run: ``<script>`` (bar the templates' own files, :data:`TEMPLATE_SCRIPTS`),
``on*`` handlers, dangerous URL schemes, ``srcdoc``, embedding elements, redirects, HTML
imports -- and styles built from a payload (a CSS beacon proves raw rendering even where no script can run). Headers matter
as much as markup: a page without a CSP that forbids inline script has no second line of
defence, and a JSON endpoint served as HTML (the 2019 demo's ``/message``) is a page.

Each :class:`Finding` names the page, the element and the payload marker(s) near it, so a
failure points at one wish in the ledger. ``<template>`` content is inert and not traversed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from exodus2045.reports.checks._markers import markers_in
from exodus2045.reports.runfolder import Page

URL_ATTRS = frozenset(
    {
        "href",
        "src",
        "action",
        "formaction",
        "xlink:href",
        "background",
        "poster",
        "srcset",
        "ping",
    }
)
EMBEDDING = frozenset({"iframe", "frame", "frameset", "object", "embed", "base", "applet"})
BAD_SCHEMES = frozenset({"javascript", "vbscript", "data"})
SVG_ANIMATORS = frozenset({"animate", "set"})
_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):")
_STRIP = "".join(chr(c) for c in range(0x21))  # C0 controls and space, as the URL parser trims
_ELEMENT_SHOW = 160
_MARKER_CLIMB = 3  # ancestors searched for a marker when the element itself has none
_PAGE_LEVEL = frozenset({"html", "head", "body"})

#: The templates' own script files: the projector (``/tally``) is the one page that runs
#: script, and only this file of its own (its CSP says ``script-src 'self'``, never inline).
#: A ``<script>`` is accepted only as exactly one of these; any other is a finding.
TEMPLATE_SCRIPTS = frozenset({"/static/tally.js"})


@dataclass(frozen=True)
class Finding:
    """One way a page could run script: where, what, and which payload(s) caused it."""

    page: str
    kind: str
    element: str
    detail: str
    markers: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "page": self.page,
            "kind": self.kind,
            "element": self.element,
            "detail": self.detail,
            "markers": list(self.markers),
        }


def url_scheme(url: str) -> str | None:
    """The scheme a browser would see: trimmed, tabs and newlines removed, lower-cased."""
    cleaned = url.strip(_STRIP).replace("\t", "").replace("\n", "").replace("\r", "")
    match = _SCHEME.match(cleaned.lower())
    return match.group(1) if match else None


def srcset_urls(value: str) -> list[str]:
    """The URLs of a srcset, parsed as the HTML standard does (a data: URL may hold commas)."""
    urls: list[str] = []
    i, n = 0, len(value)
    while i < n:
        while i < n and (value[i].isspace() or value[i] == ","):
            i += 1
        start = i
        while i < n and not value[i].isspace():
            i += 1
        url = value[start:i]
        if not url:
            break
        if url.endswith(","):
            urls.append(url.rstrip(","))
            continue
        urls.append(url)
        depth = 0
        while i < n:  # descriptors, up to the next top-level comma
            ch = value[i]
            i += 1
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth = max(0, depth - 1)
            elif ch == "," and depth == 0:
                break
    return urls


def _urls(attr: str, value: str) -> list[str]:
    if attr == "srcset":
        return srcset_urls(value)
    if attr == "ping":
        return value.split()
    return [value]


def _loads_image(tag: str, attr: str, attrs: Mapping[str, str]) -> bool:
    """Does this attribute only ever fetch an image? (A data: image cannot run script.)"""
    if attr in ("poster", "background"):
        return True
    if tag in ("img", "source", "image") and attr in ("src", "srcset", "href", "xlink:href"):
        return True
    if tag == "link" and attr == "href":
        return "icon" in attrs.get("rel", "").lower().split()  # e.g. the data:, favicon
    return tag == "input" and attr == "src" and attrs.get("type", "").lower() == "image"


def _dangerous(tag: str, attr: str, url: str, attrs: Mapping[str, str]) -> bool:
    scheme = url_scheme(url)
    if scheme not in BAD_SCHEMES:
        return False
    return not (scheme == "data" and _loads_image(tag, attr, attrs))


def _describe(node: LexborNode) -> str:
    html = node.html or f"<{node.tag}>"
    end = html.find(">")
    opening = html[: end + 1] if end >= 0 else html
    return opening if len(opening) <= _ELEMENT_SHOW else opening[: _ELEMENT_SHOW - 1] + "…"


def _markers_near(node: LexborNode) -> tuple[str, ...]:
    current: LexborNode | None = node
    for _ in range(_MARKER_CLIMB + 1):
        if current is None or (current is not node and current.tag in _PAGE_LEVEL):
            break  # the whole page would name every payload on it
        found = markers_in(current.html)
        if found:
            return tuple(sorted(found))
        current = current.parent
    return ()


def is_template_script(node: LexborNode, attrs: Mapping[str, str]) -> bool:
    """Is this ``<script>`` one of the templates' own files, loaded the way a template does?

    Only when its ``src`` is, character for character, a same-origin path under ``/static/``
    on the allow-list, it has no inline content and no ``href`` (an SVG script loads that
    instead), and no payload marker sits near it: a template never puts its script beside a
    wish, so the same tag inside a wish is still a finding (a raw page rendered it).
    """
    src = attrs.get("src")
    if src is None or src not in TEMPLATE_SCRIPTS or "href" in attrs or "xlink:href" in attrs:
        return False
    parts = urlsplit(src)
    if parts.scheme or parts.netloc or parts.query or parts.fragment or ".." in parts.path:
        return False
    if not parts.path.startswith("/static/"):
        return False
    return not node.text(deep=True, strip=False) and not _markers_near(node)


def _element_findings(node: LexborNode) -> Iterable[tuple[str, str]]:
    """(kind, detail) for every way this one element could run script."""
    tag = (node.tag or "").lower()
    attrs = {str(k).lower(): v or "" for k, v in node.attributes.items()}
    if tag == "script" and not is_template_script(node, attrs):
        yield "script", "a <script> element that is not a template's own file"
    if tag in EMBEDDING:
        yield "embedding-element", f"a <{tag}> element can load or redirect to active content"
    refresh = tag == "meta" and attrs.get("http-equiv", "").strip().lower() == "refresh"
    if refresh and "url" in attrs.get("content", "").lower():  # a bare self-refresh is harmless
        yield "meta-refresh", f"meta refresh redirects: {attrs.get('content', '')[:80]}"
    if tag == "link" and "import" in attrs.get("rel", "").lower().split():
        yield "link-import", "an HTML import (<link rel=import>)"
    if tag in ("style", "link") and markers_in(node.html):  # a template never styles a wish
        yield "injected-style", f"a <{tag}> element built from a payload (beacon or CSS)"
    for name, value in attrs.items():
        if name == "style" and markers_in(value):
            yield "injected-style", f"style={value[:80]}"
        elif name.startswith("on"):
            yield "event-handler", f"{name}={value[:80]}"
        elif name == "srcdoc":
            yield "srcdoc", f"srcdoc={value[:80]}"
        elif name in URL_ATTRS:
            for url in _urls(name, value):
                if _dangerous(tag, name, url, attrs):
                    yield "dangerous-url", f"{name}={url[:80]}"
    if tag in SVG_ANIMATORS and attrs.get("attributename", "").lower() in ("href", "xlink:href"):
        for name in ("to", "values", "from"):
            for url in attrs.get(name, "").split(";"):
                if url and url_scheme(url) in BAD_SCHEMES:
                    yield "dangerous-url", f"<{tag}> animates href to {url[:80]}"


def scan_html(html: str, page: str) -> list[Finding]:
    """Every executable construct in one HTML document, as a browser with scripting parses it."""
    tree = LexborHTMLParser(html, scripting=True)
    findings: list[Finding] = []
    root = tree.root
    if root is None:
        return findings
    for node in root.traverse():
        for kind, detail in _element_findings(node):
            findings.append(Finding(page, kind, _describe(node), detail, _markers_near(node)))
    return findings


def _policy_blocks_inline(policy: str, directives: tuple[str, ...]) -> bool:
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        tokens = part.split()
        if tokens:
            parsed.setdefault(tokens[0].lower(), [t.lower() for t in tokens[1:]])
    for name in directives:
        if name in parsed:
            sources = parsed[name]
            pinned = any(
                s.startswith(("'nonce-", "'sha256-", "'sha384-", "'sha512-")) for s in sources
            )
            return "'unsafe-inline'" not in sources or pinned or "'strict-dynamic'" in sources
    return False


def csp_findings(csp: str | None, page: str) -> list[Finding]:
    """A page needs a CSP that forbids inline script, both elements and event handlers."""
    if not csp or not csp.strip():
        return [Finding(page, "no-csp", "Content-Security-Policy", "the page has no CSP header")]
    policies = [p for p in csp.split(",") if p.strip()]  # several policies: each one enforced
    elements = ("script-src-elem", "script-src", "default-src")
    handlers = ("script-src-attr", "script-src", "default-src")
    findings = []
    for what, directives in (("inline <script>", elements), ("inline event handlers", handlers)):
        if not any(_policy_blocks_inline(p, directives) for p in policies):
            findings.append(
                Finding(
                    page,
                    "csp-unsafe-inline",
                    "Content-Security-Policy",
                    f"the CSP allows {what}: {csp[:120]}",
                )
            )
    return findings


def is_json_endpoint(url: str) -> bool:
    """The API paths (and the 2019 demo's ``/message``) answer JSON, never a document."""
    path = urlsplit(url).path
    return path.startswith("/api/") or path == "/message"


def is_html(page: Page) -> bool:
    media = page.content_type.split(";")[0].strip().lower()
    if media:
        return media in ("text/html", "application/xhtml+xml")
    return page.file.lower().endswith((".html", ".htm"))  # no type: browsers sniff


def scan_page(page: Page) -> list[Finding]:
    """All findings for one fetched page: content type, CSP and markup."""
    findings: list[Finding] = []
    media = page.content_type.split(";")[0].strip().lower()
    if is_json_endpoint(page.url) and media != "application/json":
        found = tuple(sorted(markers_in(page.body)))
        if found:
            findings.append(
                Finding(
                    page.url,
                    "json-content-type",
                    f"Content-Type: {page.content_type or '(none)'}",
                    "a JSON endpoint holding a payload is not served as application/json",
                    found,
                )
            )
    if is_html(page) and page.body is not None:
        findings.extend(csp_findings(page.header("content-security-policy"), page.url))
        findings.extend(scan_html(page.body, page.url))
    return findings


def scan_pages(pages: Iterable[Page]) -> list[Finding]:
    return [f for page in pages for f in scan_page(page)]

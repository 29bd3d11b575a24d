"""The real-browser XSS oracle: load each page in Chromium and catch every payload that runs.

A parser can only guess what a browser will do; this oracle asks one. Each page is served
through a Playwright route that swaps the page's enforcing CSP for a strict *report-only*
one, so payloads are allowed to run but every script element, live inline handler,
``javascript:`` URL and ``eval`` raises a ``securitypolicyviolation`` whose 40-character
sample carries the payload's marker (docs/architecture.md "Measured facts": caught every execution,
no false positives). Dialogs are faked (real ones cost ~11 ms each); a request to
``/__beacon/`` or carrying a marker counts too (script-less exfiltration: img, link, CSS).
After load every element is focused, hovered and clicked, because many payloads run only on
interaction (docs/architecture.md "Measured facts": 10 of 46); a click on a scripted link is recorded and cancelled so the
page stays put. Last, the live DOM is scanned for handlers and scripted URLs that never ran:
dormant, but one tap (or one other browser) away. Inert ``<template>`` content is not a
finding, as in the static oracle: nothing there can run.

The injected scripts and the report-only policy live in :mod:`exodus2045.reports.browser_probe`. The
templates' own script files (the projector's ``/static/tally.js``) load there without a
violation, and their event stream is not counted as a page still loading. The audit merges
``pages/browser.json`` (:func:`write_browser_json`) into its ``no-executable-markup`` check.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urljoin, urlsplit

from exodus2045.reports.browser_launch import open_browser
from exodus2045.reports.browser_probe import (
    BINDING,
    INTERACTION_JS,
    PROBE_JS,
    SCAN_JS,
    TEMPLATE_FEEDS,
    swap_csp,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Dialog, Page, Route

MARKER_RE = re.compile(r"XM[0-9a-f]{8}(?![0-9a-f])")
_CUT_MARKER = re.compile(r"XM[0-9a-f]{2,7}$")  # a marker cut off by the 40-character sample
BEACON = "/__beacon/"

#: Finding kinds, strongest evidence first: one finding per (page, marker) keeps the best.
KINDS: tuple[str, ...] = (
    "inline-script", "script-load", "javascript-url", "eval", "inline-handler", "dialog",
    "javascript-url-on-click", "beacon", "resource-load", "dormant-url", "dormant-handler",
)
_RANK = {kind: i for i, kind in enumerate(KINDS)}
_DETAIL = 240


@dataclass(frozen=True)
class Finding:
    """One payload the browser ran (or would run on a tap), on one page."""

    page: str
    marker: str | None
    kind: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"page": self.page, "marker": self.marker, "kind": self.kind, "detail": self.detail}


@dataclass
class BrowserReport:
    """Everything the browser saw: findings, pages it managed to render, and what broke."""

    findings: list[Finding] = field(default_factory=list)
    pages_rendered: int = 0
    browser: str = ""
    errors: list[str] = field(default_factory=list)

    def markers(self) -> set[str]:
        return {f.marker for f in self.findings if f.marker}

    def to_json(self) -> dict[str, Any]:
        return {
            "findings": [f.to_json() for f in self.findings],
            "pages_rendered": self.pages_rendered,
            "browser": self.browser,
            "errors": list(self.errors),
        }


def write_browser_json(run_dir: Path | str, report: BrowserReport) -> Path:
    """Write ``pages/browser.json`` atomically (a half-written file must not look clean)."""
    target = Path(run_dir) / "pages" / "browser.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".browser.json.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    tmp.replace(target)
    return target


def judge_pages(
    base_url: str,
    paths: list[str],
    *,
    markers_hint: set[str] | None = None,
    timeout_s: float = 30.0,
    settle_s: float = 0.3,
    max_elements: int = 3000,
    browser: Browser | None = None,
) -> BrowserReport:
    """Render every page of ``base_url`` at ``paths`` and report each payload that runs.

    ``markers_hint`` (the markers the swarm sent) resolves a marker that the CSP sample cut
    short. ``timeout_s`` bounds one page; ``settle_s`` is how long a page must stay quiet
    (no request, no report) before we call it done, since media errors, animations and
    ``ontoggle`` fire a little after ``load``. Pass ``browser`` to reuse a running one.
    Raises :class:`exodus2045.reports.browser_launch.BrowserUnavailable` when there is no browser.
    """
    if browser is None:
        with open_browser() as own:
            return judge_pages(base_url, paths, markers_hint=markers_hint, timeout_s=timeout_s,
                               settle_s=settle_s, max_elements=max_elements, browser=own)
    from playwright.sync_api import Error as PlaywrightError

    report = BrowserReport(browser=f"Chromium {browser.version}")
    for path in paths:
        context = browser.new_context(service_workers="block")
        try:
            probe = _PageProbe(context.new_page(), urljoin(base_url, path), path,
                               markers_hint or set(), settle_s)
            probe.run(timeout_s, max_elements)
            report.pages_rendered += 1
        except PlaywrightError as exc:
            report.errors.append(f"{path}: {exc.message.splitlines()[0]}")
            continue
        finally:
            context.close()
        report.findings.extend(probe.findings())
    return report


class _PageProbe:
    """One page under observation: the route, the reporters, and what they heard."""

    def __init__(self, page: Page, url: str, label: str, hint: set[str], settle_s: float):
        self.page, self.url, self.label, self.hint, self.settle_s = page, url, label, hint, settle_s
        self.origin = urlsplit(url)[:2]
        self.navigations = 0  # main-frame document requests: the first one is the page itself
        self.last_activity = time.monotonic()
        self.inflight = 0
        self.best: dict[tuple[str, str], Finding] = {}  # (marker or detail, ...) -> finding
        self.also: dict[tuple[str, str], set[str]] = {}
        page.expose_binding(BINDING, self._on_report)
        page.add_init_script(PROBE_JS)
        page.on("dialog", self._on_dialog)
        page.on("request", lambda r: self._bump(1, r.url))
        page.on("requestfinished", lambda r: self._bump(-1, r.url))
        page.on("requestfailed", lambda r: self._bump(-1, r.url))
        page.context.on("page", lambda popup: popup.close())
        page.context.route("**/*", self._route)  # context-wide, so popups are routed too

    # -- the run -------------------------------------------------------------------------
    def run(self, timeout_s: float, max_elements: int) -> None:
        deadline = time.monotonic() + timeout_s
        self.page.goto(self.url, wait_until="load", timeout=timeout_s * 1000)
        self._settle(deadline)
        budget_ms = max(0.0, (deadline - time.monotonic()) * 1000 / 2)
        for frame in list(self.page.frames):
            self._in_frame(frame, INTERACTION_JS, {"cap": max_elements, "budgetMs": budget_ms})
        self._settle(deadline)
        for frame in list(self.page.frames):
            for kind, detail in self._in_frame(frame, SCAN_JS, None) or ():
                self._add(kind, detail, self._markers(detail), dormant=True)

    def _in_frame(self, frame: Any, script: str, arg: Any) -> Any:
        from playwright.sync_api import Error as PlaywrightError

        try:
            return frame.evaluate(script, arg)
        except PlaywrightError:  # the frame navigated or went away: its reports are in
            return None

    def _settle(self, deadline: float) -> None:
        """Wait until nothing happened for ``settle_s`` (and nothing loads), or the deadline."""
        while time.monotonic() < deadline:
            quiet = time.monotonic() - self.last_activity
            if quiet >= self.settle_s and self.inflight <= 0:
                return
            self.page.wait_for_timeout(50)  # lets Playwright deliver events meanwhile

    def findings(self) -> list[Finding]:
        out = []
        for key, f in self.best.items():
            extra = sorted(self.also.get(key, set()) - {f.kind})
            detail = f"{f.detail} [also: {', '.join(extra)}]" if extra else f.detail
            out.append(Finding(f.page, f.marker, f.kind, detail[:_DETAIL + 80]))
        return sorted(out, key=lambda f: (f.marker or "~", _RANK[f.kind], f.detail))

    # -- evidence ------------------------------------------------------------------------
    def _markers(self, text: str) -> set[str]:
        found = set(MARKER_RE.findall(text))
        if not found and self.hint and (cut := _CUT_MARKER.search(text)):
            candidates = {m for m in self.hint if m.startswith(cut.group())}
            if len(candidates) == 1:
                found = candidates
        return found

    def _add(self, kind: str, detail: str, markers: set[str], *, dormant: bool = False) -> None:
        self.last_activity = time.monotonic()
        for marker in sorted(markers) or [None]:
            key = (marker, "") if marker else ("", f"{kind}:{detail}")
            if dormant and key in self.best:
                continue  # it ran, or was reported as running: not dormant
            finding = Finding(self.label, marker, kind, detail[:_DETAIL])
            self.also.setdefault(key, set()).add(kind)
            old = self.best.get(key)
            if old is None or _RANK[kind] < _RANK[old.kind]:
                self.best[key] = finding

    def _on_report(self, source: dict[str, Any], kind: str, data: dict[str, Any]) -> None:
        if kind == "dialog":
            call = str(data.get("call", ""))
            self._add("dialog", call, self._markers(call))
        elif kind == "click-url":
            url = str(data.get("url", ""))
            self._add("javascript-url-on-click", f"<{data.get('element')}> {url}", self._markers(url))
        elif kind == "csp":
            self._on_violation(data)

    def _on_violation(self, v: dict[str, Any]) -> None:
        directive, blocked = str(v.get("directive", "")), str(v.get("blocked", ""))
        sample, element = str(v.get("sample", "")), str(v.get("element", ""))
        where = f" on <{element}>" if element else ""
        if directive.startswith("script-src"):
            if directive == "script-src-attr":
                if not v.get("live"):
                    return  # inert (template content) or reported again when it runs
                kind = "inline-handler"
            elif sample.lower().startswith(("javascript:", "vbscript:")):
                kind = "javascript-url"
            elif blocked in ("eval", "wasm-eval"):
                kind = "eval"
            else:
                kind = "inline-script" if blocked == "inline" else "script-load"
            markers = (self._markers(sample) or self._markers(unquote(blocked))
                       or _only_one(self._markers(str(v.get("attrs", "")))))
            self._add(kind, f"{directive}{where}: {sample or blocked}", markers)
        elif markers := self._markers(unquote(blocked)):
            self._add("resource-load", f"{directive}{where}: {blocked}", markers)

    def _on_dialog(self, dialog: Dialog) -> None:
        """A real dialog got past the override (a frame the probe missed): still a finding."""
        message = dialog.message
        self._add("dialog", f"{dialog.type}({message!r})", self._markers(message))
        dialog.dismiss()

    # -- network ------------------------------------------------------------------------
    def _bump(self, delta: int, url: str) -> None:
        if self._template_feed(url):
            return  # the template's own event stream never finishes: not "still loading"
        self.inflight += delta
        self.last_activity = time.monotonic()

    def _route(self, route: Route) -> None:
        request = route.request
        url = request.url
        markers = self._markers(unquote(url))
        if markers or BEACON in url:
            self._add("beacon", f"{request.resource_type} {url}", markers)
            route.fulfill(status=204, body="")
        elif urlsplit(url)[:2] != self.origin or not self._ours(request):
            route.abort("blockedbyclient")  # the target only, and no popups
        elif self._leaves_page(request):
            route.abort("aborted")  # a click or refresh that leaves the page: stay and judge
        elif request.resource_type == "document":
            from playwright.sync_api import Error as PlaywrightError

            try:
                response = route.fetch()
            except PlaywrightError:  # target down: fail the load fast, judge_pages records it
                route.abort("failed")
                return
            route.fulfill(response=response, headers=swap_csp(response.headers, url))
        else:
            route.continue_()

    def _template_feed(self, url: str) -> bool:
        """A request a template script makes on its own page (same origin, exact path)."""
        parts = urlsplit(url)
        return parts[:2] == self.origin and parts.path in TEMPLATE_FEEDS

    def _ours(self, request: Any) -> bool:
        from playwright.sync_api import Error as PlaywrightError

        try:
            return request.frame.page == self.page
        except PlaywrightError:  # a popup's first navigation has no frame yet
            return False

    def _leaves_page(self, request: Any) -> bool:
        """A main-frame navigation other than the first (the page itself)."""
        if not request.is_navigation_request() or request.frame != self.page.main_frame:
            return False
        self.navigations += 1
        return self.navigations > 1


def _only_one(markers: set[str]) -> set[str]:
    """Markers from an element's attributes name the payload only when there is one."""
    return markers if len(markers) == 1 else set()

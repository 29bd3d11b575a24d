"""What the real-browser oracle puts into a page: its scripts and its report-only policy.

:mod:`exodus2045.reports.oracle_browser` drives Chromium and weighs the evidence; this module holds what
it injects, kept apart because it is a different language with different rules. The
JavaScript runs inside the page under test, so it must survive whatever a payload did to the
page (every call guarded, nothing assumed) and must itself never look like a payload.

The policy is *report-only*: the page's own enforcing CSP is swapped for it, so payloads run,
and every script element, live inline handler, ``javascript:`` URL and ``eval`` reports a
violation whose 40-character sample carries the marker. The one exception is the templates'
own script files (:data:`exodus2045.reports.oracle_static.TEMPLATE_SCRIPTS`, e.g. the projector's
``/static/tally.js``): each is allowed by its exact same-origin URL, so loading it is no
violation, and so are the requests it makes (:data:`TEMPLATE_FEEDS`). Anything else,
including another file from the same origin, still reports.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from exodus2045.reports.oracle_static import TEMPLATE_SCRIPTS

#: The name PROBE_JS calls back through (Playwright's ``expose_binding``).
BINDING = "__exodusReport"

#: What the template scripts fetch on their own page (tally.js follows the stream and may read
#: the snapshot): allowed by the policy, and left out of the "page is still loading" count,
#: because an event stream never finishes loading.
TEMPLATE_FEEDS = frozenset({"/api/tally/stream", "/api/tally/snapshot"})

#: Report-only, so everything runs; ``'report-sample'`` alone allows nothing, so every script
#: reports, with the first 40 characters of its code (where the marker sits).
REPORT_ONLY_CSP = (
    "default-src 'none'; script-src 'report-sample'; style-src 'self' 'report-sample'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'"
)


def report_only_csp(page_url: str) -> str:
    """:data:`REPORT_ONLY_CSP` plus the template scripts and their feeds, on the page's origin.

    Each is a source expression with a full path, which CSP matches exactly (no prefix), so
    ``/static/tally.js`` loads quietly while ``/static/other.js``, ``/api/...`` or any other
    origin still reports. No keyword is added: inline script, handlers, ``javascript:`` URLs
    and ``eval`` stay violations.
    """
    parts = urlsplit(page_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return REPORT_ONLY_CSP
    origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    scripts = " ".join(origin + path for path in sorted(TEMPLATE_SCRIPTS))
    feeds = " ".join(origin + path for path in sorted(TEMPLATE_FEEDS))
    return REPORT_ONLY_CSP.replace(
        "script-src 'report-sample';",
        f"script-src 'report-sample' {scripts}; connect-src {feeds};", 1)


def swap_csp(headers: dict[str, str], page_url: str) -> dict[str, str]:
    """Drop every enforcing CSP and install the reporting one: let it run, make it speak."""
    out = {k: v for k, v in headers.items()
           if k.lower() not in ("content-security-policy", "content-security-policy-report-only")}
    out["content-security-policy-report-only"] = report_only_csp(page_url)
    return out


#: Runs first in every frame: forwards CSP violations and fakes dialogs. A click on a link or
#: a submit records a ``javascript:`` URL (that is what would run) and is then cancelled, so
#: the page stays put: a ``javascript:`` URL that returns a string replaces the whole
#: document, and every payload after it would go unjudged.
PROBE_JS = r"""(() => {
  if (window.__exodusProbe) return;
  window.__exodusProbe = true;
  const send = (kind, data) => { try { window.__exodusReport(kind, data); } catch (e) {} };
  const attrs = (el) => !el || !el.attributes ? '' :
    Array.from(el.attributes).map(a => a.name + '=' + a.value).join(' ').slice(0, 600);
  document.addEventListener('securitypolicyviolation', (e) => send('csp', {
    directive: e.effectiveDirective || e.violatedDirective || '', blocked: e.blockedURI || '',
    sample: e.sample || '', element: e.target && e.target.nodeType === 1 ? e.target.localName : '',
    live: !!(e.target && e.target.nodeType === 1 && e.target.isConnected), attrs: attrs(e.target)}), true);
  for (const name of ['alert', 'confirm', 'prompt', 'print']) {
    const fake = (...args) => {
      send('dialog', {call: (name + '(' + args.map(String).join(', ') + ')').slice(0, 300)});
      return name === 'prompt' ? null : (name === 'confirm' ? false : undefined);
    };
    try { Object.defineProperty(window, name, {value: fake, writable: true, configurable: true}); }
    catch (e) {}
  }
  const scripted = (u) => /^(javascript|vbscript):/i.test(String(u || '').replace(/[\u0000-\u0020\u007f]/g, ''));
  const hrefOf = (a) => (a.href && typeof a.href === 'object') ? a.href.animVal : (a.href || a.getAttribute('href'));
  document.addEventListener('click', (e) => {
    for (const n of (e.composedPath ? e.composedPath() : [e.target])) {
      if (n && (n.localName === 'a' || n.localName === 'area')) {
        const url = hrefOf(n);
        if (scripted(url)) send('click-url', {url: String(url).slice(0, 300), element: n.localName});
        e.preventDefault();
        return;
      }
    }
  }, true);
  document.addEventListener('submit', (e) => {
    const s = e.submitter, f = e.target;
    const url = (s && s.getAttribute('formaction')) || (f.getAttribute && f.getAttribute('action'));
    if (scripted(url)) send('click-url', {url: String(url).slice(0, 300), element: s ? s.localName : 'form'});
    e.preventDefault();
  }, true);
})();"""

#: Focus, hover and click every element in document order (synthetic events reach elements
#: under an overlay too); a macrotask between elements lets what one queued happen first.
INTERACTION_JS = r"""async ({cap, budgetMs}) => {
  const tick = () => new Promise(r => { const c = new MessageChannel(); c.port1.onmessage = () => r(); c.port2.postMessage(0); });
  const end = performance.now() + budgetMs;
  const moves = ['pointerover', 'pointerenter', 'mouseover', 'mouseenter', 'pointermove', 'mousemove',
                 'pointerdown', 'mousedown', 'pointerup', 'mouseup'];
  const els = Array.from(document.querySelectorAll('*')).slice(0, cap);
  let n = 0;
  for (const el of els) {
    if (performance.now() > end) break;
    if (!el.isConnected) continue;
    n++;
    try { if (el.focus) el.focus({preventScroll: true}); } catch (e) {}
    for (const t of moves) {
      try {
        const C = t.startsWith('pointer') ? PointerEvent : MouseEvent;
        el.dispatchEvent(new C(t, {bubbles: !t.endsWith('enter'), cancelable: true, view: window}));
      } catch (e) {}
    }
    try {
      if (typeof el.click === 'function') el.click();
      else el.dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true, view: window}));
    } catch (e) {}
    try { if (el.blur) el.blur(); } catch (e) {}
    await tick();
  }
  return n;
}"""

#: What is left in the DOM that would run on a tap: handler attributes, scripted URLs.
SCAN_JS = r"""() => {
  const urlAttrs = new Set(['href', 'src', 'action', 'formaction', 'data', 'xlink:href', 'poster',
                            'background', 'codebase', 'lowsrc', 'dynsrc']);
  const animAttrs = new Set(['to', 'from', 'values', 'by']);
  const bad = /^(javascript:|vbscript:|data:text\/html)/;
  const norm = (v) => v.replace(/[\u0000-\u0020\u007f]/g, '').toLowerCase();
  const out = [];
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      const n = a.name.toLowerCase(), shown = '<' + el.localName + ' ' + a.name + '="' + a.value.slice(0, 160) + '">';
      if (n.startsWith('on')) out.push(['dormant-handler', shown]);
      else if ((urlAttrs.has(n) || (animAttrs.has(n) && el instanceof SVGElement)) && bad.test(norm(a.value)))
        out.push(['dormant-url', shown]);
      else if (n === 'content' && el.localName === 'meta' && /url=(javascript|vbscript):/.test(norm(a.value)))
        out.push(['dormant-url', shown]);
    }
  }
  return out;
}"""

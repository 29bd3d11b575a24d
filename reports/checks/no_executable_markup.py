"""``no-executable-markup``: no stored payload can run on any page that shows wishes.

Stored text keeps its markup (docs/architecture.md "Markup policy"), so every output must escape it. The
static oracle (:mod:`exodus2045.reports.oracle_static`) judges every fetched page, always; when the
real-browser oracle ran, its findings (``pages/browser.json``) are merged in, because a
browser sees what a parser cannot (payloads that fire only on interaction).
"""

from __future__ import annotations

from typing import Any

from exodus2045.reports.oracle_static import is_html, scan_pages
from exodus2045.reports.runfolder import RunData
from exodus2045.reports.verdict import CheckResult, capped

ID = "no-executable-markup"


def _browser_findings(browser: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for f in browser.get("findings") or ():
        if isinstance(f, dict):
            marker = f.get("marker")
            out.append(
                {
                    "page": f.get("page"),
                    "kind": f"browser:{f.get('kind', 'execution')}",
                    "element": "",
                    "detail": str(f.get("detail", "")),
                    "markers": [marker] if marker else [],
                }
            )
    return out


def check(run: RunData) -> CheckResult:
    if run.pages is None:
        return CheckResult.skip(ID, f"no pages to judge: {run.why_missing('pages')}")
    findings = [f.to_json() for f in scan_pages(run.pages)]
    static_count = len(findings)
    html_pages = sum(1 for p in run.pages if is_html(p))
    oracles = f"static oracle ({html_pages} HTML of {len(run.pages)} pages)"
    if run.browser is not None:
        findings.extend(_browser_findings(run.browser))
        rendered = run.browser.get("pages_rendered", "?")
        errors = len(run.browser.get("errors") or ())
        trouble = f", {errors} browser errors" if errors else ""
        oracles += f" and the real browser ({rendered} pages rendered{trouble}, findings merged)"
    browser_errors = list((run.browser or {}).get("errors") or ())
    good = not findings and not browser_errors  # a page the browser could not judge is no pass
    if good:
        summary = f"nothing executable found by the {oracles}"
    elif not findings:
        summary = f"the real browser could not judge {len(browser_errors)} page(s): {oracles}"
    else:
        pages = sorted({str(f["page"]) for f in findings})
        summary = (
            f"{len(findings)} executable constructs on {', '.join(pages[:5])} by the {oracles}"
        )
    return CheckResult.judge(
        ID,
        good,
        summary,
        pages=[p.url for p in run.pages],
        static_findings=static_count,
        browser=run.browser is not None,
        browser_errors=browser_errors[:10],
        **capped("findings", findings),
        markers=sorted({m for f in findings for m in f["markers"]}),
    )

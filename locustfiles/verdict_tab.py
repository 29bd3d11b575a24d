"""The Verdict tab and the runs page: what an audited web-UI session has judged so far.

Locust's extra tabs render a table of text (no links), so the tab lists each run of the
session (newest first) with its headline, then each check with its status and summary; the
runs page (``/exodus/runs``, linked from the Download Data tab) lists the same runs with a
link to each one's report.html, served by the console under the report's CSP and sandbox.
Both read only :class:`~exodus2045.locustfiles.web_session.Session` (events and run folders);
nothing here judges anything.
"""

from __future__ import annotations

import html
from typing import Any

from exodus2045.locustfiles.pipeline_view import verdict_summary
from exodus2045.locustfiles.web_session import Session

VERDICT_TAB = {"title": "Verdict", "key": "verdict"}
# no "name" column: Locust sorts tables by it, and these rows have an order
VERDICT_TABLE = {"key": "verdict", "structure": [
    {"key": "run", "title": "Run"}, {"key": "check", "title": "Check"},
    {"key": "status", "title": "Status"}, {"key": "summary", "title": "Summary"}]}
NO_SESSION = ("this web UI is not an audited session: `exodus run SCENARIO --web` starts one "
              "(every Start is judged and listed here)")
REFRESH_S = 2  # the runs page reloads itself while a run is under way or being judged
STATES = {"running": "RUNNING", "auditing": "DRAINING AND AUDITING", "failed": "COULD NOT JUDGE",
          "refused": "REFUSED"}


def headline_of(run: dict[str, Any]) -> str:
    verdict = run.get("verdict")
    if run["state"] == "judged" and verdict and verdict.get("headline"):
        return str(verdict["headline"])
    return STATES.get(run["state"], str(run["state"]).upper())


def line_of(run: dict[str, Any], prefix: str) -> str:
    """The run's one-line account: verdict summary, how many never left, folder, report."""
    if run["state"] == "refused":
        return f"scenario {run.get('scenario')}: {run.get('reason')}"
    if run["state"] == "failed":
        return f"{run.get('reason')} (folder {run.get('run_dir')})"
    if run["state"] != "judged":
        return (f"scenario {run.get('scenario')}, folder {run.get('run_dir')}. Locust stops "
                f"refreshing its tabs when the swarm stops: reload for the verdict, or keep "
                f"{prefix}/runs open (it refreshes itself)")
    text = verdict_summary(run.get("verdict"))
    swarm = run.get("swarm") or {}
    if swarm and not swarm.get("complete"):
        text += (f". Stopped early: {swarm['sent']} of {swarm['planned']} evacuees left, "
                 f"{swarm['never_left']} never left (complete: false)")
    return (f"{text}. Folder {run.get('run_dir')}; report "
            f"{prefix}/runs/{run['run_id']}/report.html")


def verdict_rows(session: Session | None, prefix: str) -> list[dict[str, str]]:
    if session is None:
        return [{"run": "", "check": "", "status": "", "summary": NO_SESSION}]
    rows: list[dict[str, str]] = []
    for run in session.runs():
        rows.append({"run": run["run_id"], "check": "verdict", "status": headline_of(run),
                     "summary": line_of(run, prefix)})
        for check in (run.get("verdict") or {}).get("checks", []):
            rows.append({"run": run["run_id"], "check": check["id"],
                         "status": check["status"], "summary": check["summary"]})
    if not rows:
        rows.append({"run": "", "check": "", "status": "",
                     "summary": "no run yet: press Start (or open /exodus/start)"})
    return rows


def runs_page(session: Session | None, prefix: str, css: str) -> str:
    esc = lambda v: html.escape(str(v), quote=True)  # noqa: E731
    items = []
    for run in session.runs() if session else []:
        report = (f' <a class="report" href="{esc(prefix)}/runs/{esc(run["run_id"])}/report.html">'
                  f"report.html</a>" if run["state"] == "judged" else "")
        items.append(f'<li data-run="{esc(run["run_id"])}"><strong class="headline">'
                     f"{esc(headline_of(run))}</strong> {esc(run['run_id'])}: "
                     f"{esc(line_of(run, prefix))}{report}</li>")
    pending = session is not None and any(r["state"] in ("running", "auditing")
                                          for r in session.runs())
    refresh = f'<meta http-equiv="refresh" content="{REFRESH_S}">' if pending else ""
    body = "".join(items) or f"<li>{esc(NO_SESSION if session is None else 'no run yet')}</li>"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Exodus 2045: runs of this session</title><link rel="stylesheet" href="{esc(css)}">
{refresh}
</head><body><h1>Runs of this session</h1>
<p><a href="/?tab=verdict">Locust UI</a> · <a href="{esc(prefix)}/runs">Refresh</a></p>
<ul>{body}</ul></body></html>"""

"""The Exodus start page of an audited web-UI session: pick a scenario, see it, Start.

Locust's start form is a compiled React app with no hook to load a scenario's values when
the dropdown changes, so the session offers its own page (``/exodus/start``, linked from the
Verdict tab and the runs page). Choosing a scenario there (``?scenario=NAME``) shows its
``[load]`` as the form's values, its chaos timeline and its ``[slo]`` before anything starts,
or says why this session refuses it (another ``[stack]``). Start posts back here; the values
go through the swarm's own validation and Locust's public ``runner.start``, exactly what
Locust's ``/swarm`` does, and the page sends the browser to the Verdict tab.

What is shown comes from the session file the runner wrote
(:class:`~exodus2045.locustfiles.web_session.Session`), never from parsing scenario files
here: scenarios sit above the swarm.
"""

from __future__ import annotations

import html
import json
from typing import Any

import gevent

from exodus2045.app_under_test.errors import ConfigError
from exodus2045.locustfiles.options import SwarmOptions
from exodus2045.locustfiles.web_session import Session

FIELDS = ("evacuees", "arrival_rate", "mars_share", "infiltrator_share", "max_in_flight")


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def start_page(session: Session | None, chosen: str, prefix: str, message: str = "") -> str:
    if session is None:
        body = ("<p>This web UI is not an audited session: <code>exodus run SCENARIO --web"
                "</code> starts one.</p>")
        return _frame(prefix, body)
    name = chosen if chosen in session.scenarios else session.default
    info = session.scenarios.get(name, {})
    options = "".join(f'<option{" selected" if n == name else ""}>{esc(n)}</option>'
                      for n in session.scenarios)
    load = info.get("load") or {}
    chaos = "".join(f"<li>{esc(line)}</li>" for line in info.get("chaos", [])) or \
        "<li>no chaos: the swarm alone</li>"
    slo = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>"
                  for k, v in (info.get("slo") or {}).items())
    stages = load.get("stages") or []
    inputs = "".join(
        f'<label>{esc(k)} <input name="{esc(k)}" value="{esc(load.get(k))}" size="8"></label> '
        for k in FIELDS if not (k == "arrival_rate" and stages))
    if stages:
        inputs += f"<p>arrival stages: {esc(json.dumps(stages))}</p>"
    refused = info.get("refused")
    start = (f'<p class="bad" id="refused">Refused: {esc(refused)}</p>' if refused else
             f'<form method="post" action="{prefix}/start"><input type="hidden" name="scenario" '
             f'value="{esc(name)}">{inputs}<br><button id="start">Start</button></form>')
    note = f'<p class="bad" id="message">{esc(message)}</p>' if message else ""
    body = f"""{note}<form method="get" action="{prefix}/start"><label>Scenario
<select name="scenario">{options}</select></label> <button>Show</button></form>
<h2>{esc(name)}</h2><p>{esc(info.get("description", ""))}</p>
<h3>Chaos timeline</h3><ul id="chaos">{chaos}</ul>
<h3>SLO</h3><table>{slo}</table>
<h3>Load</h3>{start}"""
    return _frame(prefix, body)


def _frame(prefix: str, body: str) -> str:
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Exodus 2045: start a run</title><link rel="stylesheet" href="{prefix}/console.css">
</head><body><h1>Start an audited run</h1>
<p><a href="/?tab=verdict">Locust UI (Verdict tab)</a> · <a href="{prefix}/runs">Runs</a></p>
{body}</body></html>"""


def start_from_form(environment: Any, session: Session | None, form: Any) -> str | None:
    """Start a run with the chosen scenario's values (as edited); None, or why not."""
    if session is None:
        return "not an audited session"
    runner = environment.runner
    if runner is None or runner.state not in ("ready", "stopped"):
        return "a run is under way: Stop it first, or wait for its end"
    name = str(form.get("scenario", ""))
    refused = session.refusal(name)
    if refused:
        return refused
    load = session.scenarios[name].get("load") or {}
    values = {k: str(form.get(k, load.get(k, ""))).strip() for k in FIELDS}
    stages = load.get("stages") or []
    options = environment.parsed_options
    candidate = {"scenario": name, "evacuees": values["evacuees"],
                 "mars_share": values["mars_share"],
                 "infiltrator_share": values["infiltrator_share"],
                 "arrival_rate": values["arrival_rate"] if not stages else "1",
                 "exodus_stages": json.dumps(stages) if stages else None}
    try:
        users = int(values["max_in_flight"])
        if not 1 <= users <= 10_000:
            raise ValueError("max_in_flight must be between 1 and 10,000")
        SwarmOptions.from_parsed(type("Form", (), candidate)())  # the swarm's own rules
    except (ConfigError, ValueError) as exc:
        return f"not started: {exc}"
    for key, value in {**candidate, "num_users": users, "spawn_rate": float(users)}.items():
        setattr(options, key, value)  # what Locust's /swarm records for a start, too
    gevent.spawn(runner.start, users, float(users))
    return None

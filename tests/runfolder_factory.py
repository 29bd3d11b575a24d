"""Crafted run folders for tests: a complete, SOUND run of 20 wishes, with knobs to break it.

Checks, renderers and the CLI all need run folders whose truth is known in advance. Running
the real stack for that is slow and never breaks in exactly one way, so this builder writes
the folder docs/run-folder.md describes from fixed times and fixed ids (deterministic, so a
renderer can snapshot it), and each keyword argument breaks exactly one property.

The crafted run: evacuees n = 0..19 sent every 0.5 s from ``T0``; n = 5 and 11 are
infiltrators whose markup is valid text (accepted, stored, escaped on the wall); n = 8 and 15
are bad input (rejected with 4xx, never stored); n = 3 got a 503 and was acknowledged on its
retry; the parser was killed from t = 4 s to t = 6 s (``FAULT_CHECK_ID``) and the backlog it
left drained by t = 8 s; one poison message sits in the DLQ with its reason; one audience
wish arrived during the run. ``make_run_folder(tmp_path)`` audits sound.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import nh3

from exodus2045.app_under_test.wish import has_markup, normalise_text

T0 = 1764324900.0
RUN_ID = "r-20261128T101500Z-crafted"
WISHES = 20
ACCEPTED_INFILTRATORS = (5, 11)
REJECTS = (8, 15)
RETRIED = 3
FAULT_ON, FAULT_OFF = 4.0, 6.0
FAULT_CHECK_ID = "recovery:kill:parser@4s"
FIELDS = ("wish_id", "evacuee", "destination", "message")
CSP = (
    "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
NAMES = (
    "Ada Okafor", "Björn Lindqvist", "  Zoë Ndiaye ", "Ravi Menon", "Mei Tanaka", "Nyx",
    "Jose\u0301 Ruiz", "Ilse Brandt", "Mallory", "Tomás Ortega", "Amara Osei", "Eve",
    "Lena Novak", "Kofi Mensah", "Sora Aoki", "Trent", "Yara Haddad", "Omar Farouk",
    "Priya Nair", "Hugo Lefèvre",
)  # fmt: skip


def wish_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def marker(n: int) -> str:
    return f"XMa{n:07x}"


def _destination(n: int) -> str:
    return "mars" if n % 5 in (0, 1, 2) else "jupiter"


def _sent(n: int) -> dict[str, Any]:
    """What evacuee ``n`` sent, before any normalisation."""
    message = f"Plant a tree for me, number {n}."
    destination = "Mars" if n == 4 else _destination(n)
    if n == 9:
        message = "Cafe\u0301 \x07at the end of the world"  # NFC + a control character
    elif n == 5:
        message = f"<img src=x onerror=alert('{marker(n)}')>"
    elif n == 11:
        message = f"\"><svg onload=alert('{marker(n)}')>"
    elif n == 8:
        destination, message = "venus", f"<script>alert('{marker(n)}')</script>"
    elif n == 15:
        message = "x" * 2001 + marker(n)
    return {
        "wish_id": wish_id(n),
        "evacuee": NAMES[n],
        "destination": destination,
        "message": message,
    }


def _kind(n: int) -> str:
    return "infiltrator" if n in ACCEPTED_INFILTRATORS + REJECTS else "evacuee"


def _ledger(n: int, reject_status: int | None, latency: float | None) -> list[dict[str, Any]]:
    intended = T0 + 0.5 * n
    base = {
        "wish_id": wish_id(n),
        "run_id": RUN_ID,
        "kind": _kind(n),
        "destination": _sent(n)["destination"],
        "payload": marker(n) if _kind(n) == "infiltrator" else None,
        "expect": "reject" if n in REJECTS else "accept",
        "n": n,
    }
    statuses = [503, 202] if n == RETRIED else [202]
    if n in REJECTS:
        statuses = [reject_status if reject_status is not None else (400 if n == 8 else 422)]
    lines = []
    for i, status in enumerate(statuses, start=1):
        sent_at = intended + 0.001 + 0.2 * (i - 1)
        ms = 5.0 if status == 503 else float(20 + n)
        if status == 202 and latency is not None:
            ms = latency
        lines.append(
            {
                **base,
                "attempt": i,
                "status": status,
                "intended_at": intended,
                "sent_at": round(sent_at, 3),
                "latency_ms": ms,
                "response_ms": round((sent_at - intended) * 1000 + ms, 3),
            }
        )
    return lines


def _stored(n: int, ledger: list[dict[str, Any]]) -> dict[str, Any]:
    sent = _sent(n)
    ack = next(a for a in ledger if a["status"] == 202)
    accepted = round(ack["sent_at"] + ack["latency_ms"] / 1000, 3)
    parsed = round(
        max(accepted, T0 + FAULT_OFF + 0.2) + 0.05
        if FAULT_ON <= accepted - T0 < FAULT_OFF
        else accepted + 0.1,
        3,
    )
    message = normalise_text(sent["message"])
    return {
        "wish_id": sent["wish_id"],
        "run_id": RUN_ID,
        "source": "swarm",
        "evacuee": normalise_text(sent["evacuee"]).strip(),
        "destination": sent["destination"].strip().lower(),
        "message": message,
        "markup": has_markup(message),
        "accepted_at": accepted,
        "parsed_at": parsed,
        "stored_at": round(parsed + 0.2, 3),
        "hidden": False,
        # hop times (reports/hops.py): a parser outage holds wishes in queue wait 1
        "trace_id": sent["wish_id"].replace("-", ""),
        "enqueued_at": round(accepted + 0.004, 3),
        "parse_started_at": round(parsed - 0.01, 3),
        "store_started_at": round(parsed + 0.15, 3),
    }


def _metrics(slow_recovery: bool, undrained: bool, faults: bool) -> list[dict[str, Any]]:
    # Past the healthy in-flight level (a batch of 10 per poller, 2 parsers) while it lasts.
    backlog = {5: 40, 6: 80, 7: 30} if faults else {}
    samples = []
    for t in range(13):
        visible = backlog.get(t, 0)
        if slow_recovery and t >= 5:
            visible = max(visible, 60)
        parsed_left = 3 if undrained and t >= 10 else 0
        samples.append(
            {
                "t": float(t),
                "at": T0 + t,
                "queues": {
                    "wishes": {
                        "visible": visible,
                        "in_flight": 1 if t in (1, 3) else 0,
                        "dlq": 1 if t >= 7 else 0,
                    },
                    "parsed": {"visible": parsed_left, "in_flight": 0, "dlq": 0},
                },
                "stored": min(18, 2 * t),
                "tally": {},
                "restarts": 1 if faults and t >= 6 else 0,
            }
        )
    return samples


def _page(url: str, file: str, content_type: str, csp: str | None) -> dict[str, Any]:
    headers = {"content-type": content_type, "x-content-type-options": "nosniff"}
    if csp:
        headers["content-security-policy"] = csp
    return {
        "url": url,
        "file": file,
        "status": 200,
        "content_type": content_type,
        "headers": headers,
    }


def _wall(rows: list[dict[str, Any]], raw: bool, extra: str) -> str:
    def show(text: str) -> str:
        return text if raw else html.escape(text)

    items = "\n".join(
        f'<li class="wish"><span class="evacuee">{show(w["evacuee"])}</span> '
        f'<span class="dest">{html.escape(w["destination"])}</span><p>{show(w["message"])}</p></li>'
        for w in rows
    )
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>Last wishes</title>'
        f'<link rel="stylesheet" href="/static/wall.css"></head><body><h1>Last wishes</h1>'
        f'<ul class="wall">\n{items}\n{extra}</ul></body></html>'
    )


JOIN_PAGE = (
    '<!doctype html><html><head><meta charset="utf-8"><title>Exodus 2045</title></head>'
    '<body><form method="post" action="/api/wishes"><input name="evacuee" required>'
    '<select name="destination"><option>mars</option><option>jupiter</option></select>'
    '<textarea name="message"></textarea><button>Leave my wish</button></form></body></html>'
)


def make_run_folder(
    tmp_path: Path,
    *,
    name: str = "20261128T101500Z-crafted",
    missing: Iterable[int] = (),
    duplicates: Iterable[int] = (),
    phantoms: int = 0,
    tally_off_by: int = 0,
    altered: Mapping[int, str] | None = None,
    strip_markup: bool = False,
    wrong_markup_flag: bool = False,
    reject_status: int | None = None,
    store_reject: bool = False,
    reject_marker_elsewhere: bool = False,
    raw_wall: bool = False,
    wall_extra: str = "",
    html_api: bool = False,
    no_csp: bool = False,
    browser_findings: list[dict[str, Any]] | None = None,
    undrained: bool = False,
    missed_drain_deadline: bool = False,
    dlq_without_reason: bool = False,
    dlq_acknowledged: bool = False,
    submit_latency_ms: float | None = None,
    slo: Mapping[str, Any] | None = None,
    slow_recovery: bool = False,
    faults: bool = True,
    interrupted: bool = False,
    visibility: Mapping[str, bool] | None = None,
    omit: Iterable[str] = (),
    corrupt: tuple[str, int] | None = None,
    mutate: Callable[[dict[str, Any]], None] | None = None,
) -> Path:
    """Write a crafted run folder under ``tmp_path / name`` and return its path.

    Knobs (each breaks one thing): ``missing``/``duplicates`` (wish numbers lost / stored
    twice), ``phantoms`` (stored, never sent), ``tally_off_by`` (mars counter), ``altered``
    (n -> stored message), ``strip_markup``, ``wrong_markup_flag``, ``reject_status`` (the
    answer bad input n=8 got), ``store_reject``, ``reject_marker_elsewhere`` (n=15's marker
    stored under another id), ``raw_wall``, ``wall_extra`` (HTML appended raw to the wall),
    ``html_api`` (a JSON page served as text/html), ``no_csp``, ``browser_findings``
    (writes pages/browser.json), ``undrained``, ``missed_drain_deadline``,
    ``dlq_without_reason``, ``dlq_acknowledged`` (n=1 dead-lettered instead of stored),
    ``submit_latency_ms`` (every 202), ``slo`` (bounds merged into run.json), ``slow_recovery``
    (backlog never returns), ``faults=False`` (no fault at all), ``interrupted``,
    ``visibility``, ``omit`` (file names, or ``"pages"``), ``corrupt=(file, line)``, and
    ``mutate(files)`` to edit the in-memory files (name -> JSON value, jsonl rows or text).
    """
    ledger = [line for n in range(WISHES) for line in _ledger(n, reject_status, submit_latency_ms)]
    acked = sorted({a["n"] for a in ledger if a["status"] == 202} - set(REJECTS))
    lost = set(missing) | ({1} if dlq_acknowledged else set())
    store = [_stored(n, [a for a in ledger if a["n"] == n]) for n in acked if n not in lost]
    by_n = {int(w["wish_id"][-12:]): w for w in store}
    _break_texts(by_n, dict(altered or {}), strip_markup, wrong_markup_flag)
    store += [dict(by_n[n]) for n in duplicates]
    store += _intruders(store[0], phantoms, store_reject, reject_marker_elsewhere)
    audience = [
        {**store[0], "wish_id": "aaaaaaaa-0000-4000-8000-000000000001", "run_id": None,
         "source": "audience", "evacuee": "Someone in row 3", "destination": "mars",
         "message": "Save me a window seat."}
    ]  # fmt: skip
    before = {"mars": 100, "jupiter": 50}
    after = dict(before)
    for w in store + audience:
        after[w["destination"]] = after.get(w["destination"], 0) + 1
    dead_letters = _dead_letters(dlq_without_reason, dlq_acknowledged)
    depth = {"visible": 3, "in_flight": 1} if undrained else {"visible": 0, "in_flight": 0}
    files: dict[str, Any] = {
        "run.json": _run_meta(slo, faults, interrupted, missed_drain_deadline, visibility),
        "ledger.jsonl": ledger,
        "sent.jsonl": [_sent(n) for n in range(WISHES)],
        "swarm.json": {"sent": WISHES, "acknowledged": len(acked), "rejected": len(REJECTS),
                       "errors": 1, "late": 0, "dropped": 0, "started_at": T0,
                       "ended_at": T0 + 10.0},
        "timeline.jsonl": _timeline() if faults else [],
        "metrics.jsonl": _metrics(slow_recovery, undrained, faults),
        "store-snapshot.jsonl": store,
        "audience-snapshot.jsonl": audience,
        "tally.json": {
            "before": {"tally": before, "stored": dict(before)},
            "after": {"tally": {**after, "mars": after["mars"] + tally_off_by}, "stored": after},
        },
        "queues.json": {
            "queues": {"wishes": {"visible": 0, "in_flight": 0, "dlq": len(dead_letters)},
                       "parsed": {**depth, "dlq": 0}},
            "dead_letters": dead_letters,
        },
        **_pages(store, after, by_n, raw_wall, wall_extra, html_api, no_csp),
    }  # fmt: skip
    if browser_findings is not None:
        files["pages/browser.json"] = {"findings": browser_findings, "pages_rendered": 2}
    if mutate is not None:
        mutate(files)
    return _write(tmp_path / name, files, set(omit), corrupt)


def _break_texts(
    by_n: dict[int, dict[str, Any]], altered: dict[int, str], strip: bool, flip: bool
) -> None:
    """Stored text that is not what was sent: altered, sanitised, or flagged wrongly."""
    for n, message in altered.items():
        by_n[n]["message"] = message
    if strip:
        for n in ACCEPTED_INFILTRATORS:
            by_n[n]["message"] = nh3.clean(by_n[n]["message"])
            by_n[n]["markup"] = has_markup(by_n[n]["message"])
    if flip:
        by_n[ACCEPTED_INFILTRATORS[0]]["markup"] = not by_n[ACCEPTED_INFILTRATORS[0]]["markup"]


def _intruders(
    template: dict[str, Any], phantoms: int, store_reject: bool, marker_elsewhere: bool
) -> list[dict[str, Any]]:
    """Stored rows that should not exist: never sent, or bad input that got through."""
    rows = [
        {**template, "wish_id": f"ffffffff-0000-4000-8000-{i:012d}",
         "message": f"I was never sent ({i})"}
        for i in range(phantoms)
    ]  # fmt: skip
    if store_reject:
        sent = _sent(REJECTS[0])
        rows.append({**template, **{k: sent[k] for k in FIELDS}, "markup": True})
    if marker_elsewhere:
        rows.append({**template, "wish_id": "eeeeeeee-0000-4000-8000-000000000015",
                     "message": f"forwarded: {marker(REJECTS[1])}"})  # fmt: skip
    return rows


def _dead_letters(without_reason: bool, acknowledged: bool) -> list[dict[str, Any]]:
    poison = {"queue": "wishes", "message_id": "dlq-0001", "body": '{"truncated',
              "reason": "malformed JSON: Unterminated string", "receive_count": 1,
              "sent_at": T0 + 7.0}  # fmt: skip
    letters = [poison]
    if without_reason:
        letters.append({**poison, "message_id": "dlq-0002", "reason": ""})
    if acknowledged:
        letters.append({**poison, "message_id": "dlq-0003", "queue": "parsed",
                        "body": json.dumps(_sent(1)), "reason": "store: write failed"})  # fmt: skip
    return letters


def _timeline() -> list[dict[str, Any]]:
    return [
        {"t": t, "at": f"2026-11-28T10:15:0{int(t)}Z", "event": ev, "fault": "kill",
         "target": "parser", "params": {"duration_s": 2.0}, "source": "scenario"}
        for t, ev in ((FAULT_ON, "on"), (FAULT_OFF, "off"))
    ]  # fmt: skip


def _run_meta(
    slo: Mapping[str, Any] | None,
    faults: bool,
    interrupted: bool,
    missed_deadline: bool,
    visibility: Mapping[str, bool] | None,
) -> dict[str, Any]:
    bounds = {"warmup_s": 0, "submit_p95_ms": 250, "error_ratio": 0.1, "e2e_p95_s": 30,
              "drain_within_s": 60, "recover_within_s": 10, **(slo or {})}  # fmt: skip
    chaos = [{"at": "4s", "fault": "kill", "target": "parser", "duration": "2s"}] if faults else []
    load = {"evacuees": WISHES, "arrival_rate": 2, "stages": None, "max_in_flight": 8,
            "mars_share": 0.6, "infiltrator_share": 0.2}  # fmt: skip
    return {
        "schema_version": 1, "run_id": RUN_ID, "seed": 2045,
        "scenario": {"name": "crafted", "description": "A crafted run for tests.",
                     "path": "scenarios/crafted.toml", "load": load, "slo": bounds,
                     "chaos": chaos, "audit": {"browser": False},
                     "stack": {"frontends": 1, "parsers": 1, "pod_workers": 1, "flaws": []}},
        "target": "http://127.0.0.1:8045", "state_dir": "/tmp/crafted-state",
        "started_at": T0, "swarm_ended_at": T0 + 10.0, "drained_at": T0 + 12.0,
        "ended_at": T0 + 13.0, "interrupted": interrupted,
        "phases": {"stack_s": 1.0, "swarm_s": 10.0, "drain_s": 2.0, "audit_s": 0.5},
        "drain": {"drained": not missed_deadline, "seconds": 2.0, "deadline_s": 60},
        "flaws": [], "visibility": {"store": True, "queues": True, **(visibility or {})},
    }  # fmt: skip


def _pages(
    store: list[dict[str, Any]],
    tally: dict[str, int],
    by_n: dict[int, dict[str, Any]],
    raw_wall: bool,
    wall_extra: str,
    html_api: bool,
    no_csp: bool,
) -> dict[str, Any]:
    """pages/index.json and the pages it lists, as the runner fetches them after drain."""
    html_type, csp = "text/html; charset=utf-8", None if no_csp else CSP
    api_wish = html_type if html_api else "application/json"
    latest = list(reversed(store))
    return {
        "pages/index.json": [
            _page("/wall?limit=200", "wall.html", html_type, csp),
            _page("/", "index.html", html_type, csp),
            _page("/api/wall?limit=200", "api_wall.json", "application/json", None),
            _page("/api/tally", "api_tally.json", "application/json", None),
            *[
                _page(f"/api/wishes/{wish_id(n)}", f"wish_{n}.json", api_wish, None)
                for n in ACCEPTED_INFILTRATORS
            ],
        ],
        "pages/wall.html": _wall(latest, raw_wall, wall_extra),
        "pages/index.html": JOIN_PAGE,
        "pages/api_wall.json": latest,
        "pages/api_tally.json": tally,
        **{f"pages/wish_{n}.json": by_n.get(n, {}) for n in ACCEPTED_INFILTRATORS},
    }


def _write(
    root: Path, files: Mapping[str, Any], omit: set[str], corrupt: tuple[str, int] | None
) -> Path:
    for rel, value in files.items():
        if rel in omit or rel.split("/")[0] in omit:
            continue
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(value, str):
            text = value
        elif rel.endswith(".jsonl"):
            text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in value)
        else:
            text = json.dumps(value, indent=2, ensure_ascii=False)
        if corrupt is not None and corrupt[0] == rel:
            lines = text.splitlines(keepends=True)
            lines[corrupt[1] - 1] = '{"wish_id": "00000000-0000-4000-8000-0000\n'
            text = "".join(lines)
        path.write_text(text, encoding="utf-8")
    return root

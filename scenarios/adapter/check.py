"""``exodus adapter check``: one wish end to end, and what a run will be able to judge.

The first thing a team runs: the adapter file is validated, the target probed, then one
clearly labelled wish is sent through the translator, looked up until stored, compared
field by field, the tally read before and after, the listing searched for it, and each page
fetched; the queues and dead letters its ``[evidence]`` part names are read once
(:mod:`.evidence_check`). The report ends with one line per core check: judged, and from
what, or not, and why -- the same reasons the run's verdict will give.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from exodus2045.reports.content_modes import differs
from exodus2045.reports.input_limits import EXODUS
from exodus2045.scenarios.adapter.auth import preflight
from exodus2045.scenarios.adapter.spec import Adapter
from exodus2045.scenarios.adapter.translator import Translator
from exodus2045.scenarios.evidence.reach import probe

if TYPE_CHECKING:
    from exodus2045.app_under_test.settings import AwsConfig


@dataclass
class CheckReport:
    lines: list[tuple[str, str]] = field(default_factory=list)  # (step, what happened)
    judges: list[tuple[str, str]] = field(default_factory=list)  # (check, judged how / why not)
    ok: bool = True

    def step(self, name: str, text: str, ok: bool = True) -> None:
        self.lines.append((name, text if ok else f"FAILED: {text}"))
        self.ok = self.ok and ok

    def render(self) -> str:
        width = max(len(n) for n, _ in self.lines + self.judges)
        out = [f"{n:<{width}}  {t}" for n, t in self.lines]
        out += ["", "what a run with this adapter will judge:"]
        out += [f"  {n:<{width}}  {t}" for n, t in self.judges]
        out += ["", "adapter check: OK" if self.ok else "adapter check: FAILED (see above)"]
        return "\n".join(out)


def check_adapter(adapter: Adapter, target: str, wait_s: float = 30.0,
                  sleep: Callable[[float], None] = time.sleep,
                  aws: AwsConfig | None = None) -> CheckReport:
    """Raise :class:`TargetUnreachable` when the target is not there; else the report."""
    report = CheckReport()
    status = probe(target)
    preflight(adapter, target)  # credentials refused: "could not run", as the run says
    report.step("target", f"{target} answers HTTP (GET / -> {status})")
    if adapter.auth:
        report.step("auth", f"AWS SigV4 for {adapter.auth.service} in {adapter.auth.region}, "
                    "credentials from the environment")
    token = uuid.uuid4().hex
    with Translator(adapter, target, None, token=token) as t, \
            httpx.Client(base_url=t.url, timeout=15) as client:
        before = client.get("/api/tally")
        tally_ok = before.status_code == 200
        report.step("tally", f"GET {adapter.tally_path} {adapter.tally_pointer} -> "
                    + (str(before.json()["tally"]) if tally_ok else f"{before.status_code}"),
                    tally_ok)
        wish_id = str(uuid.uuid4())
        wish = {"wish_id": wish_id, "evacuee": "Exodus adapter check", "destination": "mars",
                "message": f"adapter check {wish_id[:8]}: <b>kept literal</b> & NFC é"}
        r = client.post("/api/wishes", json=wish, headers={"x-exodus-run": "adapter-check"})
        accepted = r.status_code == 202
        theirs = t.ids.get(wish_id)
        report.step("submit", f"{adapter.method} {adapter.submit_path} -> "
                    + ("accepted" if accepted else f"{r.status_code} {r.text[:200]!r}")
                    + (f", their id {theirs} (at {adapter.id_pointer})" if theirs else
                       "" if not adapter.id_pointer else f", no id at {adapter.id_pointer}"),
                    accepted and (theirs is not None or not adapter.id_pointer))
        found, row, waited = False, None, 0.0
        start = time.monotonic()
        while accepted and time.monotonic() - start < wait_s:
            got = client.get(f"/api/wishes/{wish_id}")
            if got.status_code == 200:
                found, row = True, got.json()
                break
            sleep(0.2)
        waited = time.monotonic() - start
        if accepted:
            same = [f for f in ("evacuee", "destination", "message") if row and (
                row.get(f) == wish[f] if f == "destination"
                else differs(adapter.content, wish[f], row.get(f)) is None)]
            report.step("lookup", f"GET {adapter.lookup_path} -> "
                        + (f"stored after {waited:.1f}s; fields that match what was sent: "
                           f"{', '.join(same) or 'none'} (content = {adapter.content!r})"
                           if found else
                           f"not stored within {wait_s:.0f}s"), found)
        if tally_ok and found:
            # a tally may trail the store (a cache, a read replica, a public view refreshed
            # each second, as Exodus's own is): read until it moves, within the same wait
            base = before.json()["tally"]
            while True:
                after = client.get("/api/tally").json()["tally"]
                moved = {k: after.get(k, 0) - base.get(k, 0) for k in set(after) | set(base)}
                moved = {k: v for k, v in moved.items() if v}
                if moved or time.monotonic() - start >= wait_s:
                    break
                sleep(0.2)
            report.step("tally", f"moved by {moved or 'nothing'} (expected mars +1)",
                        moved.get("mars") == 1)
        listed = None
        if adapter.listing:
            lst = client.get("/api/admin/runs/adapter-check/wishes",
                             headers={"authorization": f"Bearer {token}"})
            listed = lst.status_code == 200 and any(
                w.get("wish_id") == wish_id for w in lst.json().get("wishes", []))
            report.step("listing", f"GET {adapter.listing.path} -> "
                        + ("lists the wish" if listed else "does not list the wish"), listed)
        from exodus2045.scenarios.adapter.evidence_check import (
            EvidenceFindings,
            check_evidence,
            judges,
        )

        evidence = check_evidence(adapter, client, token, wish_id if found else None, t.claim,
                                  report.step, aws) if adapter.evidence else EvidenceFindings()
        pages = []
        for path in adapter.pages:
            page = client.get(path)
            pages.append(path)
            report.step("page", f"GET {path} -> {page.status_code} "
                        f"{page.headers.get('content-type', '')}", page.status_code == 200)
    limits = ("expected answers by the adapter's [limits]" if adapter.limits else
              f"no [limits]: Exodus's assumed (message at most {EXODUS.message_max})")
    listing_why = ("the adapter names no [listing]" if not adapter.listing
                   else "the listing did not show the wish")
    rows = "the listing" if listed else f"the table {evidence.table}" if evidence.table else None
    report.judges = [
        ("exactly-once", f"yes, from {rows}" if rows else
         f"loss only (by lookup); duplicates not: {listing_why}"),
        ("no-phantoms", f"yes, from {rows}" if rows else f"no: {listing_why}"),
        ("tally", "yes: the tally delta against what was acknowledged (another client's "
         "traffic during the run would show as a difference)" if tally_ok else
         "no: the tally route did not answer"),
        ("content", "yes, by lookup" if found else "no: the lookup did not find the wish"),
        ("bad-input", f"yes, from the answers (and the store, where visible); {limits}"),
        ("no-false-rejects", f"yes, from the answers; {limits}"),
        ("no-executable-markup", f"yes, on {len(pages)} page(s)" if pages else
         "no: the adapter names no [pages]"),
        *judges(evidence),
    ]
    return report

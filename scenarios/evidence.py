"""Collect what the audit needs into the run folder: store, queues, tally, pages, metrics.

The audit reads only the run folder, so everything it judges is written here first, as the
pipeline looked at the end of the run (and, for metrics, once a second during it).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from exodus2045.app_under_test.backends.local import LocalBackend, open_local
from exodus2045.app_under_test.stackview import stack_status
from exodus2045.app_under_test.statedir import StateDir

PAGE_PATHS = ("/wall?limit=200", "/", "/tally", "/api/wall?limit=200", "/api/tally", "/message")
SAMPLE_WISH_PAGES = 20


def write_jsonl(path: Path, rows) -> int:
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


class Evidence:
    """Reads the pipeline (directly when the state dir is visible, else over HTTP)."""

    def __init__(self, run_dir: Path, url: str, state: StateDir | None) -> None:
        self.run_dir = run_dir
        self.url = url.rstrip("/")
        self.state = state
        self.http = httpx.Client(base_url=self.url, timeout=10.0)
        self._backend: LocalBackend | None = open_local(state) if state else None

    def close(self) -> None:
        self.http.close()
        if self._backend:
            self._backend.close()

    @property
    def sees_store(self) -> bool:
        return self._backend is not None

    # -- point-in-time views ---------------------------------------------------------------
    def tally(self) -> dict[str, Any]:
        if self._backend:
            return {"tally": self._backend.store.tally(),
                    "stored": self._backend.store.counts_by_destination()}
        tally = self.http.get("/api/tally").json().get("tally", {})
        return {"tally": tally, "stored": None}

    def sample(self, t0: float) -> dict[str, Any]:
        now = time.time()
        row: dict[str, Any] = {"t": round(now - t0, 3), "at": now}
        if self._backend and self.state:
            status = stack_status(self.state.root, self._backend)
            row.update(queues=status["queues"], stored=status["stored"], tally=status["tally"],
                       restarts=status["restarts"])
        else:
            row.update(queues=None, stored=None, tally=self.tally()["tally"], restarts=None)
        return row

    def backlog(self) -> int | None:
        """Messages visible or in flight in both queues (None when not visible)."""
        if not self._backend:
            return None
        depths = (q.depth() for q in (self._backend.wishes, self._backend.parsed))
        return sum(d.visible + d.in_flight for d in depths)

    def stored_count(self) -> int | None:
        return self._backend.store.count() if self._backend else None

    # -- end-of-run snapshots --------------------------------------------------------------
    def write_store_snapshot(self, run_id: str, acked_ids: list[str], since: float) -> None:
        if self._backend:
            write_jsonl(self.run_dir / "store-snapshot.jsonl", self._backend.store.iterate(run_id))
            audience = (w for w in self._backend.store.iterate(None)
                        if w["source"] == "audience" and (w["stored_at"] or 0) >= since)
            write_jsonl(self.run_dir / "audience-snapshot.jsonl", audience)
            return
        rows = []
        for wish_id in acked_ids:  # HTTP only: what the API says about what we sent
            r = self.http.get(f"/api/wishes/{wish_id}")
            if r.status_code == 200:
                rows.append(r.json())
        write_jsonl(self.run_dir / "store-snapshot.jsonl", rows)

    def write_queues(self) -> None:
        if not self._backend:
            return
        queues, dead = {}, []
        for q in (self._backend.wishes, self._backend.parsed):
            queues[q.name] = q.depth().as_dict()
            dead += [{"queue": q.name, **d} for d in q.dead_letters()]
        (self.run_dir / "queues.json").write_text(
            json.dumps({"queues": queues, "dead_letters": dead}, indent=2, ensure_ascii=False))

    def write_pages(self, sample_ids: list[str]) -> None:
        pages = self.run_dir / "pages"
        pages.mkdir(exist_ok=True)
        index = []
        paths = list(PAGE_PATHS) + [f"/api/wishes/{i}" for i in sample_ids[:SAMPLE_WISH_PAGES]]
        for n, path in enumerate(paths):
            try:
                r = self.http.get(path)
            except httpx.HTTPError:
                continue
            if r.status_code == 404 and path == "/message":
                continue
            ctype = r.headers.get("content-type", "")
            ext = "html" if "html" in ctype else "json" if "json" in ctype else "txt"
            name = f"{n:02d}-{path.strip('/').split('?')[0].replace('/', '-') or 'index'}.{ext}"
            (pages / name).write_bytes(r.content)
            index.append({"url": path, "file": name, "status": r.status_code,
                          "content_type": ctype,
                          "headers": {k.lower(): v for k, v in r.headers.items()}})
        (pages / "index.json").write_text(json.dumps(index, indent=2))


class Sampler(threading.Thread):
    """Writes metrics.jsonl once a second and feeds an optional progress callback."""

    def __init__(self, evidence: Evidence, path: Path, t0: float, on_sample=None,
                 period_s: float = 1.0) -> None:
        super().__init__(name="sampler", daemon=True)
        self.evidence = evidence
        self.path = path
        self.t0 = t0
        self.on_sample = on_sample
        self.period_s = period_s
        self.stop_event = threading.Event()
        self.last: dict[str, Any] | None = None
        self._own = StateDir(evidence.state.root) if evidence.state else None

    def run(self) -> None:
        # A connection of its own: sqlite3 connections are not shared across threads here.
        ev = Evidence(self.evidence.run_dir, self.evidence.url, self._own)
        try:
            with self.path.open("a", encoding="utf-8") as f:
                while True:
                    try:
                        self.last = ev.sample(self.t0)
                        f.write(json.dumps(self.last) + "\n")
                        f.flush()
                        if self.on_sample:
                            self.on_sample(self.last)
                    except (httpx.HTTPError, OSError):
                        pass  # a missed sample is a gap in a chart, not a failed run
                    if self.stop_event.is_set():
                        break  # that was the closing sample: the state the run ended in
                    self.stop_event.wait(self.period_s)
        finally:
            ev.close()

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=10)

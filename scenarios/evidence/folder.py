"""The normalised form answers take in the run folder (docs/run-folder.md).

Whichever source answered, an answer lands in the same file with the same shape, so the
audit reads one format and ``exodus report RUN_DIR`` re-renders any run. Writes go through a
temporary file and a rename: a reader (or a crash) never sees half an answer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exodus2045.scenarios.evidence.protocol import FetchedPage, Lookup

if TYPE_CHECKING:
    from exodus2045.reports.ahead import RowsAhead

STORE_SNAPSHOT = "store-snapshot.jsonl"
AUDIENCE_SNAPSHOT = "audience-snapshot.jsonl"
LOOKUPS = "lookups.jsonl"
TALLY = "tally.json"
QUEUES = "queues.json"
PAGES_INDEX = "pages/index.json"
METRICS = "metrics.jsonl"
#: ``json.dumps(row, ensure_ascii=False)`` without a new encoder per row (the same text).
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode


def write_jsonl(path: Path, rows: Iterable[Any], keep: RowsAhead | None = None) -> int:
    """One JSON object a line; returns how many. The file appears only once complete.

    ``keep`` holds on to the rows as written, for the audit (:mod:`exodus2045.reports.ahead`).
    """
    tmp = path.with_name(f".{path.name}.tmp")
    n = 0
    if keep is not None:
        keep.reset()
    try:
        with tmp.open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(_ENCODE(row) + "\n")
                n += 1
                if keep is not None:
                    keep.keep(row)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    if keep is not None:
        keep.written(path)
    return n


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def write_lookups(path: Path, lookups: Sequence[Lookup]) -> int:
    return write_jsonl(path, (lookup.to_json() for lookup in lookups))


def write_pages(run_dir: Path, pages: Sequence[FetchedPage]) -> int:
    """Each page's bytes as served, plus ``pages/index.json`` (url, file, status, headers)."""
    folder = run_dir / "pages"
    folder.mkdir(exist_ok=True)
    index = []
    for n, page in enumerate(pages):
        ctype = page.content_type
        ext = "html" if "html" in ctype else "json" if "json" in ctype else "txt"
        stem = page.url.strip("/").split("?")[0].replace("/", "-") or "index"
        name = f"{n:02d}-{stem}.{ext}"
        (folder / name).write_bytes(page.body)
        index.append({"url": page.url, "file": name, "status": page.status,
                      "content_type": ctype, "headers": dict(page.headers)})
    write_json(folder / "index.json", index)
    return len(index)

"""The translator's queue and dead-letter routes: a team's admin API in Exodus's shapes.

The ``http`` evidence source reads a pipeline's queues as ``GET /api/admin/queues``
(``{"queues": {name: {visible, in_flight, dlq}}}``) and its dead letters as
``GET /api/admin/dead-letters`` (``{"dead_letters": [{queue, message_id, body, reason,
wish_id}]}``), both presenter-only. Against a team's pipeline the translator answers them
from the routes the adapter's ``[evidence.queues]`` and ``[evidence.dead_letters]`` name
(:mod:`.evidence_spec`), through the pointers given there. A pointer that finds nothing is
an error (502 naming it), never a zero: an empty queue and a wrong pointer must not look
alike.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from exodus2045.scenarios.adapter.spec import Adapter, pointer_get
from exodus2045.scenarios.evidence.http import HttpSourceConfig

if TYPE_CHECKING:
    from exodus2045.scenarios.adapter.translator import Translator

QUEUES = "/api/admin/queues"
DEAD_LETTERS = "/api/admin/dead-letters"


def http_paths(config: HttpSourceConfig, adapter: Adapter) -> HttpSourceConfig:
    """The http source's config for a run through the translator: the listing, queue and
    dead-letter routes only where the adapter names what answers them."""
    shown = adapter.evidence
    return dataclasses.replace(
        config, listing_path=config.listing_path if adapter.listing else None,
        queues_path=QUEUES if shown and shown.queues else None,
        dead_letters_path=DEAD_LETTERS if shown and shown.dead_letters else None)


def _fail(title: str) -> tuple[int, bytes]:
    return 502, json.dumps({"title": title}).encode()


def queues(t: Translator) -> tuple[int, bytes]:
    spec = t.adapter.evidence.queues if t.adapter.evidence else None
    if spec is None:
        return 404, b'{"title":"the adapter names no [evidence.queues]"}'
    r = t.client.get(spec.path, headers=t.headers)
    if r.status_code != 200:
        return _fail(f"{spec.path} answered {r.status_code}")
    document = r.json()
    depths: dict[str, dict[str, int]] = {}
    for name, pointers in spec.depth.items():
        depth = {}
        for key, pointer in pointers.items():
            value = pointer_get(document, pointer)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                return _fail(f"{spec.path}: {pointer} ({name} {key}) is not a count: {value!r}")
            depth[key] = value
        depths[name] = {"dlq": 0, **depth}
    return 200, json.dumps({"queues": depths}).encode()


def dead_letters(t: Translator) -> tuple[int, bytes]:
    spec = t.adapter.evidence.dead_letters if t.adapter.evidence else None
    if spec is None:
        return 404, b'{"title":"the adapter names no [evidence.dead_letters]"}'
    r = t.client.get(spec.path, headers=t.headers)
    if r.status_code != 200:
        return _fail(f"{spec.path} answered {r.status_code}")
    items = pointer_get(r.json(), spec.items)
    if not isinstance(items, list):
        return _fail(f"{spec.path}: {spec.items} is not an array")
    letters: list[dict[str, Any]] = []
    for n, item in enumerate(items):
        key = pointer_get(item, spec.id)
        queue = pointer_get(item, spec.queue) if spec.queue else None
        letters.append({
            "queue": str(queue or "dead-letters"), "message_id": str(n),
            "body": json.dumps(item, ensure_ascii=False),
            "reason": pointer_get(item, spec.reason),
            "wish_id": t.ours(str(key)) if key is not None else None,
        })
    return 200, json.dumps({"dead_letters": letters}, ensure_ascii=False).encode()

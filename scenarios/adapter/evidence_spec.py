"""The adapter file's ``[evidence]`` part: where a team's queues and dead letters can be read.

Without it a run through an adapter cannot judge ``drained`` nor ``dlq-explained`` (the
team's HTTP API shows data, not its queues) and the verdict is unproven. Two ways to say
where they are, either or both:

- over HTTP, from the team's own admin routes (read with the adapter's headers)::

    [evidence.queues]
    path = "/admin/queues"               # GET: one JSON document
    [evidence.queues.depth.inbox]        # one table per queue, any name
    visible = "/inbox/ready"             # JSON pointers: messages waiting (the backlog)
    in_flight = "/inbox/working"         # taken by a worker, not finished
    dlq = "/inbox/dead"                  # optional: how many were dead-lettered

    [evidence.dead_letters]
    path = "/admin/dead-letters"
    items = "/letters"                   # the array of dead letters
    id = "/ref"                          # the wish's id in one (ours, or the team's own)
    reason = "/why"                      # why it was dead-lettered
    queue = "/queue"                     # optional

- on AWS, through boto3 (region, endpoint and credentials come from the environment and
  ``--aws-endpoint``, never from this file)::

    [evidence.aws]
    table = "team-notes"                 # the DynamoDB table
    id = "ref"                           # the attribute holding the wish's id
    ids = "ours"                         # "ours" (our wish id) or "theirs" (the team's id)
    [evidence.aws.attributes]            # our field -> their attribute
    evacuee = "author"
    destination = "planet"
    message = "body"
    [[evidence.aws.queues]]
    name = "intake"
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/intake"
    dead_letter_url = "https://sqs.eu-west-1.amazonaws.com/123456789012/intake-dlq"

Validated with the rest of the file (:func:`parse_evidence` reports into the adapter's own
validator), so every problem is ``file:line: key: problem``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

TOP = "evidence"
WISH_FIELDS = ("evacuee", "destination", "message")
DEPTH_KEYS = ("visible", "in_flight", "dlq")
KNOWN: dict[str, set[str]] = {
    "evidence": {"queues", "dead_letters", "aws"},
    "evidence.queues": {"path", "depth"},
    "evidence.dead_letters": {"path", "items", "id", "reason", "queue"},
    "evidence.aws": {"table", "id", "ids", "attributes", "queues"},
    "evidence.aws.attributes": set(WISH_FIELDS),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "evidence.queues": ("path", "depth"),
    "evidence.dead_letters": ("path", "items", "id", "reason"),
    "evidence.aws": ("table", "id", "attributes"),
    "evidence.aws.attributes": WISH_FIELDS,
}
SECRET_WORDS = ("secret", "access_key", "password", "token", "credential", "session")
#: The adapter-part interface (``TOP_LEVEL``, ``SECTIONS``, :func:`parse`): this part checks
#: its own sections (queue tables have any name), so it adds none to the generic check.
TOP_LEVEL = {TOP}
SECTIONS: dict[str, set[str] | None] = {}


class Reporter(Protocol):
    """The adapter file's validator (:mod:`.spec`): where problems are collected."""

    def table(self, data: Mapping[str, Any], name: str) -> dict[str, Any] | None: ...

    def pointer(self, table: str, key: str, value: Any) -> None: ...

    def add(self, table: str, key: str, problem: str) -> None: ...


@dataclass(frozen=True)
class QueueEvidence:
    """The team's queue depths over HTTP: one document, pointers per queue."""

    path: str
    depth: Mapping[str, Mapping[str, str]]  # queue -> {visible|in_flight|dlq: pointer}


@dataclass(frozen=True)
class DeadLetterEvidence:
    """The team's dead letters over HTTP: one document, an array, pointers into each."""

    path: str
    items: str
    id: str
    reason: str
    queue: str | None = None


@dataclass(frozen=True)
class AwsQueue:
    name: str
    url: str
    dead_letter_url: str | None = None


@dataclass(frozen=True)
class AwsEvidence:
    """The team's DynamoDB table and SQS queues, read by the ``aws`` evidence source."""

    table: str
    id: str
    attributes: Mapping[str, str]
    ids: str = "ours"
    queues: tuple[AwsQueue, ...] = ()


@dataclass(frozen=True)
class EvidenceSpec:
    queues: QueueEvidence | None = None
    dead_letters: DeadLetterEvidence | None = None
    aws: AwsEvidence | None = None

    def describe(self) -> dict[str, Any]:
        """What run.json records (names and paths; the file holds no secret)."""
        aws = self.aws
        return {"queues": self.queues.path if self.queues else None,
                "dead_letters": self.dead_letters.path if self.dead_letters else None,
                "aws": {"table": aws.table, "queues": [q.name for q in aws.queues]}
                if aws else None}


def parse_evidence(data: Mapping[str, Any], v: Reporter) -> EvidenceSpec | None:
    """The ``[evidence]`` part of an adapter file, every problem reported into ``v``."""
    if v.table(data, TOP) is None:
        return None
    for table, known in KNOWN.items():
        section = v.table(data, table)
        if section is None:
            continue
        for key in REQUIRED.get(table, ()):
            if key not in section:
                v.add(table, key, "is required")
        for key in sorted(set(section) - known):
            if any(word in key.lower() for word in SECRET_WORDS):
                v.add(table, key, "credentials come from the environment only (AWS's own "
                      "variables or profile), never from the adapter file")
            else:
                v.add(table, key, f"unknown key (known: {', '.join(sorted(known))})")
    return EvidenceSpec(queues=_queues(data, v), dead_letters=_dead_letters(data, v),
                        aws=_aws(data, v))


def parse(data: Mapping[str, Any], v: Reporter) -> dict[str, Any]:
    """``{"evidence": EvidenceSpec | None}`` for the Adapter; problems go to ``v``."""
    return {"evidence": parse_evidence(data, v)}


def _path(v: Reporter, table: str, value: Any) -> bool:
    if isinstance(value, str) and value.startswith("/"):
        return True
    if value is not None:
        v.add(table, "path", f"must be a path starting with '/', got {value!r}")
    return False


def _queues(data: Mapping[str, Any], v: Reporter) -> QueueEvidence | None:
    section = v.table(data, "evidence.queues")
    if section is None:
        return None
    ok = _path(v, "evidence.queues", section.get("path"))
    depth = v.table(data, "evidence.queues.depth")
    if depth is not None and not depth:
        v.add("evidence.queues", "depth", "names no queue: add [evidence.queues.depth.NAME]")
    parsed: dict[str, dict[str, str]] = {}
    for name in depth or {}:
        table = f"evidence.queues.depth.{name}"
        pointers = v.table(data, table)
        if pointers is None:
            continue
        for key in sorted(set(pointers) - set(DEPTH_KEYS)):
            v.add(table, key, f"unknown key (known: {', '.join(DEPTH_KEYS)})")
        for key in ("visible", "in_flight"):
            if key not in pointers:
                v.add(table, key, "is required")
        for key, value in pointers.items():
            if key in DEPTH_KEYS:
                v.pointer(table, key, value)
        parsed[name] = {k: p for k, p in pointers.items() if k in DEPTH_KEYS}
    if not ok or not parsed:
        return None
    return QueueEvidence(section["path"], parsed)


def _dead_letters(data: Mapping[str, Any], v: Reporter) -> DeadLetterEvidence | None:
    section = v.table(data, "evidence.dead_letters")
    if section is None:
        return None
    ok = _path(v, "evidence.dead_letters", section.get("path"))
    for key in ("items", "id", "reason", "queue"):
        if key in section:
            v.pointer("evidence.dead_letters", key, section[key])
    if not ok or not all(isinstance(section.get(k), str) for k in ("items", "id", "reason")):
        return None
    return DeadLetterEvidence(section["path"], section["items"], section["id"],
                              section["reason"], section.get("queue"))


def _aws(data: Mapping[str, Any], v: Reporter) -> AwsEvidence | None:
    section = v.table(data, "evidence.aws")
    if section is None:
        return None
    where = "evidence.aws"
    for key in ("table", "id"):
        value = section.get(key)
        if value is not None and not (isinstance(value, str) and value.strip()):
            v.add(where, key, f"must be a non-empty name, got {value!r}")
    if section.get("ids", "ours") not in ("ours", "theirs"):
        v.add(where, "ids", f"must be \"ours\" (our wish id) or \"theirs\" (the team's own "
              f"id), got {section['ids']!r}")
    attributes = v.table(data, "evidence.aws.attributes") or {}
    for key, value in attributes.items():
        if not (isinstance(value, str) and value):
            v.add("evidence.aws.attributes", key, f"must be the attribute's name, got {value!r}")
    queues = section.get("queues", [])
    parsed: list[AwsQueue] = []
    if not (isinstance(queues, list) and all(isinstance(q, dict) for q in queues)):
        v.add(where, "queues", "must be [[evidence.aws.queues]] tables (name, url, "
              "dead_letter_url)")
        queues = []
    for n, queue in enumerate(queues, 1):
        table = "evidence.aws.queues"
        for key in sorted(set(queue) - {"name", "url", "dead_letter_url"}):
            v.add(table, key, f"queue {n}: unknown key (known: dead_letter_url, name, url)")
        for key in ("name", "url"):
            if key not in queue:
                v.add(table, key, f"queue {n}: is required")
        for key in ("url", "dead_letter_url"):
            if key in queue and not _is_url(queue[key]):
                v.add(table, key, f"queue {n}: must be the queue's http(s) URL, "
                      f"got {queue[key]!r}")
        if not (isinstance(queue.get("name"), str) and queue["name"]):
            continue
        parsed.append(AwsQueue(queue["name"], str(queue.get("url", "")),
                               queue.get("dead_letter_url")))
    names = [q.name for q in parsed]
    if len(set(names)) != len(names):
        v.add(where, "queues", f"queue names must be unique, got {names}")
    if not all(isinstance(section.get(k), str) for k in ("table", "id")) or \
            set(attributes) != set(WISH_FIELDS):
        return None
    return AwsEvidence(section["table"], section["id"], dict(attributes),
                       section.get("ids", "ours"), tuple(parsed))


def _is_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)

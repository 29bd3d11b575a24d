"""The adapter file: a team's submit, lookup, tally, listing and pages, as data.

One TOML file maps Exodus's wish (``wish_id``, ``evacuee``, ``destination``, ``message``)
onto a team's own API (README "Audit your own pipeline"). It is validated completely before
anything is sent, and every problem names the file, the line, the key and what is wrong --
the scenario file's standard. Credentials never live in the file: a header value
``"env:NAME"`` is read from the environment when the run starts, and a missing variable is
an error naming it.

Example (the test suite's foreign pipeline uses exactly this shape)::

    [submit]
    path = "/v1/notes"          # POST; JSON ("format = 'form'" for a form post)
    accepted = [201]            # the statuses that mean "accepted" (the ledger's 202)
    id_field = "ref"            # optional: the body field that carries our wish id
    id_pointer = "/note/id"     # optional: where the answer holds the team's own id
    [submit.fields]             # our field -> theirs
    evacuee = "author"
    destination = "planet"
    message = "body"
    [submit.destinations]       # our destination -> their value
    mars = "MARS"
    jupiter = "EUROPA"
    [submit.headers]
    X-Api-Key = "env:TEAM_API_KEY"
    [lookup]
    path = "/v1/notes/{id}"     # {id}: the team's id when id_pointer is set, else ours
    [lookup.fields]             # our field -> JSON pointer into their answer
    evacuee = "/author"
    destination = "/planet"
    message = "/body"
    [tally]
    path = "/v1/stats"
    pointer = "/per_planet"     # an object {their destination: count}
    [listing]                   # optional: every stored row, for exactly-once and phantoms
    path = "/v1/notes"
    items = "/items"            # the array of rows in one page
    next = "/next"              # the next page's cursor (absent or null: last page)
    cursor_param = "after"
    id = "/ref"                 # pointer to our wish id in a row ("/id": their id)
    [pages]
    paths = ["/board"]          # where user text is displayed

Parts with their own module (:data:`PARTS`): ``content = "exact"|"normalized"|"escaped"``
(top level; :mod:`~exodus2045.scenarios.adapter.content`), ``[limits]`` (the team's input
limits; :mod:`~exodus2045.scenarios.adapter.limits`) and ``[auth] sigv4`` (AWS SigV4 from
the environment; :mod:`~exodus2045.scenarios.adapter.auth`, which also refuses a credential
written into a header) and ``[evidence]`` (where the team's queues and dead letters can be
read; :mod:`~exodus2045.scenarios.adapter.evidence_spec`).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exodus2045.app_under_test.errors import ConfigError
from exodus2045.reports.input_limits import InputLimits
from exodus2045.scenarios.adapter import auth as auth_part
from exodus2045.scenarios.adapter import content as content_part
from exodus2045.scenarios.adapter import evidence_spec as evidence_part
from exodus2045.scenarios.adapter import limits as limits_part
from exodus2045.scenarios.adapter.evidence_spec import EvidenceSpec

WISH_FIELDS = ("evacuee", "destination", "message")
DESTINATIONS = ("mars", "jupiter")
KNOWN: dict[str, set[str]] = {
    "": {"submit", "lookup", "tally", "listing", "pages"},
    "submit": {"path", "method", "format", "accepted", "id_field", "id_pointer", "fields",
               "destinations", "headers"},
    "submit.fields": set(WISH_FIELDS),
    "submit.destinations": set(DESTINATIONS),
    "submit.headers": None,  # any header name
    "lookup": {"path", "fields"},
    "lookup.fields": set(WISH_FIELDS),
    "tally": {"path", "pointer"},
    "listing": {"path", "items", "next", "cursor_param", "id"},
    "pages": {"paths"},
}
#: Parts with their own module (key, validation, meaning): each adds its keys to KNOWN and
#: its values to the Adapter through ``parse(data, validator)``.
PARTS = (content_part, limits_part, auth_part, evidence_part)
for _part in PARTS:
    KNOWN[""] |= _part.TOP_LEVEL | set(_part.SECTIONS)
    KNOWN.update(_part.SECTIONS)
REQUIRED = {"": ("submit", "lookup", "tally"), "submit": ("path", "fields"),
            "submit.fields": WISH_FIELDS, "lookup": ("path", "fields"),
            "lookup.fields": WISH_FIELDS, "tally": ("path", "pointer"),
            "listing": ("path", "items", "id")}


class AdapterError(ConfigError):
    """The adapter file is wrong; the message names file:line, the key and the problem."""


@dataclass(frozen=True)
class Listing:
    path: str
    items: str
    id: str
    next: str | None = None
    cursor_param: str = "cursor"


@dataclass(frozen=True)
class Adapter:
    """A team's API, as the translator needs it (header values are env references)."""

    origin: str
    submit_path: str
    fields: Mapping[str, str]
    lookup_path: str
    lookup_fields: Mapping[str, str]
    tally_path: str
    tally_pointer: str
    method: str = "POST"
    format: str = "json"
    accepted: tuple[int, ...] = (200, 201, 202)
    id_field: str | None = None
    id_pointer: str | None = None
    destinations: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    listing: Listing | None = None
    pages: tuple[str, ...] = ()
    evidence: EvidenceSpec | None = None  # where its queues and dead letters can be read
    content: str = "exact"  # how stored text is compared (scenarios/adapter/content.py)
    limits: InputLimits | None = None  # the team's [limits]; None: Exodus's assumed
    auth: auth_part.SigV4 | None = None  # [auth] sigv4; credentials from the environment

    def resolved_auth(self) -> Any:
        """The httpx auth that signs requests to the team (None without ``[auth]``); raises
        naming what the environment lacks."""
        return self.auth.http_auth(self.origin) if self.auth else None

    def their_destination(self, ours: str) -> str:
        return self.destinations.get(ours, ours)

    def our_destination(self, theirs: Any) -> Any:
        back = {v: k for k, v in self.destinations.items()}
        return back.get(theirs, theirs)

    def resolved_headers(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """Header values with ``env:NAME`` read from the environment (never from the file)."""
        env = os.environ if env is None else env
        out, missing = {}, []
        for name, value in self.headers.items():
            if value.startswith("env:"):
                var = value[4:]
                if var not in env:
                    missing.append(var)
                    continue
                value = env[var]
            out[name] = value
        if missing:
            raise AdapterError(f"{self.origin}: submit.headers needs the environment "
                               f"variable(s) {', '.join(missing)}")
        return out

    def describe(self) -> dict[str, Any]:
        """What run.json records: the mapping, never a header value."""
        return {"file": self.origin, "submit": f"{self.method} {self.submit_path}",
                "accepted": list(self.accepted), "fields": dict(self.fields),
                "destinations": dict(self.destinations), "headers": sorted(self.headers),
                "id": self.id_pointer and f"theirs at {self.id_pointer}" or "ours",
                "lookup": self.lookup_path, "tally": self.tally_path,
                "listing": self.listing.path if self.listing else None,
                "pages": list(self.pages), "content": self.content,
                **({"limits": self.limits.to_json()} if self.limits else {}),
                **({"auth": self.auth.describe()} if self.auth else {}),
                "evidence": self.evidence.describe() if self.evidence else None}


def load_adapter(path: Path | str) -> Adapter:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AdapterError(f"{path}: cannot read the adapter file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise AdapterError(f"{path}: not UTF-8 text ({exc.reason})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AdapterError(f"{path}: not valid TOML: {exc}") from None
    return parse_adapter(data, str(path), text)


def parse_adapter(data: Mapping[str, Any], origin: str = "<adapter>", text: str = "") -> Adapter:
    """Every problem at once, each as ``file:line: key: problem``; then the Adapter."""
    v = _Validator(origin, text)
    for table, known in KNOWN.items():
        section = v.table(data, table)
        if section is None:
            continue
        for key in REQUIRED.get(table, ()):
            if key not in section:
                v.add(table, key, "is required")
        if known is not None:
            for key in sorted(set(section) - known):
                v.add(table, key, f"unknown key (known: {', '.join(sorted(known))})")
    submit, lookup = v.table(data, "submit") or {}, v.table(data, "lookup") or {}
    tally, listing = v.table(data, "tally") or {}, v.table(data, "listing")
    for table, key in (("submit", "path"), ("lookup", "path"), ("tally", "path"),
                       ("listing", "path")):
        value = (v.table(data, table) or {}).get(key)
        if value is not None and not (isinstance(value, str) and value.startswith("/")):
            v.add(table, key, f"must be a path starting with '/', got {value!r}")
    if isinstance(lookup.get("path"), str) and "{id}" not in lookup["path"]:
        v.add("lookup", "path", "must contain {id} (where the wish's id goes)")
    for table in ("lookup.fields",):
        for key, value in (v.table(data, table) or {}).items():
            v.pointer(table, key, value)
    for table, key in (("tally", "pointer"), ("submit", "id_pointer"), ("listing", "items"),
                       ("listing", "next"), ("listing", "id")):
        section = v.table(data, table) or {}
        if key in section:
            v.pointer(table, key, section[key])
    for key, value in (v.table(data, "submit.fields") or {}).items():
        if not (isinstance(value, str) and value):
            v.add("submit.fields", key, f"must be the team's field name, got {value!r}")
    for table in ("submit.destinations", "submit.headers"):
        for key, value in (v.table(data, table) or {}).items():
            if not isinstance(value, str) or not value:
                v.add(table, key, f"must be a non-empty string, got {value!r}")
    accepted = submit.get("accepted", [200, 201, 202])
    if not (isinstance(accepted, list) and accepted and all(
            isinstance(s, int) and not isinstance(s, bool) and 200 <= s < 300 for s in accepted)):
        v.add("submit", "accepted", f"must be a list of 2xx statuses, got {accepted!r}")
    if submit.get("format", "json") not in ("json", "form"):
        v.add("submit", "format", f"must be \"json\" or \"form\", got {submit['format']!r}")
    if str(submit.get("method", "POST")).upper() not in ("POST", "PUT"):
        v.add("submit", "method", f"must be POST or PUT, got {submit['method']!r}")
    pages = (v.table(data, "pages") or {}).get("paths", [])
    if not (isinstance(pages, list) and all(isinstance(p, str) and p.startswith("/")
                                            for p in pages)):
        v.add("pages", "paths", f"must be a list of paths starting with '/', got {pages!r}")
    parts: dict[str, Any] = {}
    for part in PARTS:
        parts.update(part.parse(data, v))
    v.raise_if_any()
    return Adapter(**parts,
        origin=origin, submit_path=submit["path"], fields=dict(submit["fields"]),
        lookup_path=lookup["path"], lookup_fields=dict(lookup["fields"]),
        tally_path=tally["path"], tally_pointer=tally["pointer"],
        method=str(submit.get("method", "POST")).upper(), format=submit.get("format", "json"),
        accepted=tuple(accepted), id_field=submit.get("id_field"),
        id_pointer=submit.get("id_pointer"), destinations=dict(submit.get("destinations", {})),
        headers=dict(submit.get("headers", {})),
        listing=Listing(listing["path"], listing["items"], listing["id"], listing.get("next"),
                        listing.get("cursor_param", "cursor")) if listing else None,
        pages=tuple(pages))


class _Validator:
    def __init__(self, origin: str, text: str) -> None:
        self.origin, self.lines, self.found = origin, text.splitlines(), []

    def table(self, data: Mapping[str, Any], name: str) -> dict[str, Any] | None:
        node: Any = data
        for part in filter(None, name.split(".")):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None and not isinstance(node, dict):
            self.add(name.rpartition(".")[0], name.rpartition(".")[2], "must be a table")
            return None
        return node

    def pointer(self, table: str, key: str, value: Any) -> None:
        if not (isinstance(value, str) and (value == "" or value.startswith("/"))):
            self.add(table, key, f"must be a JSON pointer like \"/field\", got {value!r}")

    def add(self, table: str, key: str, problem: str) -> None:
        name = ".".join(filter(None, (table, key))) or "top level"
        line = self._line_of(table, key)
        where = f"{self.origin}:{line}" if line else self.origin
        self.found.append(f"{where}: {name}: {problem}")

    def raise_if_any(self) -> None:
        if self.found:
            raise AdapterError("\n".join(self.found))

    def _line_of(self, table: str, key: str) -> int | None:
        """The line that sets ``key`` in ``[table]`` (or the table's header line)."""
        current = ""
        header_line = None
        for number, raw in enumerate(self.lines, 1):
            line = raw.split("#")[0].strip()
            if line.startswith("["):
                current = line.strip("[] ")
                if current == table:
                    header_line = number
                continue
            if current == table and key and re.match(
                    rf"(\"{re.escape(key)}\"|{re.escape(key)})\s*=", line):
                return number
        if header_line is None and "." in table:  # an inline table: the line that sets it
            parent, _, name = table.rpartition(".")
            return self._line_of(parent, name)
        return header_line


def pointer_get(document: Any, pointer: str) -> Any:
    """RFC 6901, enough of it: ``/a/0/b``; ``None`` when the path is absent."""
    if pointer == "":
        return document
    node = document
    for part in pointer[1:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node

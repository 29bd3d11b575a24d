"""Reading a submitted wish off the wire: size limits, content types, decoding.

Everything here turns hostile bytes into either a plain ``dict`` for
:func:`exodus2045.app_under_test.wish.validate_submission` or a :class:`Problem` naming what was
wrong, so the route never sees a RecursionError, a UnicodeDecodeError or a 20 MB body.
The size limit is enforced twice: on the declared Content-Length (answer before reading)
and on the bytes actually streamed (a chunked body declares nothing), and reading stops
as soon as the limit is passed.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Generator, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Receive

from exodus2045.app_under_test.frontend.problems import Problem
from exodus2045.app_under_test.runkey import RunKeys

JSON = "json"
FORM = "form"
#: The ``no-validation`` flaw skips our limit but not this one: no server reads forever.
HARD_BODY_MAX_BYTES = 1024 * 1024
RUN_ID_MAX = 100
BODY_READ_S = 10.0  # the server's own receive bound (serve.py) is the same; this one holds
                    # under any ASGI server
_FORM_FIELDS_MAX = 16
#: ``json.dumps(..., ensure_ascii=False)`` without building an encoder for every wish.
_QUEUED_JSON = json.JSONEncoder(ensure_ascii=False)
_string = json.encoder.encode_basestring  # type: ignore[attr-defined]  # how it spells a str


def content_kind(content_type: str | None, *, lenient: bool = False) -> str:
    """``json`` or ``form`` from a Content-Type header; 415 for anything else.

    ``lenient`` (the ``no-validation`` flaw) treats every unknown type as JSON-or-text.
    """
    if content_type == "application/json":  # what nearly every wish sends
        return JSON
    media, _, params = (content_type or "").partition(";")
    media = media.strip().lower()
    charset = ""
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    if charset not in ("", "utf-8", "utf8") and not lenient:
        raise Problem(415, "unsupported-media-type", f"charset {charset[:40]!r} is not UTF-8",
                      field="content-type")
    if media == "application/x-www-form-urlencoded":
        return FORM
    if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
        return JSON
    if lenient:
        return JSON
    shown = media[:60] or "none"
    raise Problem(415, "unsupported-media-type",
                  f"content type {shown!r} is not supported; send application/json or a form",
                  field="content-type")


def declared_length(value: str | None, limit: int) -> int | None:
    """Check Content-Length before reading a byte: 400 if unreadable, 413 if too big."""
    if value is None:
        return None
    if not value.strip().isdigit():
        raise Problem(400, "bad-request", "Content-Length is not a number", field="content-length")
    length = int(value)
    if length > limit:
        raise too_large(limit)
    return length


def too_large(limit: int) -> Problem:
    return Problem(413, "body-too-large", f"the body is larger than {limit} bytes", field="body")


async def read_limited(receive: Receive, limit: int, deadline_s: float = BODY_READ_S) -> bytes:
    """Collect the request body, giving up (413) as soon as it passes ``limit`` bytes, and
    (408) when it has not all arrived within ``deadline_s`` -- whatever server runs us.

    Reads ASGI messages directly: Starlette's ``stream()`` generator costs more than the
    body of a typical wish takes to parse. A wish's body has nearly always arrived with its
    headers, so the first ``receive()`` is run up to its first wait before any timer is
    set: a whole body that was already there is read without one (setting and cancelling a
    timer costs more than decoding the wish); anything that has to wait, waits under the deadline.
    """
    waiting = receive().__await__()
    try:
        blocked_on = waiting.send(None)
    except StopIteration as arrived:  # the first message was already here
        first = arrived.value
        if first.get("type") == "http.request" and not first.get("more_body", False):
            return _whole(first, limit)
        pending: Any = first
    else:
        pending = _Resume(waiting, blocked_on)
    try:
        async with asyncio.timeout(deadline_s):  # one timer handle; an anyio scope costs more
            return await _read(receive, limit, pending)
    except TimeoutError:
        raise Problem(408, "request-timeout", f"the body did not arrive within {deadline_s:g} s",
                      field="body") from None


def _whole(message: Mapping[str, Any], limit: int) -> bytes:
    """The body of a request that came in one message."""
    body = message.get("body", b"")
    if len(body) > limit:
        raise too_large(limit)
    return body


async def _read(receive: Receive, limit: int, first: Any) -> bytes:
    """``first``: the first message, or a :class:`_Resume` of the receive that waits for it."""
    parts: list[bytes] = []
    total = 0
    while True:
        if first is None:
            message = await receive()
        else:
            message = await first if isinstance(first, _Resume) else first
            first = None
        if message["type"] != "http.request":  # http.disconnect: nobody will read an answer
            raise Problem(400, "client-disconnected", "the client went away", field="body")
        chunk = message.get("body", b"")
        if chunk:
            total += len(chunk)
            if total > limit:
                raise too_large(limit)
            parts.append(chunk)
        if not message.get("more_body", False):
            break
    return parts[0] if len(parts) == 1 else b"".join(parts)


class _Resume:
    """Awaits the rest of an await that already ran up to its first wait: ``waiting`` (an
    ``__await__`` iterator) yielded ``blocked_on``. Exactly ``yield from`` from there on,
    so a cancellation (the deadline's) reaches the receive that is waiting."""

    def __init__(self, waiting: Generator[Any, Any, Any], blocked_on: Any) -> None:
        self.waiting, self.blocked_on = waiting, blocked_on

    def __await__(self) -> Generator[Any, Any, Any]:
        waiting, to_yield = self.waiting, self.blocked_on
        while True:
            try:
                sent = yield to_yield
            except GeneratorExit:
                waiting.close()
                raise
            except BaseException as exc:  # handed on, as ``yield from`` does
                try:
                    to_yield = waiting.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    to_yield = waiting.send(sent)
                except StopIteration as done:
                    return done.value


def decode_json(raw: bytes) -> Any:
    """Strict UTF-8, then JSON; 400 naming ``body`` for anything that is not JSON text."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(400, "invalid-encoding", f"the body is not UTF-8 (byte {exc.start})",
                      field="body") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise Problem(400, "invalid-json", f"the body is not JSON: {exc.msg} at {exc.pos}",
                      field="body") from None
    except RecursionError:
        raise Problem(400, "invalid-json", "the body nests too deeply", field="body") from None
    except ValueError as exc:  # e.g. an integer literal past int()'s 4,300-digit limit
        raise Problem(400, "invalid-json", f"the body is not JSON we accept: {exc}",
                      field="body") from None


def decode_form(raw: bytes) -> dict[str, str]:
    """A urlencoded form; every field once, every value UTF-8."""
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, encoding="utf-8",
                          errors="strict", max_num_fields=_FORM_FIELDS_MAX)
    except UnicodeDecodeError:
        raise Problem(400, "invalid-encoding", "the form is not UTF-8", field="body") from None
    except ValueError:
        raise Problem(400, "bad-request", "the form has too many fields", field="body") from None
    data: dict[str, str] = {}
    for name, value in pairs:
        if name in data:
            raise Problem(422, "invalid-wish", "is given more than once", field=name)
        data[name] = value
    return data


def decode_lenient(raw: bytes, kind: str) -> Any:
    """The ``no-validation`` flaw: whatever arrived becomes a wish, text if nothing else."""
    text = raw.decode("utf-8", "replace")
    if kind == FORM:
        return dict(parse_qsl(text, keep_blank_values=True))
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


#: The request headers the submit route looks at (ASGI header names are lower-case).
WANTED_HEADERS = frozenset(
    {b"content-type", b"content-length", b"accept", b"user-agent", b"x-exodus-run",
     b"x-exodus-sig", b"authorization", b"traceparent"}
)


def wanted_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """One pass over the raw ASGI headers, keeping the few the submit route reads."""
    return {name.decode("latin-1"): value.decode("latin-1")
            for name, value in raw if name in WANTED_HEADERS}


def run_scope(
    headers: Mapping[str, str], raw: bytes, keys: RunKeys
) -> tuple[str | None, str]:
    """``(run_id, source)``: a swarm request whose run-key signature verifies, or the audience.

    ``X-Exodus-Run`` alone proves nothing (anyone can send it); only a signature made with the
    run's key does (:mod:`exodus2045.app_under_test.runkey`).
    """
    run = headers.get("x-exodus-run")
    if run and len(run) <= RUN_ID_MAX and keys.verified(run, headers.get("x-exodus-sig"), raw):
        return run, "swarm"
    return None, "audience"


def claims_swarm(headers: Mapping[str, str]) -> bool:
    """Whether a request carries a run signature worth checking once its body is read."""
    return bool(headers.get("x-exodus-run")) and bool(headers.get("x-exodus-sig"))


def queued_body(
    clean: Mapping[str, Any], run_id: str | None, source: str, accepted_at: float
) -> str:
    """The message the parser consumes (``exodus2045.app_under_test.parser.parse_body``).

    ``json.dumps(..., ensure_ascii=False)`` of the fields below, spelled out for the usual
    types (strings, a finite float) because the encoder's per-call set-up is most of the
    cost; anything else goes through the encoder itself.
    """
    wish_id, evacuee, destination, message = (
        clean["wish_id"], clean["evacuee"], clean["destination"], clean["message"])
    if (type(wish_id) is type(evacuee) is type(destination) is type(message) is type(source)
            is str and (run_id is None or type(run_id) is str)
            and type(accepted_at) is float and math.isfinite(accepted_at)):
        run = "null" if run_id is None else _string(run_id)
        return (f'{{"wish_id": {_string(wish_id)}, "run_id": {run}, "source": {_string(source)},'
                f' "evacuee": {_string(evacuee)}, "destination": {_string(destination)},'
                f' "message": {_string(message)}, "accepted_at": {float.__repr__(accepted_at)}}}')
    return _QUEUED_JSON.encode(
        {
            "wish_id": wish_id,
            "run_id": run_id,
            "source": source,
            "evacuee": evacuee,
            "destination": destination,
            "message": message,
            "accepted_at": accepted_at,
        }
    )

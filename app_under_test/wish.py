"""The wish: its fields, limits, normalisation and markup flag.

One module owns the contract so the frontend (which rejects with a 4xx naming the field),
the parser (which dead-letters what slipped past) and the audit (which recomputes what the
stored text must be) cannot disagree.

Markup policy (docs/architecture.md "Markup policy"): stored text is what was sent after Unicode NFC and
removal of control characters. Markup is kept as literal text, never stripped; ``markup`` is
True when nh3 says the text contains HTML. Every output escapes for its own context.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import uuid
from collections.abc import Mapping
from typing import Any

import nh3

from exodus2045.app_under_test.errors import InvalidWish

DESTINATIONS = ("mars", "jupiter")
EVACUEE_MAX = 100
MESSAGE_MAX = 2000
BODY_MAX_BYTES = 16 * 1024
FIELDS = ("wish_id", "evacuee", "destination", "message")
_FIELD_SET = frozenset(FIELDS)

# Unicode category Cc is exactly U+0000-001F and U+007F-009F; newline and tab stay.
_DROP_CONTROLS = {cp: None for cp in [*range(0x20), *range(0x7F, 0xA0)] if chr(cp) not in "\n\t"}


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: ``json.dumps(..., ensure_ascii=False)`` without building an encoder per call; a string
#: alone is spelled by the function that encoder uses for strings.
_CANON = json.JSONEncoder(ensure_ascii=False)
_string = json.encoder.encode_basestring  # type: ignore[attr-defined]


def normalise_text(text: str, *, nfc: bool = True) -> str:
    """NFC, then drop control characters (category Cc) except newline and tab.

    Lone surrogates (JSON can smuggle ``"\\ud800"``) cannot be stored as UTF-8; callers
    validate with :func:`clean_text`, which rejects them. ``nfc=False`` is the ``skip-nfc``
    flaw: the text keeps whatever composition it was sent in.
    """
    if text.isascii() and text.isprintable():  # already NFC, no control character: as is
        return text
    return (unicodedata.normalize("NFC", text) if nfc else text).translate(_DROP_CONTROLS)


def clean_text(field: str, value: Any, maximum: int, *, nfc: bool = True) -> str:
    if not isinstance(value, str):
        raise InvalidWish(field, f"must be a string, got {type(value).__name__}")
    if not value.isascii():  # ASCII holds no surrogate
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidWish(field, "is not valid Unicode (lone surrogate)") from None
    text = normalise_text(value, nfc=nfc)
    if field == "evacuee":
        text = text.strip()
    if not text.strip():
        raise InvalidWish(field, "must not be empty")
    if len(text) > maximum:
        raise InvalidWish(field, f"is {len(text)} characters; at most {maximum} allowed")
    return text


def clean_wish_id(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidWish("wish_id", f"must be a UUID string, got {type(value).__name__}")
    if len(value) > 64:
        raise InvalidWish("wish_id", "is not a UUID")
    if _CANONICAL_UUID.fullmatch(value):  # what str(uuid.UUID(value)) would give back
        return value
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidWish("wish_id", "is not a UUID") from None


def clean_destination(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidWish("destination", f"must be a string, got {type(value).__name__}")
    dest = value.strip().lower()
    if dest not in DESTINATIONS:
        raise InvalidWish("destination", "must be 'mars' or 'jupiter'")
    return dest


def validate_submission(data: Any, *, strict: bool = True, nfc: bool = True) -> dict[str, Any]:
    """Check a submitted wish and return its clean fields (``wish_id`` minted if absent).

    ``strict=False`` is the ``no-validation`` flaw: anything goes, coerced to text.
    ``nfc=False`` is the ``skip-nfc`` flaw: the message is not NFC-normalised.
    """
    if not strict:
        return _unvalidated(data)
    if not isinstance(data, Mapping):
        raise InvalidWish("body", f"must be a JSON object, got {type(data).__name__}")
    if not _FIELD_SET.issuperset(data):
        unknown = sorted(k for k in data if k not in FIELDS)
        raise InvalidWish(str(unknown[0])[:40], "is not a known field")
    for name in ("evacuee", "destination", "message"):
        if name not in data:
            raise InvalidWish(name, "is required")
    raw_id = data.get("wish_id")
    wish_id = str(uuid.uuid4()) if raw_id in (None, "") else clean_wish_id(raw_id)
    return {
        "wish_id": wish_id,
        "evacuee": clean_text("evacuee", data["evacuee"], EVACUEE_MAX),
        "destination": clean_destination(data["destination"]),
        "message": clean_text("message", data["message"], MESSAGE_MAX, nfc=nfc),
    }


def _unvalidated(data: Any) -> dict[str, Any]:
    data = data if isinstance(data, Mapping) else {"message": data}

    def text(v: Any) -> str:
        s = v if isinstance(v, str) else json.dumps(v)
        return s.encode("utf-8", "replace").decode("utf-8")

    raw_id = data.get("wish_id")
    return {
        "wish_id": text(raw_id) if raw_id else str(uuid.uuid4()),
        "evacuee": text(data.get("evacuee", "")),
        "destination": text(data.get("destination", "")).lower(),
        "message": text(data.get("message", "")),
    }


def content_digest(wish: Mapping[str, Any]) -> str:
    """What makes two submissions with the same wish_id "the same wish" (idempotency)."""
    evacuee, destination, message = wish["evacuee"], wish["destination"], wish["message"]
    if type(evacuee) is type(destination) is type(message) is str:  # as validated: the same
        canon = f"[{_string(evacuee)}, {_string(destination)}, {_string(message)}]"  # text,
    else:  # spelled without an encoder per call
        canon = _CANON.encode([evacuee, destination, message])
    return hashlib.sha256(canon.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def has_markup(text: str) -> bool:
    """True when the text contains HTML (tags or entities), by nh3's parser."""
    return bool(nh3.is_html(text))

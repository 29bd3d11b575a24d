"""The run key: how a swarm request proves it is the swarm (docs/architecture.md "Scope of a run").

Every run gets a fresh secret key shared by the swarm and the frontend only. Each swarm request
carries ``X-Exodus-Run: <run id>`` and ``X-Exodus-Sig: <wish id>:<hex>`` where ``<hex>`` is
``HMAC-SHA256(key, run_id|wish_id|sha256(body))``. The wish id is named in the header (not
parsed from the body) so a deliberately broken body -- an infiltrator's -- verifies as well
as a good one; the body digest binds the rest. Anything that does not verify is an audience
wish: a phone cannot join a run, skip its limits, or forge its verdict.

A read (the runner's own evidence: lookups, the tally, the pages, the presenter's run
listing) is signed the same way with the request line in the wish id's place and an empty
body: ``X-Exodus-Sig: read:<hex>``, ``<hex>`` being ``HMAC-SHA256(key, run_id|METHOD
target|sha256(b""))`` where ``target`` is the path and query exactly as sent. The frontend
recomputes it from the request it got, so a signature opens that one read of that run only;
a signed read skips the public per-client read limit and is answered from the store, not
from the shared snapshot the public sees.

Keys of a local stack live in ``<state-dir>/run-keys/<run id>.key`` (0600, hex), written by
whoever starts the run (the runner, or the presenter's console) or by the presenter-token
admin route for a frontend whose state dir the runner cannot reach. They are never written
to a run folder.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

RUN_HEADER = "X-Exodus-Run"
SIG_HEADER = "X-Exodus-Sig"
ENV_RUN_KEY = "EXODUS_RUN_KEY"  # how the runner hands a key to its own Locust process
KEY_DIR = "run-keys"
KEY_BYTES = 32
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_HEX_KEY = re.compile(r"[0-9a-f]{32,128}")
_CACHE_MAX = 1024


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def valid_run_id(run_id: str) -> bool:
    """A run id that is safe as a file name (and short): the only ones that can have a key."""
    return _RUN_ID.fullmatch(run_id) is not None


def parse_key(text: str) -> bytes | None:
    """A key from its hex form (as stored and as sent to the admin route); None if malformed."""
    text = text.strip().lower()
    return bytes.fromhex(text) if _HEX_KEY.fullmatch(text) and len(text) % 2 == 0 else None


def signature(key: bytes, run_id: str, wish_id: str, body: bytes) -> str:
    """The ``X-Exodus-Sig`` value for one request."""
    message = b"%s|%s|%s" % (run_id.encode(), wish_id.encode(), hashlib.sha256(body).digest())
    return f"{wish_id}:{hmac.new(key, message, hashlib.sha256).hexdigest()}"


READ_LABEL = "read"


def read_signature(key: bytes, run_id: str, method: str, target: str) -> str:
    """The ``X-Exodus-Sig`` value of a read: ``method`` and ``target`` (path?query as sent)
    take the wish id's place, the body is empty."""
    _, _, mac = signature(key, run_id, f"{method.upper()} {target}", b"").rpartition(":")
    return f"{READ_LABEL}:{mac}"


def verify_read(key: bytes, run_id: str, header: str, method: str, target: str) -> bool:
    """Whether ``header`` signs this read (``method`` + ``target``) for ``run_id``."""
    expected = read_signature(key, run_id, method, target)
    return hmac.compare_digest(expected.encode(), header.encode("utf-8", "replace"))


def verify(key: bytes, run_id: str, header: str, body: bytes) -> bool:
    """Whether ``header`` is the signature of ``body`` for ``run_id`` under ``key``."""
    wish_id, sep, _ = header.rpartition(":")
    if not sep:
        return False
    expected = signature(key, run_id, wish_id, body)
    return hmac.compare_digest(expected.encode(), header.encode())


class RunKeys:
    """The keys a frontend knows: files in ``<state-dir>/run-keys``, cached in memory.

    A miss is remembered until the key folder changes (a new key is an atomic rename, which
    changes the folder's mtime), so a stream of invented run ids costs one ``stat`` of the
    folder each, a key registered after a miss is seen at once, and the cache is bounded.
    """

    def __init__(self, state_dir: Path | None) -> None:
        self.folder = None if state_dir is None else Path(state_dir) / KEY_DIR
        self._known: dict[str, bytes] = {}
        self._missing: dict[str, float] = {}

    def lookup(self, run_id: str) -> bytes | None:
        key = self._known.get(run_id)
        if key is not None or self.folder is None or not valid_run_id(run_id):
            return key
        stamp = self._folder_stamp()
        if self._missing.get(run_id) == stamp:
            return None
        try:
            key = parse_key((self.folder / f"{run_id}.key").read_text(encoding="ascii"))
        except (OSError, UnicodeDecodeError):
            key = None
        if key is None:
            if len(self._missing) >= _CACHE_MAX:
                self._missing.clear()
            self._missing[run_id] = stamp
            return None
        if len(self._known) >= _CACHE_MAX:
            self._known.clear()
        self._known[run_id] = key
        return key

    def _folder_stamp(self) -> int:
        try:
            return os.stat(self.folder).st_mtime_ns if self.folder is not None else 0
        except OSError:
            return 0

    def verified(self, run_id: str | None, header: str | None, body: bytes) -> bool:
        if not run_id or not header:
            return False
        key = self.lookup(run_id)
        return key is not None and verify(key, run_id, header, body)

    def verified_read(self, run_id: str | None, header: str | None, method: str,
                      target: str) -> bool:
        if not run_id or not header or not header.startswith(READ_LABEL + ":"):
            return False
        key = self.lookup(run_id)
        return key is not None and verify_read(key, run_id, header, method, target)

    def register(self, run_id: str, key: bytes) -> None:
        """Remember ``key`` for ``run_id`` (written 0600 when there is a state dir)."""
        if not valid_run_id(run_id):
            raise ValueError(f"run id {run_id[:40]!r} is not 1-100 letters, digits, . _ -")
        self._known[run_id] = key
        self._missing.pop(run_id, None)
        if self.folder is not None:
            write_key(self.folder.parent, run_id, key)


def write_key(state_dir: Path, run_id: str, key: bytes) -> Path:
    """Write a run's key into a state dir, readable by its owner only, atomically."""
    if not valid_run_id(run_id):
        raise ValueError(f"run id {run_id[:40]!r} is not 1-100 letters, digits, . _ -")
    folder = Path(state_dir) / KEY_DIR
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / f"{run_id}.key"
    tmp = folder / f".{run_id}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key.hex())
    os.replace(tmp, path)
    return path

"""Is the target there at all? One request before a run sends anything.

A target that is down, refuses, speaks something other than HTTP, fails its TLS handshake or
does not resolve is not an unsound pipeline: the run could not happen. The runner (and
``exodus adapter check``) asks :func:`probe` first and turns a failure into exit 2 with one
line naming the URL and the error (docs/architecture.md "Verdict": 2 is "could not run"),
rather than a traceback, or a verdict judged over a ledger of connection errors.
"""

from __future__ import annotations

import ssl

import httpx

from exodus2045.scenarios.evidence.protocol import EvidenceError

__all__ = ["TargetUnreachable", "probe"]


class TargetUnreachable(EvidenceError):
    """The target did not answer HTTP at all (connection, TLS, DNS or protocol failure)."""


def _why(exc: BaseException) -> str:
    """The root cause in a few words: the innermost exception's message, not httpx's chain."""
    cause: BaseException = exc
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
    if isinstance(cause, ssl.SSLError):
        return f"TLS handshake failed ({cause.reason or cause})"
    text = str(cause) or str(exc) or type(cause).__name__
    kind = {httpx.ConnectError: "cannot connect", httpx.ConnectTimeout: "connect timed out",
            httpx.ReadTimeout: "no answer in time", httpx.ReadError: "connection dropped",
            httpx.RemoteProtocolError: "not HTTP",
            httpx.UnsupportedProtocol: "not an http(s) URL",
            httpx.InvalidURL: "not a valid URL"}.get(type(exc), type(exc).__name__)
    return f"{kind}: {text}"


def probe(url: str, path: str = "/", timeout_s: float = 5.0) -> int:
    """The HTTP status ``url + path`` answers (any status: the target is there), or raise
    :class:`TargetUnreachable` naming the URL and the cause in one line."""
    base = url.rstrip("/")
    try:
        with httpx.Client(base_url=base, timeout=timeout_s) as client:
            return client.get(path).status_code
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        raise TargetUnreachable(f"target {url} could not be reached: {_why(exc)}") from None

"""How an evacuee puts a wish on the wire: geventhttpclient's ``HTTPClient``, reported to Locust.

Locust's ``FastHttpSession.request`` wraps the same ``HTTPClient.request`` in layers an
evacuee never uses: a user agent with a cookie jar, URL parsing per request, redirect and
status-code handling that turns a 4xx into an exception, a response wrapper copied into a
context manager, and a dict of request metadata. Measured (``exodus bench swarm``), those
layers cost more than all of the evacuee's own bookkeeping (planning, signing, judging,
ledgering). So an evacuee holds one ``HTTPClient`` of its own (one request in flight at a
time, as a Locust user has) and reports each attempt itself through Locust's public
``request`` event -- the way Locust documents for custom clients -- with the same fields and
the same exception type its ``catch_response`` path would report (``CatchResponseError``
with the judge's reason), so Locust's statistics and failure table read as before.

What the wire sees is byte for byte what ``FastHttpSession`` sends for the same headers and
body (tests/test_swarm_sender.py compares them): request line, the caller's headers in
order, then ``Host`` and ``Content-Length``. Stale keep-alive connections are retried inside
``HTTPClient.request`` itself, exactly as under Locust (whose own retries are off: its
``FastHttpUser.max_retries`` is 0). Everything here is public API of geventhttpclient and
Locust; nothing depends on their internals.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import unquote, urlsplit

import gevent
from geventhttpclient import HTTPClient
from geventhttpclient.response import HTTPParseError, HTTPSocketPoolResponse

#: What ends an attempt as a connection error (status 0): what Locust's FastHttpSession
#: treats as one (socket and SSL errors, timeouts, a connection closed or a reply that is
#: not HTTP). ``OSError`` covers ``ConnectionError``, ``socket.timeout`` and ``ssl.SSLError``.
FAILURES: tuple[type[BaseException], ...] = (OSError, gevent.Timeout, HTTPParseError)


class WishSender:
    """One Locust user's connection to the pipeline: POST a body, get ``(status, response,
    length)``.

    ``host`` is Locust's ``--host``, a path prefix and credentials included: requests go to
    ``host + path`` exactly as ``FastHttpSession`` builds the URL (credentials in the URL become
    a Basic ``Authorization`` header, as there).
    """

    def __init__(
        self, host: str, path: str, *, connection_timeout: float, network_timeout: float,
        insecure: bool = True,
    ) -> None:  # fmt: skip
        parts = urlsplit(host)
        #: Basic credentials from the URL, added after the caller's headers (where Locust
        #: puts them); None for the usual host without any.
        self.authorization: str | None = None
        if parts.username and parts.password:
            token = f"{unquote(parts.username)}:{unquote(parts.password)}".encode("latin-1")
            self.authorization = "Basic " + base64.b64encode(token).decode("ascii")
            host = host.replace(parts.netloc, parts.netloc.rpartition("@")[2], 1)
        self.url = f"{host}{path}"  # what Locust's statistics and listeners get as ``url``
        self.target = urlsplit(self.url).path or "/"
        self.client = HTTPClient.from_url(
            host, concurrency=1, connection_timeout=connection_timeout,
            network_timeout=network_timeout, insecure=insecure,
        )  # fmt: skip

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any, int]:
        """Send one POST; ``(status, response, body length)``, status 0 on a connection error.

        ``headers`` must be this request's own dict (the URL's credentials go into it).

        The whole answer is read (so its connection can carry the next request), and its
        length is what Locust reports: as received (Locust's session reports a compressed
        answer's decoded length; the pipeline's answers are not compressed). A body that
        breaks off after the status line leaves the status to decide, as it did under
        Locust's ``catch_response``; the connection is then closed, never reused.
        """
        if self.authorization is not None:
            headers["Authorization"] = self.authorization
        try:
            response: HTTPSocketPoolResponse = self.client.request(
                "POST", self.target, body=body, headers=headers
            )
        except FAILURES:
            return 0, None, 0
        try:
            length = len(response.read())
        except FAILURES:
            length = 0
        finally:
            response.release()
        return response.status_code, response, length

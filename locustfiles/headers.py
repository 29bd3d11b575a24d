"""The headers an evacuee sends: immutable templates, copied fresh into every request.

Rule: no mutable object handed to a dependency's send path outlives the request it was made
for, unless that dependency promises not to touch it. Locust 2.47 with geventhttpclient 2.6
breaks the assumption the opposite way would need: on a connection error Locust builds a
stand-in request from the caller's own headers dict, and geventhttpclient, finding no
lower-case ``content-type`` in a plain dict keyed ``Content-Type``, writes
``content-type: application/octet-stream`` into it. One dict shared by every request of a
kind then says octet-stream for the rest of the run, and a sound frontend answers 415 to
valid wishes (tests/test_swarm_poisoning.py pins both the hazard and this rule).

So the per-run cache keeps :class:`types.MappingProxyType` templates -- read-only, so a
dependency writing into one fails loudly instead of poisoning later requests -- and
:func:`fresh` makes the small dict each request hands over. A seven-key copy costs
about 100 ns; measured against the whole request it is noise.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from exodus2045.app_under_test.runkey import SIG_HEADER, signature

#: What Locust's session adds when a request has none; set here so both ends agree.
ACCEPT_ENCODING = "gzip, deflate, br"

Template = Mapping[str, str]


def request_headers(content_type: str, user_agent: str, run_id: str) -> Template:
    """The read-only template for one (content type, user agent) of one run."""
    return MappingProxyType(
        {
            "Content-Type": content_type,
            "User-Agent": user_agent,
            "Accept": "application/json",
            "X-Exodus-Run": run_id,
            "Accept-Encoding": ACCEPT_ENCODING,
        }
    )


def signed_headers(template: Template, key: bytes, run_id: str, wish_id: str,
                   raw: bytes | str, traceparent: str | None = None) -> Template:
    """One request's read-only headers: the template plus its run-key signature (and the
    W3C ``traceparent`` that starts the wish's trace, when given), made once per wish.

    Without a signature the frontend treats the request as the audience's (rate-limited,
    not the run's): ``X-Exodus-Run`` alone proves nothing.
    """
    body = raw.encode() if isinstance(raw, str) else raw
    headers = {**template, SIG_HEADER: signature(key, run_id, wish_id, body)}
    if traceparent is not None:
        headers["traceparent"] = traceparent
    return MappingProxyType(headers)


def fresh(template: Template) -> dict[str, str]:
    """A new dict for one request: whatever the send path does to it dies with the request.

    A read-only template copies its underlying dict (``MappingProxyType.copy``, a plain dict
    copy: several times cheaper than ``dict(template)``, which goes key by key).
    """
    if type(template) is MappingProxyType:
        return template.copy()
    return dict(template)

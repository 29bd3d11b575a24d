"""Credentials for a team's API: from the environment only, never from the adapter file.

Two kinds (docs/architecture.md "Adapter: credentials"):

- header tokens: ``[submit.headers]`` values written ``"env:NAME"`` are read from the
  environment when the run starts (:meth:`Adapter.resolved_headers`); a header whose name
  says it carries a credential (``Authorization``, ``X-Api-Key``, a ``token``, ``secret``,
  ``key``, ``cookie``...) with a literal value is refused with file:line;
- AWS SigV4, for an IAM-protected API (API Gateway)::

      [auth]
      sigv4 = { service = "execute-api", region = "eu-west-1" }

  Every request the translator sends to the team (submit, lookup, tally, listing, pages) is
  signed with botocore's ``SigV4Auth``; the credentials come from botocore's standard chain
  (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``, ``AWS_PROFILE``
  and the shared files, a container or instance role). An access key written in the file
  is refused with file:line. No credential is ever recorded: run.json names the service and
  region only, and the translator logs nothing.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from exodus2045.app_under_test.errors import ConfigError

TOP_LEVEL: set[str] = set()
SECTIONS: dict[str, set[str] | None] = {"auth": None, "auth.sigv4": None}  # checked below
SIGV4_KEYS = ("service", "region")
#: A header name that carries a credential: its value must come from the environment.
SECRET_HEADER = re.compile(r"authorization|cookie|token|secret|key|password|session|signature",
                           re.IGNORECASE)
#: A key that would put a credential into the file.
SECRET_KEY = re.compile(r"access|secret|token|password|credential|key", re.IGNORECASE)
FROM_ENV = ("credentials come from the environment only (AWS_ACCESS_KEY_ID, "
            "AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN or AWS_PROFILE): remove it from the file")


class MissingCredentials(ConfigError):
    """The adapter needs credentials the environment does not have."""


@dataclass(frozen=True)
class SigV4:
    service: str
    region: str

    def describe(self) -> dict[str, str]:
        return {"sigv4": f"{self.service} in {self.region} (credentials from the environment)"}

    def http_auth(self, origin: str) -> httpx.Auth:
        """An httpx auth that signs each request; raises :class:`MissingCredentials` when the
        standard AWS chain finds none."""
        import botocore.session

        credentials = botocore.session.Session().get_credentials()
        if credentials is None:
            raise MissingCredentials(
                f"{origin}: [auth] sigv4 needs AWS credentials and the environment has none "
                "(set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)")
        return SigV4Signer(credentials, self.service, self.region)


class SigV4Signer(httpx.Auth):
    """Signs host, content type and date (what a proxy leaves alone) and the body's hash."""

    requires_request_body = True

    def __init__(self, credentials: Any, service: str, region: str) -> None:
        self.credentials, self.service, self.region = credentials, service, region

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        signed = {"host": request.headers["host"]}
        if "content-type" in request.headers:
            signed["content-type"] = request.headers["content-type"]
        aws = AWSRequest(method=request.method, url=str(request.url), data=request.content,
                         headers=signed)
        SigV4Auth(self.credentials.get_frozen_credentials(), self.service,
                  self.region).add_auth(aws)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            if name in aws.headers:
                request.headers[name] = aws.headers[name]
        yield request


def parse(data: Mapping[str, Any], v: Any) -> dict[str, Any]:
    """``{"auth": SigV4}`` when ``[auth]`` asks for it; every credential literal (in ``[auth]``
    or ``[submit.headers]``) is refused through the validator ``v``."""
    for name, value in (v.table(data, "submit.headers") or {}).items():
        if SECRET_HEADER.search(name) and isinstance(value, str) and value \
                and not value.startswith("env:"):
            v.add("submit.headers", name, "credentials come from the environment only: "
                  "write \"env:VARIABLE\"")
    section = v.table(data, "auth")
    if section is None:
        return {}
    for key in sorted(set(section) - {"sigv4"}):
        v.add("auth", key, FROM_ENV if SECRET_KEY.search(key) else "unknown key (known: sigv4)")
    sigv4 = v.table(data, "auth.sigv4")
    if sigv4 is None:
        return {}
    ok = True
    for key in sorted(set(sigv4) - set(SIGV4_KEYS)):
        v.add("auth.sigv4", key, FROM_ENV if SECRET_KEY.search(key)
              else f"unknown key (known: {', '.join(SIGV4_KEYS)})")
        ok = False
    for key in SIGV4_KEYS:
        value = sigv4.get(key)
        if not (isinstance(value, str) and re.fullmatch(r"[a-z0-9-]+", value)):
            v.add("auth.sigv4", key, f"must be a name like \"execute-api\" or \"eu-west-1\", "
                  f"got {value!r}")
            ok = False
    return {"auth": SigV4(sigv4["service"], sigv4["region"])} if ok else {}


class CredentialsRefused(ConfigError):
    """The target answered 401 or 403 to a read made with the adapter's credentials."""


def preflight(adapter: Any, target: str, timeout_s: float = 10.0) -> None:
    """Read the tally once, as the run will: a 401 or 403 is "could not run" (one line),
    not a run whose every request is refused and reported as the team's defect."""
    with httpx.Client(base_url=target.rstrip("/"), timeout=timeout_s,
                      auth=adapter.resolved_auth()) as client:
        try:
            status = client.get(adapter.tally_path, headers=adapter.resolved_headers()).status_code
        except httpx.HTTPError:
            return  # reachability is the probe's to report; the run will say what failed
    if status in (401, 403):
        given = ("[auth] sigv4" if adapter.auth else None,
                 "[submit.headers]" if adapter.headers else None)
        given_text = " and ".join(g for g in given if g) or "no credentials"
        raise CredentialsRefused(f"target {target} refused the adapter's credentials "
                                 f"({given_text}): GET {adapter.tally_path} -> {status}")

"""boto3 clients for the aws backend: built once per process from one frozen config.

Nothing here runs at import: a process (a Lambda container, a poller, a test) calls
:func:`make_clients` once and hands the clients to the queue and store, which never build
their own. boto3's low-level clients are thread-safe, so one pair serves every thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from exodus2045.app_under_test.settings import AwsConfig


@dataclass(frozen=True)
class AwsClients:
    sqs: Any
    dynamodb: Any


def botocore_config(config: AwsConfig, max_pool_connections: int = 16) -> Any:
    from botocore.config import Config

    return Config(
        # total attempts, first one included (as AWS_MAX_ATTEMPTS counts them)
        retries={"mode": config.retry_mode, "total_max_attempts": config.max_attempts},
        connect_timeout=config.connect_timeout_s,
        read_timeout=config.read_timeout_s,
        max_pool_connections=max_pool_connections,
    )


def make_session(config: AwsConfig, **credentials: str) -> Any:
    """A boto3 session for ``config`` (credentials from AWS's usual chain unless given)."""
    import boto3

    return boto3.session.Session(
        region_name=config.region, profile_name=config.profile, **credentials
    )


def make_clients(config: AwsConfig, session: Any = None) -> AwsClients:
    """SQS and DynamoDB clients with the config's endpoint, region, retries and timeouts."""
    session = session or make_session(config)
    cfg = botocore_config(config)
    return AwsClients(
        sqs=session.client("sqs", endpoint_url=config.endpoint_url, config=cfg),
        dynamodb=session.client("dynamodb", endpoint_url=config.endpoint_url, config=cfg),
    )

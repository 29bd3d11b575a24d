"""The aws backend's settings: one frozen config from AWS's own names plus ``EXODUS_AWS_*``."""

from __future__ import annotations

import pytest

from exodus2045.app_under_test.backends.aws.clients import make_clients
from exodus2045.app_under_test.errors import ConfigError
from exodus2045.app_under_test.settings import ALL_ENV, AwsConfig, AwsResources


def test_from_env_reads_aws_names_and_ours():
    config = AwsConfig.from_env({
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_DEFAULT_REGION": "eu-west-1",
        "EXODUS_AWS_RETRY_MODE": "adaptive", "EXODUS_AWS_MAX_ATTEMPTS": "7",
        "EXODUS_AWS_CONNECT_TIMEOUT": "1.5", "EXODUS_AWS_READ_TIMEOUT": "30",
    })
    assert config == AwsConfig(endpoint_url="http://127.0.0.1:4566", region="eu-west-1",
                               retry_mode="adaptive", max_attempts=7, connect_timeout_s=1.5,
                               read_timeout_s=30.0)
    assert AwsConfig.from_env({"AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "x"}).region \
        == "us-west-2"


def test_flag_overrides_environment():
    config = AwsConfig.from_env({"AWS_ENDPOINT_URL": "http://127.0.0.1:1"},
                                endpoint_url="http://127.0.0.1:2")
    assert config.endpoint_url == "http://127.0.0.1:2"


@pytest.mark.parametrize(("env", "named"), [
    ({"EXODUS_AWS_RETRY_MODE": "eager"}, "EXODUS_AWS_RETRY_MODE"),
    ({"EXODUS_AWS_MAX_ATTEMPTS": "0"}, "EXODUS_AWS_MAX_ATTEMPTS"),
    ({"AWS_ENDPOINT_URL": "127.0.0.1:4566"}, "AWS_ENDPOINT_URL"),
])
def test_bad_values_name_the_setting(env, named):
    with pytest.raises(ConfigError, match=named):
        AwsConfig.from_env(env)


def test_resources_need_every_name_and_round_trip():
    with pytest.raises(ConfigError, match="EXODUS_TABLE"):
        AwsResources.from_env({"EXODUS_WISHES_QUEUE_URL": "u"})
    res = AwsResources("w", "wd", "p", "pd", "t")
    assert AwsResources.from_env(res.as_env()) == res
    assert set(res.as_env()) <= set(ALL_ENV)


def test_clients_carry_endpoint_region_retries_and_timeouts():
    import boto3

    config = AwsConfig(endpoint_url="http://127.0.0.1:4566", region="eu-central-1",
                       retry_mode="standard", max_attempts=4, connect_timeout_s=2.0,
                       read_timeout_s=21.0)
    session = boto3.session.Session(region_name=config.region, aws_access_key_id="t",
                                    aws_secret_access_key="t")
    clients = make_clients(config, session)
    for client in (clients.sqs, clients.dynamodb):
        assert client.meta.endpoint_url == "http://127.0.0.1:4566"
        assert client.meta.region_name == "eu-central-1"
        assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 4}
        assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (2.0, 21.0)

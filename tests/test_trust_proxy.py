"""``X-Forwarded-For`` is believed only from a proxy ``--trust-proxy`` names.

uvicorn's default believes it from 127.0.0.1; behind a TCP tunnel every phone is loopback,
so rotating the header once defeated the per-client limit (6 of 6 accepted).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from exodus2045.app_under_test.errors import ConfigError
from exodus2045.app_under_test.settings import trust_proxy
from tests.frontend_fixtures import config_for, running_frontend, wish


def _rotating(fe, n: int = 6) -> list[int]:
    return [fe.client.post("/api/wishes", json=wish(i),
                           headers={"X-Forwarded-For": f"203.0.113.{i + 1}"}).status_code
            for i in range(n)]


def test_a_rotating_forwarded_for_from_a_loopback_peer_is_not_believed(tmp_path: Path) -> None:
    config = config_for(tmp_path / "state", rate_limit_per_s=0.01)
    with running_frontend(config, trust_proxy=config.trust_proxy) as fe:
        statuses = _rotating(fe)
    assert statuses.count(202) == 1 and statuses.count(429) == 5, statuses


def test_a_named_proxy_is_believed(tmp_path: Path) -> None:
    config = config_for(tmp_path / "state", rate_limit_per_s=0.01,
                        trust_proxy=trust_proxy("127.0.0.1"))
    with running_frontend(config, trust_proxy=config.trust_proxy) as fe:
        statuses = _rotating(fe)
        again = fe.client.post("/api/wishes", json=wish(9),
                               headers={"X-Forwarded-For": "203.0.113.1"})
    assert statuses == [202] * 6, "each forwarded address is its own client"
    assert again.status_code == 429, "and is limited as one"


def test_trust_proxy_takes_addresses_and_networks_only() -> None:
    assert trust_proxy(None) is None and trust_proxy(" ") is None
    assert trust_proxy("127.0.0.1, 10.0.0.0/8") == "127.0.0.1,10.0.0.0/8"
    with pytest.raises(ConfigError, match="EXODUS_TRUST_PROXY"):
        trust_proxy("*")

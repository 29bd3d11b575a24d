"""deploy/k8s/: the master Job, worker Deployment and scenario ConfigMap validate offline.

Schemas come with ``kubernetes-validate`` (no cluster); beyond the schemas, the scenario in
the ConfigMap must load, and the commands the pods run must parse with today's CLI.
"""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from exodus2045.scenarios.cli import build_parser
from exodus2045.scenarios.scenario import load_scenario

K8S = Path(__file__).resolve().parent.parent / "deploy" / "k8s"
VERSION = "1.30.0"


def _documents() -> list[dict]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def _by_kind() -> dict[str, dict]:
    return {doc["kind"]: doc for doc in _documents()}


def test_every_manifest_validates_against_the_kubernetes_schemas():
    docs = _documents()
    assert {d["kind"] for d in docs} >= {"Job", "Deployment", "ConfigMap", "Service",
                                         "NetworkPolicy", "PersistentVolumeClaim"}
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']} {doc['metadata']['name']}: {exc.message} at "
                        f"{'/'.join(map(str, exc.path))}")


def test_a_broken_manifest_is_caught():
    """The guard for the test above: an unknown field fails strict validation."""
    job = _by_kind()["Job"]
    broken = {**job, "spec": {**job["spec"], "replicas": 3}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSION, strict=True)


def test_the_configmap_scenario_loads(tmp_path):
    data = _by_kind()["ConfigMap"]["data"]
    path = tmp_path / "scenario.toml"
    path.write_text(data["scenario.toml"])
    scenario = load_scenario(str(path))
    assert scenario.name == "k8s-smoke" and scenario.load.evacuees > 0
    assert data["target"].startswith("http")


def _args(doc: dict) -> list[str]:
    container = doc["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["exodus"]
    return [a.replace("$(POD_IP)", "10.0.0.7").replace("$(EXODUS_TARGET)", "http://x:1")
             .replace("$(RUN_NAME)", "r") for a in container["args"]]


def test_the_pods_run_commands_the_cli_accepts_and_agree_on_the_master():
    kinds = _by_kind()
    parser = build_parser()
    master = parser.parse_args(_args(kinds["Job"]))
    worker = parser.parse_args(_args(kinds["Deployment"]))
    assert master.scenario == "/scenario/scenario.toml" and master.master_bind_host == "10.0.0.7"
    replicas = kinds["Deployment"]["spec"]["replicas"]
    assert master.expect_workers == replicas
    service = kinds["Service"]
    assert worker.master == f"{service['metadata']['name']}:{master.master_bind_port}"
    assert service["spec"]["ports"][0]["port"] == master.master_bind_port
    for kind in ("Job", "Deployment"):
        env = {e["name"]: e for e in
               kinds[kind]["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert "secretKeyRef" in env["EXODUS_JOIN_TOKEN"]["valueFrom"]  # never a literal

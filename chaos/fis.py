"""A scenario's fault plan as an AWS FIS experiment template (``exodus chaos export-fis``).

FIS can do to Lambda functions what our ``latency`` and ``error`` faults do to a handler's
calls, at the granularity of the invocation: ``aws:lambda:invocation-add-delay`` (a delay
before the handler starts) and ``aws:lambda:invocation-error`` (the invocation fails, the
handler does not run, the batch is redelivered -- what an error on ``store.put`` or
``queue.send`` leads to). The action's description says which call it stands in for. Timing is
kept with ``aws:fis:wait`` actions: each fault starts after a wait of its ``at``. A step's
``probability`` becomes ``invocationPercentage``.

What FIS cannot express is an error naming it (never a silently different experiment):

- a fault on ``queue.receive``: on AWS the event source mapping receives, not the function;
- ``throttle``: FIS cannot throttle SQS or DynamoDB APIs at all (its
  ``aws:fis:inject-api-*`` actions cover EC2 and Kinesis only);
- ``kill`` (on AWS: reserved concurrency 0), ``pause`` (event source mapping disabled),
  ``visibility``, ``poison``, ``crash-after-store``, ``throttle``: no FIS action does these;
- anything aimed at the ``frontend`` (it runs wherever the team hosts it, not in the stack);
- one instance (``parser:0``: Lambda has no instances to name) and ``every`` (a template
  has no repeat; unroll the steps).

The Lambda actions need FIS's Lambda extension layer on each function, an S3 location for
its configuration, and a role FIS can assume: README "On AWS" says how.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from exodus2045.app_under_test.errors import ConfigError
from exodus2045.chaos.step import ChaosStep
from exodus2045.chaos.targets import parse_target

FIS_ACTIONS = {"latency": "aws:lambda:invocation-add-delay",
               "error": "aws:lambda:invocation-error"}
FUNCTION_KINDS = ("parser", "pod-worker")
ROLE_PLACEHOLDER = "arn:aws:iam::ACCOUNT:role/REPLACE-with-a-role-FIS-can-assume"
WHY_NOT = {
    "kill": "on AWS it is reserved concurrency 0, which no FIS action sets",
    "pause": "on AWS it is the event source mapping disabled, which no FIS action does",
    "throttle": "FIS cannot throttle SQS, DynamoDB or Lambda APIs (inject-api-* is EC2/Kinesis)",
    "visibility": "FIS has no action that changes an SQS queue's visibility timeout",
    "poison": "FIS cannot put messages into an SQS queue",
    "crash-after-store": "FIS cannot crash a handler between two of its calls",
}


class FisError(ConfigError):
    """A step FIS cannot express; the message names the step, the fault and why."""


@dataclass(frozen=True)
class FisStack:
    """What the template needs from the deployed stack (its outputs, its account)."""

    name: str
    function_arns: Mapping[str, str]  # "parser" / "pod-worker" -> the function's ARN


def _iso(seconds: float) -> str:
    """FIS durations are ISO 8601 (PT20S), whole seconds, at least one."""
    return f"PT{max(1, round(seconds))}S"


def _refuse(n: int, step: ChaosStep, why: str) -> FisError:
    return FisError(f"chaos[{n}] {step.fault} on {step.target}: FIS cannot express it: {why}")


def _action(n: int, step: ChaosStep) -> tuple[str, dict[str, Any]]:
    if step.fault not in FIS_ACTIONS:
        raise _refuse(n, step, WHY_NOT.get(step.fault, "no FIS action does it"))
    target = parse_target(step.target)
    if target.kind not in FUNCTION_KINDS:
        raise _refuse(n, step, f"the {target.kind} is not a Lambda function of the stack")
    if target.operation == "queue.receive":
        raise _refuse(n, step, "on AWS the event source mapping receives, not the function")
    if target.index is not None:
        raise _refuse(n, step, "Lambda has no instances to name; target the function")
    if step.every_s is not None:
        raise _refuse(n, step, "a template has no repeat ('every'); unroll the steps")
    if step.duration_s is None:
        raise _refuse(n, step, "FIS actions need a duration")
    params = {"duration": _iso(step.duration_s),
              "invocationPercentage": str(max(1, round(step.probability * 100)))}
    if step.fault == "latency":
        params["startupDelayMilliseconds"] = str(round(float(step.params["ms"])))
    else:
        params["preventExecution"] = "true"
    return target.kind, {
        "actionId": FIS_ACTIONS[step.fault], "parameters": params,
        "targets": {"Functions": target.kind},
        "description": f"{step.fault} on {step.target}, at the invocation"[:512]}


def fis_template(steps: Sequence[ChaosStep], stack: FisStack, *, scenario: str,
                 role_arn: str | None = None) -> dict[str, Any]:
    """The CreateExperimentTemplate request for ``steps`` on ``stack`` (FisError if any
    step cannot be expressed: every such step is named, not just the first)."""
    if not steps:
        raise FisError(f"scenario {scenario} has no [[chaos]] steps to export")
    problems, actions, used = [], {}, set()
    for n, step in enumerate(steps):
        try:
            kind, action = _action(n, step)
        except FisError as exc:
            problems.append(str(exc))
            continue
        used.add(kind)
        name = f"{n:02d}-{step.fault}-{kind}"
        if step.at_s >= 1:
            actions[f"{n:02d}-wait"] = {"actionId": "aws:fis:wait",
                                        "parameters": {"duration": _iso(step.at_s)}}
            action["startAfter"] = [f"{n:02d}-wait"]
        actions[name] = action
    if problems:
        raise FisError("; ".join(problems))
    missing = [k for k in sorted(used) if k not in stack.function_arns]
    if missing:
        raise FisError(f"stack {stack.name} has no function for {', '.join(missing)}")
    return {
        "description": f"Exodus 2045 scenario {scenario} on stack {stack.name}"[:512],
        "targets": {kind: {"resourceType": "aws:lambda:function",
                           "resourceArns": [stack.function_arns[kind]],
                           "selectionMode": "ALL"} for kind in sorted(used)},
        "actions": actions,
        "stopConditions": [{"source": "none"}],
        "roleArn": role_arn or ROLE_PLACEHOLDER,
        "tags": {"exodus:stack": stack.name, "exodus:scenario": scenario},
    }

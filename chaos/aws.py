"""The same fault names on a deployed AWS stack, touching only resources tagged as its own.

How each fault is done on AWS (the local stack does them to processes and SQLite files):

- ``kill`` parser|pod-worker *with a duration*: the function's reserved concurrency set to 0
  for that long (the event source mapping can invoke nothing; messages wait in the queue),
  then put back as it was. A kill without a duration has no AWS meaning (there is no
  container to SIGKILL that Lambda would not replace at once): a note says so.
- ``pause``: the function's event source mapping disabled, enabled again at ``off``.
- ``visibility``: the consumed queue's ``VisibilityTimeout`` set to ``seconds`` (SQS takes
  whole seconds, so it is rounded up), put back at ``off``.
- ``poison``: the same poison bodies as locally, sent straight into the consumed queue.
- ``throttle``/``error``/``latency`` on ``queue.send`` or ``store.put``: an entry on the
  stack's fault board (the SSM parameter the template makes, chaos/ssm_board.py), which the
  functions -- deployed with chaos's entry, chaos/lambda_entry.py -- read at most once a
  second and act on at the port, as locally; removed at ``off``. On ``queue.receive`` and
  ``queue.delete`` they cannot work: on AWS the event source mapping receives and deletes.
- ``crash-after-store``: not built for AWS (nothing in a function sits between its store and
  the mapping's delete); a timeline note says so, never a silent no-op.

Before touching anything, the resource's tags must say ``exodus:stack = <the stack>``: a
stack's outputs could name something else, and chaos never touches what is not the stack's.

Measured on the pinned local AWS (ministack 1.5.x): reserved concurrency 0 is honoured (its
event source mapping stops invoking, messages stay visible; a direct Invoke answers
TooManyRequestsException) and a disabled mapping stops delivery; both resume within a few
seconds of being undone.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from exodus2045.app_under_test.errors import ExodusError
from exodus2045.app_under_test.settings import AwsConfig
from exodus2045.chaos import faults
from exodus2045.chaos.faults.base import Fault
from exodus2045.chaos.faults.poison import poison_body
from exodus2045.chaos.step import ChaosStep
from exodus2045.chaos.switch import Activation, line_params
from exodus2045.chaos.targets import parse_target
from exodus2045.chaos.timeline import Timeline

TAG = "exodus:stack"
NOT_ON_AWS = ("crash-after-store",)
ON_THE_BOARD = ("throttle", "error", "latency")
MAPPING_OPERATIONS = ("queue.receive", "queue.delete")


class AwsChaosError(ExodusError):
    """A fault cannot be done on this stack (not its resource, no such kind, no AWS way)."""


@dataclass(frozen=True)
class StackTargets:
    """What faults may touch, from the stack's outputs (per component kind)."""

    stack: str
    functions: Mapping[str, str]  # kind -> function name
    mappings: Mapping[str, str]  # kind -> event source mapping UUID
    queues: Mapping[str, str]  # kind -> URL of the queue it consumes
    fault_parameter: str | None = None  # the SSM parameter the functions read faults from

    @classmethod
    def from_outputs(cls, stack: str, outputs: Mapping[str, str]) -> StackTargets:
        return cls(stack,
                   functions={"parser": outputs["ParserFunctionName"],
                              "pod-worker": outputs["PodWorkerFunctionName"]},
                   mappings={"parser": outputs["ParserMappingId"],
                             "pod-worker": outputs["PodWorkerMappingId"]},
                   queues={"parser": outputs["WishesQueueUrl"],
                           "pod-worker": outputs["ParsedQueueUrl"]},
                   fault_parameter=outputs.get("FaultParameterName"))


class AwsChaos:
    """Applies faults to one stack through Lambda and SQS clients (injected)."""

    def __init__(self, targets: StackTargets, lam: Any, sqs: Any, ssm: Any = None) -> None:
        self.targets = targets
        self.lam = lam
        self.sqs = sqs
        self.ssm = ssm

    @classmethod
    def build(cls, config: AwsConfig, stack: str, outputs: Mapping[str, str]) -> AwsChaos:
        from exodus2045.app_under_test.backends.aws.clients import botocore_config, make_session

        session = make_session(config)
        cfg = botocore_config(config)
        return cls(StackTargets.from_outputs(stack, outputs),
                   session.client("lambda", endpoint_url=config.endpoint_url, config=cfg),
                   session.client("sqs", endpoint_url=config.endpoint_url, config=cfg),
                   session.client("ssm", endpoint_url=config.endpoint_url, config=cfg))

    # -- the switch the schedule calls -------------------------------------------------------
    def switch_on(self, step: ChaosStep, timeline: Timeline, seed: int,
                  dice: random.Random | None = None) -> Activation | None:
        """Turn ``step`` on now (None: the dice said no). AwsChaosError if it cannot be done."""
        fault = faults.get(step.fault)
        params = fault.resolve_params(step.params)
        recorded = line_params(step, params)
        if fault.name in NOT_ON_AWS:
            raise AwsChaosError(f"{fault.name} is not built for AWS (nothing in a function "
                                "sits between its store and the mapping's delete)")
        if fault.name in ON_THE_BOARD:
            return self._on_the_board(fault, step, params, recorded, timeline, seed)
        roll = (dice or random.Random(seed)).random() if step.probability < 1.0 else 0.0
        if roll >= step.probability:
            timeline.write("note", fault.name, step.target,
                           {**recorded, "skipped": f"dice {roll:.3f} >= {step.probability:g}"})
            return None
        target = parse_target(step.target)
        if target.index is not None:
            raise AwsChaosError(f"{step.target}: Lambda has no instances to name")
        if target.kind not in self.targets.functions:
            raise AwsChaosError(f"the {target.kind} is not part of stack {self.targets.stack}")
        apply = getattr(self, f"_{fault.name.replace('-', '_')}", None)
        if apply is None:
            raise AwsChaosError(f"{fault.name} has no AWS form")
        evidence, undo = apply(target.kind, params, step, seed)
        timeline.write("on", fault.name, step.target, {**recorded, **evidence})
        activation = Activation(fault, step, timeline, recorded, undo)
        if undo is None:
            activation.off()
        return activation

    def _on_the_board(self, fault: Fault, step: ChaosStep, params: dict[str, Any],
                      recorded: dict[str, Any], timeline: Timeline, seed: int) -> Activation:
        """A port fault: an entry on the stack's fault board while on (rolled per call)."""
        from exodus2045.chaos.board import ActiveFault
        from exodus2045.chaos.ssm_board import SsmBoard

        target = parse_target(step.target)
        if target.operation in MAPPING_OPERATIONS:
            raise AwsChaosError(f"{step.target}: on AWS the event source mapping does "
                                f"{target.operation}, not the function")
        if target.kind not in self.targets.functions or target.index is not None:
            raise AwsChaosError(f"{step.target}: not one of the stack's functions")
        board = SsmBoard(self.ssm, self._own_parameter())
        until = time.time() + step.duration_s if step.duration_s is not None else None
        entry = board.add(ActiveFault.new(fault.name, step.target, step.probability, params,
                                          seed, timeline.source, until))
        timeline.write("on", fault.name, step.target,
                       {**recorded, "fault_board": board.name, "entry": entry.id})

        def undo() -> dict[str, Any]:
            board.remove(entry.id)
            return {}

        return Activation(fault, step, timeline, recorded, undo, until=until)

    # -- tags ------------------------------------------------------------------------------
    def _own_parameter(self) -> str:
        name = self.targets.fault_parameter
        if not name or self.ssm is None:
            raise AwsChaosError(f"stack {self.targets.stack} has no fault board (redeploy it "
                                "with this version of exodus deploy)")
        tags = self.ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)
        if {t["Key"]: t["Value"] for t in tags.get("TagList", [])}.get(TAG) != \
                self.targets.stack:
            raise AwsChaosError(f"parameter {name} is not tagged {TAG}={self.targets.stack}")
        return name

    def _own_function(self, kind: str) -> str:
        name = self.targets.functions[kind]
        tags = self.lam.get_function(FunctionName=name).get("Tags") or {}
        if tags.get(TAG) != self.targets.stack:
            raise AwsChaosError(f"function {name} is not tagged {TAG}={self.targets.stack}")
        return name

    def _own_queue(self, kind: str) -> str:
        url = self.targets.queues[kind]
        tags = self.sqs.list_queue_tags(QueueUrl=url).get("Tags") or {}
        if tags.get(TAG) != self.targets.stack:
            raise AwsChaosError(f"queue {url} is not tagged {TAG}={self.targets.stack}")
        return url

    # -- the faults ------------------------------------------------------------------------
    def _kill(self, kind: str, params: dict[str, Any], step: ChaosStep, seed: int):
        if step.duration_s is None:
            raise AwsChaosError("a kill without a duration has no AWS form (Lambda replaces a "
                                "container at once); give it a duration: reserved "
                                "concurrency 0 for that long")
        name = self._own_function(kind)
        before = self.lam.get_function_concurrency(FunctionName=name).get(
            "ReservedConcurrentExecutions")
        self.lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)

        def undo() -> dict[str, Any]:
            if before is None:
                self.lam.delete_function_concurrency(FunctionName=name)
            else:
                self.lam.put_function_concurrency(FunctionName=name,
                                                  ReservedConcurrentExecutions=before)
            return {"restored_concurrency": before}

        return {"function": name, "reserved_concurrency": 0, "was": before}, undo

    def _pause(self, kind: str, params: dict[str, Any], step: ChaosStep, seed: int):
        self._own_function(kind)
        uuid = self.targets.mappings[kind]
        self.lam.update_event_source_mapping(UUID=uuid, Enabled=False)

        def undo() -> dict[str, Any]:
            self.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
            return {}

        return {"event_source_mapping": uuid, "enabled": False}, undo

    def _visibility(self, kind: str, params: dict[str, Any], step: ChaosStep, seed: int):
        url = self._own_queue(kind)
        before = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]["VisibilityTimeout"]
        seconds = max(0, math.ceil(float(params["seconds"])))
        self.sqs.set_queue_attributes(QueueUrl=url,
                                      Attributes={"VisibilityTimeout": str(seconds)})

        def undo() -> dict[str, Any]:
            self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": before})
            return {"restored_visibility_s": int(before)}

        return {"queue": url, "visibility_s": seconds, "was": int(before)}, undo

    def _poison(self, kind: str, params: dict[str, Any], step: ChaosStep, seed: int):
        url = self._own_queue(kind)
        rng = random.Random(seed)
        kinds = list(params["kinds"])
        bodies = [poison_body(kinds[n % len(kinds)], n, rng) for n in range(params["count"])]
        for body in bodies:  # one by one: an oversize body alone nearly fills a batch's 1 MiB
            self.sqs.send_message(QueueUrl=url, MessageBody=body)
        return {"queue": url, "sent": len(bodies)}, None

"""The hooks the pipeline calls into, so faults reach the running components.

- :func:`instrument_poller`: the ``decorate`` hook :mod:`exodus2045.chaos.entry` gives every
  parser and pod-worker process. ``build_poller`` bound the handler to the raw ports before
  we run, so we rebuild the handler around wrapped ports (the handler code is unchanged).
- :func:`instrument_intake`: the frontend's ``wrap_intake`` hook, so ``frontend/queue.send``
  faults hit the one commit that makes a wish "accepted".

(The supervisor's ``held`` predicate is :mod:`exodus2045.chaos.hold`: the process that
supervises imports none of the components' code.)

Both read the state dir's ``faults.json`` through a cached
:class:`exodus2045.chaos.source.FileFaultSource`, so a change reaches a running process within a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from exodus2045.app_under_test import parser as parser_fn
from exodus2045.app_under_test import pod_worker as pod_worker_fn
from exodus2045.app_under_test.poller import Poller
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.chaos.injector import Injector
from exodus2045.chaos.source import FaultSource, FileFaultSource
from exodus2045.chaos.span_faults import mark_faulted_spans
from exodus2045.chaos.wrappers import ChaosIntake, ChaosQueue, ChaosStore


def injector_for(state_dir: Path, component: str, source: FaultSource | None = None) -> Injector:
    return Injector(source or FileFaultSource(StateDir(Path(state_dir)).faults_file), component)


def instrument_poller(poller: Poller, backend: Any, config: Any,
                      source: FaultSource | None = None) -> Poller:
    """Wrap the poller's queue and its handler's ports; arm crash-after-store.

    ``backend`` is a LocalBackend (``wishes``, ``parsed``, ``store``); ``config`` a
    PollerConfig (``role``, ``index``, ``state_dir``, ``flaws``).
    """
    component = f"{config.role}:{config.index}"
    injector = injector_for(config.state_dir, component, source)
    mark_faulted_spans(injector)
    if config.role == "parser":
        inbox = ChaosQueue(backend.wishes, injector)
        handler = parser_fn.make_handler(ChaosQueue(backend.parsed, injector), inbox,
                                         config.flaws)
    elif config.role == "pod-worker":
        inbox = ChaosQueue(backend.parsed, injector)
        handler = pod_worker_fn.make_handler(ChaosStore(backend.store, injector), inbox,
                                             config.flaws)
        earlier = poller.before_delete

        def before_delete(done: list) -> None:
            if earlier is not None:
                earlier(done)
            injector.crash_if_due(len(done))

        poller.before_delete = before_delete
    else:
        return poller
    poller.queue = inbox
    poller.handler = handler
    return poller


def instrument_intake(intake: Any, component_name: str, state_dir: Path,
                      source: FaultSource | None = None) -> Any:
    """The frontend's intake with ``frontend/queue.send`` faults in front of ``accept``."""
    injector = injector_for(state_dir, component_name, source)
    mark_faulted_spans(injector)
    return ChaosIntake(intake, injector)

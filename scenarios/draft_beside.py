"""The charts' draft made in a forked child while this process judges: two cores, one run.

The audit and the charts' costly part (:func:`exodus2045.reports.render.draft`: the plotted
series and the hop breakdown) read the same loaded run folder and nothing of each other, and
both are CPU-bound Python, so threads would take turns on one core. A child forked once the
folder is loaded shares it copy-on-write, drafts, sends the :class:`Draft` back through a
pipe (pickled: a few hundred points) and exits; the parent judges meanwhile. What the child
sends is what :func:`draft` returns in-process (tests/test_ahead.py renders both to the same
bytes), and the renderer checks it against the final run.json as it checks any draft.

Nothing depends on the child: if it fails, crashes or cannot be forked (no ``os.fork``), the
result is None and the runner drafts in-process, as it did before. The child writes no
file, imports nothing (every module it runs is loaded before the fork: the teardown thread
may hold an import lock at that moment, and only the forking thread exists in the child),
and leaves with ``os._exit``, so none of the parent's cleanup runs twice.
"""

from __future__ import annotations

import gc
import os
import pickle
import select
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reports load when the audit begins (before the fork), not at import
    from exodus2045.reports.render import Draft
    from exodus2045.reports.runfolder import RunData


#: How long the parent waits for the child's draft (a 65k run's takes under a second): a
#: child that hangs (a lock another thread held at the fork) is killed and the parent drafts.
CHILD_WITHIN_S = 60.0


class DraftBeside:
    """One forked draft of a run folder; :meth:`result` collects it (once)."""

    def __init__(self, within_s: float = CHILD_WITHIN_S) -> None:
        self.within_s = within_s
        self.pid: int | None = None
        self._read_fd: int | None = None
        self.child_s: float | None = None  # the child's own time to draft
        self.child_peak_rss_mb: float | None = None  # its peak resident set (copy-on-write)
        self.failed: str | None = None  # why no draft came back

    def start(self, run_dir: Path, run: RunData, ended_at: float) -> DraftBeside:
        """Fork the child that drafts ``run_dir`` as of ``ended_at`` (see :func:`draft`)."""
        if not hasattr(os, "fork"):
            self.failed = "no fork on this platform"
            return self
        from exodus2045.reports.render import draft  # here, in the parent: see the module doc

        try:
            read_fd, write_fd = os.pipe()
        except OSError as exc:
            self.failed = f"no pipe: {exc}"
            return self
        try:
            pid = os.fork()
        except OSError as exc:  # out of processes or memory: the runner drafts itself
            os.close(read_fd)
            os.close(write_fd)
            self.failed = f"no fork: {exc}"
            return self
        if pid == 0:  # the child: draft, send, leave (never return into the parent's code)
            code = 1
            try:
                gc.disable()  # short-lived: a collection would only copy the shared pages
                os.close(read_fd)
                tick = time.perf_counter()
                drafted = draft(run_dir, None, run, ended_at)
                payload = pickle.dumps((drafted, time.perf_counter() - tick),
                                       protocol=pickle.HIGHEST_PROTOCOL)
                view = memoryview(payload)
                while view:
                    view = view[os.write(write_fd, view):]
                code = 0
            finally:
                os._exit(code)
        os.close(write_fd)
        self.pid, self._read_fd = pid, read_fd
        return self

    def result(self) -> Draft | None:
        """The child's draft (waiting for it), or None if it made none."""
        if self.pid is None or self._read_fd is None:
            return None
        chunks = []
        deadline = time.monotonic() + self.within_s
        try:
            while select.select([self._read_fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                chunk = os.read(self._read_fd, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
            else:  # past the deadline: a hung child is not worth the run
                os.kill(self.pid, signal.SIGKILL)
                chunks = []
        finally:
            os.close(self._read_fd)
            self._read_fd = None
            _, status, usage = os.wait4(self.pid, 0)
            self.pid = None
        self.child_peak_rss_mb = round(usage.ru_maxrss / 1024, 1)  # KiB, as peak_rss_mb reads it
        if os.waitstatus_to_exitcode(status) != 0 or not chunks:
            self.failed = f"the drafting child exited with {os.waitstatus_to_exitcode(status)}"
            return None
        from exodus2045.reports.render import Draft

        drafted, seconds = pickle.loads(b"".join(chunks))
        self.child_s = round(seconds, 3)
        return drafted if isinstance(drafted, Draft) else None


"""The run's evidence: sources behind one protocol, collected into the run folder.

- :mod:`.protocol` -- what a source is and the answers it gives (the questions themselves
  are :mod:`exodus2045.reports.questions`);
- :mod:`.statedir`, :mod:`.aws` and :mod:`.http` -- the sources, in the order
  :func:`.collector.open_sources` asks them;
- :mod:`.collector` -- asks the sources, writes the answers and ``evidence.json``;
- :mod:`.folder` -- the normalised files answers become; :mod:`.sampler` -- metrics.jsonl.
"""

from __future__ import annotations

from exodus2045.scenarios.evidence.collector import Evidence, EvidenceConfig, open_sources
from exodus2045.scenarios.evidence.http import PAGE_PATHS, HttpSource, HttpSourceConfig
from exodus2045.scenarios.evidence.protocol import Question, Source
from exodus2045.scenarios.evidence.sampler import Sampler
from exodus2045.scenarios.evidence.statedir import StateDirSource

__all__ = [
    "PAGE_PATHS", "Evidence", "EvidenceConfig", "HttpSource", "HttpSourceConfig", "Question",
    "Sampler", "Source", "StateDirSource", "open_sources",
]

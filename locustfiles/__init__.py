"""The swarm: evacuees, infiltrators and the ledger, driven by Locust.

:data:`LOCUSTFILE` is the one locustfile's path, from a checkout or an install alike
(``exodus locustfile`` prints it): Locust loads it by path, as the module ``exodus``.
"""

from __future__ import annotations

from pathlib import Path

LOCUSTFILE = Path(__file__).resolve().parent / "exodus.py"

"""Adapters: drive and audit a team's own pipeline through Exodus's wire contract.

:mod:`~exodus2045.scenarios.adapter.spec` reads and validates the adapter file;
:mod:`~exodus2045.scenarios.adapter.translator` serves Exodus's API in front of the team's.
"""

from __future__ import annotations

from exodus2045.scenarios.adapter.spec import Adapter, AdapterError, load_adapter

__all__ = ["Adapter", "AdapterError", "load_adapter"]

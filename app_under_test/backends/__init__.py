"""Backends behind the ports: ``local`` (SQLite, the embedded default)."""

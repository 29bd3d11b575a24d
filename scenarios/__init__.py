"""Scenario files, the runner that plays them, and the ``exodus`` command line."""

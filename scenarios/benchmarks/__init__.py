"""Benchmarks: one module per benchmark, each exposing ``NAME``, ``HELP``, ``add_arguments(p)``
and ``run(args) -> dict`` (the JSON figures). ``exodus bench NAME`` prints them as a table,
or one JSON line with ``--json``. A benchmark reports; it never fails on a slow machine.
"""

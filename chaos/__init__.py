"""Faults: validated plans, one module per fault, applied on a timeline.

Entry points: :mod:`exodus2045.chaos.plan` (validate a step), :mod:`exodus2045.chaos.schedule` (a scenario's
faults in a run), :mod:`exodus2045.chaos.runtime` (hooks the pipeline calls), and ``exodus chaos``.
See ``chaos/README.md`` for the map of modules and the ``faults.json`` format.
"""

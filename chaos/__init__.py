"""Faults: validated plans, one module per fault, applied on a timeline."""

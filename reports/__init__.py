"""The audit (checks -> verdict) and the renderers of a run folder."""
